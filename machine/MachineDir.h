// Where a machine lives on disk, and what is in it:
//   registry.db   the registry (SQLite)          bcd.json   the boot configuration
//   C/            the C: drive                   debug.log  debug output (rotated to debug.log.1)
//   crashes/      bugcheck reports               certs/     the machine's test-signing certificate
//   server.sock   the running server's socket    server.lock / server.pid
// The default is $XDG_DATA_HOME/ntbox/machine (~/.local/share/ntbox/machine); NTBOX_MACHINE or
// --machine choose another.
#pragma once
#include <filesystem>
#include <string>

#include "support/Result.h"

namespace ntbox::machine {

class MachineDir {
 public:
  // explicitDir wins, then NTBOX_MACHINE, then the XDG default.
  static std::filesystem::path Resolve(const std::string& explicitDir = {});
  // Creates the directory and its layout when missing.
  static Result<MachineDir> Open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  // A path in the directory as its user names it (the root may be reached another way, SetShownRoot).
  std::filesystem::path Shown(const std::filesystem::path& path) const;
  void SetShownRoot(std::filesystem::path shown) { shown_ = std::move(shown); }
  std::filesystem::path registry() const { return root_ / "registry.db"; }
  std::filesystem::path bootConfig() const { return root_ / "bcd.json"; }
  std::filesystem::path drive(char letter) const { return root_ / std::string(1, letter); }
  std::filesystem::path debugLog() const { return root_ / "debug.log"; }
  // Which boot-time driver a boot was starting, and those automatic recovery skips (BootState).
  std::filesystem::path bootState() const { return root_ / "boot.state"; }
  std::filesystem::path crashes() const { return root_ / "crashes"; }
  // Disk space held back for the next bugcheck report: a full disk frees it for the report.
  std::filesystem::path crashReserve() const { return crashes() / ".reserve"; }
  void ReserveCrashSpace() const;
  bool ReleaseCrashSpace() const;
  std::filesystem::path certs() const { return root_ / "certs"; }
  std::filesystem::path socket() const { return root_ / "server.sock"; }
  std::filesystem::path lock() const { return root_ / "server.lock"; }
  std::filesystem::path serverLog() const { return root_ / "server.log"; }

 private:
  explicit MachineDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
  std::filesystem::path shown_;
};

// Writes a file so that a crash leaves either the old or the new contents (temp, fsync, rename).
Result<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace ntbox::machine
