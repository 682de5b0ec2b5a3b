#include "support/HostFiles.h"

#include "support/Executable.h"
#include "support/InputFile.h"

#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

namespace ntbox {
namespace {

thread_local const std::map<std::string, int>* t_files = nullptr;
HostFileOpener* (*g_lookup)() = nullptr;
thread_local HostFileOpener* t_opener = nullptr;  // a HostFileOpenerScope's

// Opens name in directory dir, matching its case or, failing that, any entry equal without case.
int OpenComponent(int dir, const std::string& name, int flags) {
  int fd = ::openat(dir, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0 || errno != ENOENT) return fd;
  const int scan = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (scan < 0) return -1;
  DIR* d = ::fdopendir(scan);
  if (!d) {
    ::close(scan);
    return -1;
  }
  std::string match;
  while (const dirent* e = ::readdir(d)) {
    if (::strcasecmp(e->d_name, name.c_str()) == 0) {
      match = e->d_name;
      break;
    }
  }
  ::closedir(d);
  if (match.empty()) {
    errno = ENOENT;
    return -1;
  }
  return ::openat(dir, match.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
}

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

void SetHostFileOpenerLookup(HostFileOpener* (*lookup)()) { g_lookup = lookup; }

namespace {

// ntbox's own files (its DLLs beside the executable, a pinned directory) are the server's to read:
// never asked of a client.
bool OwnPath(const std::filesystem::path& key) {
  if (key.string().starts_with("/proc/self/fd/")) return true;
  const std::filesystem::path bin = ExecutableDirectory();
  if (bin.empty()) return false;
  // Its executables and DLLs (what the sandbox lets the server read), not all of its tree: a
  // build tree holds the user's drivers too.
  std::vector<std::filesystem::path> owns{bin, bin.parent_path() / "lib" / "ntbox"};
  if (const char* wine = std::getenv("NTBOX_WINE_DIR"); wine && *wine) owns.emplace_back(wine);
  for (const auto& own : owns) {
    const auto rel = key.lexically_relative(own);
    if (!rel.empty() && *rel.begin() != "..") return true;
  }
  return false;
}

HostFileOpener* OpenerFor(const std::filesystem::path& key) {
  HostFileOpener* opener = CurrentHostFileOpener();
  return opener && !OwnPath(key) ? opener : nullptr;
}

}  // namespace

std::vector<std::string> HostDirectoryEntries(const std::string& folder) {
  std::vector<std::string> names;
  const std::filesystem::path key = HostFileKey(folder);
  if (t_files) {
    for (const auto& [path, fd] : *t_files) {
      if (std::filesystem::path(path).parent_path() == key) names.push_back(std::filesystem::path(path).filename().string());
    }
  }
  int dir = -1;
  if (HostFileOpener* opener = OpenerFor(key)) {
    std::vector<std::string> components;
    for (const auto& part : key.relative_path()) components.push_back(part.string());
    dir = opener->Open(components);
  } else {
    dir = ::open(key.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  DIR* d = dir >= 0 ? ::fdopendir(dir) : nullptr;
  if (!d && dir >= 0) ::close(dir);
  while (const dirent* e = d ? ::readdir(d) : nullptr) {
    const std::string name = e->d_name;
    if (name != "." && name != ".." && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (d) ::closedir(d);
  return names;
}

HostFileOpener* CurrentHostFileOpener() {
  if (t_opener) return t_opener;
  return g_lookup ? g_lookup() : nullptr;
}

HostFileOpenerScope::HostFileOpenerScope(std::shared_ptr<HostFileOpener> opener)
    : opener_(std::move(opener)), previous_(t_opener) {
  if (opener_) t_opener = opener_.get();
}

HostFileOpenerScope::~HostFileOpenerScope() { t_opener = previous_; }

int OpenBeneathNoCase(int root, const std::vector<std::string>& components, int lastFlags, std::size_t* failedAt) {
  int dir = ::fcntl(root, F_DUPFD_CLOEXEC, 0);
  for (std::size_t i = 0; dir >= 0 && i < components.size(); ++i) {
    const bool last = i + 1 == components.size();
    const int fd = OpenComponent(dir, components[i], last ? lastFlags : O_RDONLY | O_DIRECTORY);
    const int error = errno;
    ::close(dir);
    errno = error;
    if (fd < 0 && failedAt) *failedAt = i;
    dir = fd;
  }
  return dir;
}

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
  if (HostFileOpener* opener = OpenerFor(HostFileKey(path))) {
    std::vector<std::string> components;
    for (const auto& part : std::filesystem::path(HostFileKey(path)).relative_path()) components.push_back(part.string());
    const int fd = opener->Open(components);
    if (fd < 0) {
      const int e = errno;
      return Fail(fmt::format("cannot open '{}': {}", path, std::strerror(e)), 0, e == ENOENT ? 2 : 5);
    }
    return fd;
  }
  const int fd = OpenInputFile(path);
  if (fd < 0) {
    const int e = errno;
    return Fail(fmt::format("cannot open '{}': {}", path, std::strerror(e)), 0, e == ENOENT ? 2 : 5);
  }
  return fd;
}

}  // namespace ntbox
