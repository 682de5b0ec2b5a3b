#include "support/InputFile.h"

#include "support/HostFiles.h"
#include "support/UniqueFd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ntbox {
namespace {

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

}  // namespace

int OpenInputFile(const std::string& path) { return ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC); }

Result<std::vector<std::uint8_t>> ReadInputFile(const std::string& path, std::uint64_t maxBytes,
                                                const std::string& what) {
  // A file the command's client handed over, or one opened here (HostFiles.h).
  auto opened = OpenHostFile(path);
  if (!opened) return std::unexpected(opened.error());
  const UniqueFd fd(*opened);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Fail(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) {
    return Fail(fmt::format("'{}' is {}, not a file: {} must be a regular file", path, KindOf(st.st_mode), what),
                0, 87);
  }
  if (static_cast<std::uint64_t>(st.st_size) > maxBytes) {
    return Fail(fmt::format("'{}' is {} bytes: more than {} can be ({} bytes at most)", path, st.st_size, what,
                            maxBytes),
                0, 87);
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(fmt::format("cannot read '{}'{}", path, n < 0 ? std::string(": ") + std::strerror(errno) : ""));
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace ntbox
