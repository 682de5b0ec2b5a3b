// Host files by name, for a process that is not to open them itself: a machine server reaches the
// files a command names (a driver or program image, a .reg or TMF file) through descriptors the
// command's client opened with the user's own rights and handed over with the request. While a
// HostFileScope lasts, reads of those paths on its thread use them; any other path is opened
// directly (the server's own files: its machine directory, ntbox's DLLs).
#pragma once
#include <map>
#include <string>

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
// duplicate, else the file opened here (O_RDONLY | O_NONBLOCK). An error carries errno's text.
Result<int> OpenHostFile(const std::string& path);

}  // namespace ntbox
