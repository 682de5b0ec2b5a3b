#include "machine/MachineDir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ntbox::machine {

namespace fs = std::filesystem;

fs::path MachineDir::Resolve(const std::string& explicitDir) {
  if (!explicitDir.empty()) return fs::absolute(explicitDir);
  if (const char* env = std::getenv("NTBOX_MACHINE"); env && *env) return fs::absolute(env);
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return fs::path(xdg) / "ntbox" / "machine";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".local" / "share" / "ntbox" / "machine";
}

Result<MachineDir> MachineDir::Open(const fs::path& root) {
  MachineDir dir(root);
  std::error_code ec;
  for (const fs::path& p : {dir.root(), dir.drive('C'), dir.drive('C') / "Windows" / "System32" / "drivers",
                            dir.crashes(), dir.certs()}) {
    fs::create_directories(p, ec);
    if (ec) return Fail("cannot create the machine directory '" + p.string() + "': " + ec.message());
  }
  return dir;
}

void MachineDir::ReserveCrashSpace() const {
  constexpr off_t kReserve = 1 << 20;  // a report with its JSON twin and last.* copies
  const int fd = ::open(crashReserve().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_blocks * 512 < kReserve && ::posix_fallocate(fd, 0, kReserve) != 0) {
    (void)::ftruncate(fd, 0);  // no room for it now; the next boot tries again
  }
  ::close(fd);
}

bool MachineDir::ReleaseCrashSpace() const {
  std::error_code ec;
  return fs::remove(crashReserve(), ec);
}

Result<void> WriteFileAtomically(const fs::path& path, std::string_view contents) {
  const fs::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail("cannot write '" + temp.string() + "': " + std::strerror(errno));
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      return Fail("cannot write '" + temp.string() + "': " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Fail("cannot write '" + temp.string() + "': " + std::strerror(errno));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return Fail("cannot replace '" + path.string() + "': " + std::strerror(errno));
  }
  return {};
}

fs::path MachineDir::Shown(const fs::path& path) const {
  if (shown_.empty()) return path;
  const fs::path relative = path.lexically_relative(root_);
  if (relative.empty() || *relative.begin() == "..") return path;
  return shown_ / relative;
}

}  // namespace ntbox::machine
