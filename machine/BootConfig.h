// The boot configuration (what `bcdedit` sets). Stored in the machine directory; a running
// machine keeps the values it booted with until the next boot, as Windows does.
#pragma once
#include <cstdint>
#include <filesystem>

#include "support/Result.h"

namespace ntbox::machine {

struct BootConfig {
  bool testSigning = false;
  bool debug = false;
  std::uint32_t numproc = 0;  // virtual processors; 0: the default (2)
  static constexpr std::uint32_t kMaxProcessors = 64;  // one processor group
  std::uint32_t processors() const { return numproc ? numproc : 2; }

  static Result<BootConfig> Load(const std::filesystem::path& file);  // defaults when missing
  Result<void> Save(const std::filesystem::path& file) const;
  bool operator==(const BootConfig&) const = default;
};

}  // namespace ntbox::machine
