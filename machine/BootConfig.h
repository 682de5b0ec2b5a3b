// The boot configuration (what `bcdedit` sets). Stored in the machine directory; a running
// machine keeps the values it booted with until the next boot, as Windows does.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "support/Result.h"

namespace ntbox::machine {

struct BootConfig {
  bool testSigning = false;
  bool debug = false;
  std::uint32_t numproc = 0;  // virtual processors; 0: the default (2)
  // bcdedit /set safeboot minimal|network: boot without the boot-, system- and auto-start drivers,
  // as Windows' safe mode does; empty: a normal boot.
  std::string safeboot;
  // bcdedit /set rewrite off: drivers' privileged instructions all go through the trap handler,
  // as before the load-time rewriter (cpu/Rewriter.h); on by default.
  bool rewrite = true;
  static constexpr std::uint32_t kMaxProcessors = 64;  // one processor group
  std::uint32_t processors() const { return numproc ? numproc : 2; }

  static Result<BootConfig> Load(const std::filesystem::path& file);  // defaults when missing
  Result<void> Save(const std::filesystem::path& file) const;
  bool operator==(const BootConfig&) const = default;
};

// Automatic recovery's record: the boot-, system- or auto-start driver a boot is starting (written
// before its DriverEntry runs, cleared once the boot completes), and the drivers a boot that never
// completed was starting, which later boots skip until their service is reconfigured or deleted.
struct BootState {
  std::string starting;
  std::vector<std::string> skipped;

  static BootState Load(const std::filesystem::path& file);  // empty when missing or unreadable
  Result<void> Save(const std::filesystem::path& file) const;
  bool Skips(std::string_view service) const;
  // Drops service from the skipped drivers; true when it was there.
  bool Forget(std::string_view service);
};

}  // namespace ntbox::machine
