#include "support/HostFiles.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace ntbox {
namespace {

thread_local const std::map<std::string, int>* t_files = nullptr;

}  // namespace

HostFileScope::HostFileScope(std::map<std::string, int> files) : files_(std::move(files)), previous_(t_files) {
  t_files = &files_;
}

HostFileScope::~HostFileScope() {
  t_files = previous_;
  for (const auto& [path, fd] : files_) ::close(fd);
}

std::string HostFileKey(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return (ec ? std::filesystem::path(path) : absolute).lexically_normal().string();
}

bool HandedHostFile(const std::string& path) { return t_files && t_files->contains(HostFileKey(path)); }

Result<int> OpenHostFile(const std::string& path) {
  if (t_files) {
    if (const auto it = t_files->find(HostFileKey(path)); it != t_files->end()) {
      const int fd = ::fcntl(it->second, F_DUPFD_CLOEXEC, 0);
      // The duplicate shares the offset: each reader starts from the beginning (a FIFO or a
      // device has none; the reader refuses what is not a regular file).
      if (fd < 0 || (::lseek(fd, 0, SEEK_SET) != 0 && errno != ESPIPE)) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        return Fail(fmt::format("cannot read '{}': {}", path, std::strerror(e)), 0, 5);
      }
      return fd;
    }
  }
  // O_NONBLOCK: opening a FIFO with no writer would wait for one forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Fail(fmt::format("cannot open '{}': {}", path, std::strerror(e)), 0, e == ENOENT ? 2 : 5);
  }
  return fd;
}

}  // namespace ntbox
