#include "support/Executable.h"

#include <dlfcn.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace ntbox {
namespace {

namespace fs = std::filesystem;

int g_prefix = -1;  // the install prefix (bin/..) once pinned
std::string g_bin;  // bin/'s own name under it

fs::path ByName() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  // Inside libntbox-testing.so (a test program of a driver project): PREFIX/lib/ holds the library,
  // PREFIX/bin/ the helpers, as in the build tree.
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&ByName), &info) && info.dli_fname) {
    const fs::path object = fs::weakly_canonical(info.dli_fname, ec);
    if (!ec && object != self && object.filename().string().find(".so") != std::string::npos) return object.parent_path().parent_path() / "bin";
  }
  return self.empty() ? fs::path() : self.parent_path();
}

}  // namespace

fs::path ExecutableDirectory() {
  if (g_prefix >= 0) return fs::path("/proc/self/fd") / std::to_string(g_prefix) / g_bin;
  return ByName();
}

Result<void> PinExecutableDirectory() {
  if (g_prefix >= 0) return {};
  const fs::path bin = ByName();
  if (bin.empty()) return Fail("cannot find the ntbox executable");
  const int fd = ::open(bin.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(bin.parent_path().string() + ": " + std::strerror(errno));
  g_bin = bin.filename().string();
  g_prefix = fd;
  return {};
}

}  // namespace ntbox
