// Host files by name, for a process that is not to open them itself: a machine server reaches the
// files a command names (a driver or program image, a .reg or TMF file) through descriptors the
// command's client opened with the user's own rights and handed over with the request. While a
// HostFileScope lasts, reads of those paths on its thread use them; any other path is opened
// directly (the server's own files: its machine directory, ntbox's DLLs).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/Result.h"

namespace ntbox {

class HostFileScope {
 public:
  // files: descriptors by the path the client named (made absolute); the scope owns and closes them.
  explicit HostFileScope(std::map<std::string, int> files);
  ~HostFileScope();
  HostFileScope(const HostFileScope&) = delete;
  HostFileScope& operator=(const HostFileScope&) = delete;

 private:
  std::map<std::string, int> files_;
  const std::map<std::string, int>* previous_;
};

// The key a path is handed over and found by: absolute, lexically normal.
std::string HostFileKey(const std::string& path);
// Whether the calling thread's scope holds path.
bool HandedHostFile(const std::string& path);
// A descriptor of path for reading (from the start), which the caller closes: the handed one's
// duplicate, else the calling thread's process's opener's (a program's, whose ntbox run client
// opens it), else the file opened here (O_RDONLY | O_NONBLOCK). An error carries errno's text.
Result<int> OpenHostFile(const std::string& path);

// Who opens host files for the code on a thread: for a program run by `ntbox run`, its client.
class HostFileOpener {
 public:
  virtual ~HostFileOpener() = default;
  // The file or directory at the host path's components (from "/"), each matched without regard
  // to case as Windows names go, read-only; a descriptor the caller closes, or -1 with errno set
  // and failedAt (when given) the component that failed.
  virtual int Open(const std::vector<std::string>& components, std::size_t* failedAt = nullptr) = 0;
  // The components a directory this opener opened was found at, by its device and inode: what a
  // listing of it needs to look at its entries (the process may not look into it itself).
  virtual std::optional<std::vector<std::string>> ComponentsOf(std::uint64_t device, std::uint64_t inode) = 0;
};
// The names in a host folder, as this thread may see them: the files its scope was handed from
// there, and the listing its opener (or, without one, the folder itself) gives.
std::vector<std::string> HostDirectoryEntries(const std::string& folder);

// An opener for the calling thread while the scope lasts, whatever its process: a request a
// program made that the kernel serves in the System process's context (StartService through the
// service manager) still reads the program's files through the program's client.
class HostFileOpenerScope {
 public:
  explicit HostFileOpenerScope(std::shared_ptr<HostFileOpener> opener);
  ~HostFileOpenerScope();
  HostFileOpenerScope(const HostFileOpenerScope&) = delete;
  HostFileOpenerScope& operator=(const HostFileOpenerScope&) = delete;

 private:
  std::shared_ptr<HostFileOpener> opener_;
  HostFileOpener* previous_;
};

// How OpenHostFile finds the calling thread's opener (set once by the program layer).
void SetHostFileOpenerLookup(HostFileOpener* (*lookup)());
HostFileOpener* CurrentHostFileOpener();

// Opens components beneath root (an open directory), each matched first as given, then without
// regard to case; never through a symbolic link. The last is opened with lastFlags (O_RDONLY …);
// -1 with errno set on failure, and failedAt (when given) the index of the component that failed.
int OpenBeneathNoCase(int root, const std::vector<std::string>& components, int lastFlags,
                      std::size_t* failedAt = nullptr);

}  // namespace ntbox
