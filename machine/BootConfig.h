// The boot configuration (what `bcdedit` sets). Stored in the machine directory; a running
// machine keeps the values it booted with until the next boot, as Windows does.
#pragma once
#include <filesystem>

#include "support/Result.h"

namespace ntbox::machine {

struct BootConfig {
  bool testSigning = false;
  bool debug = false;

  static Result<BootConfig> Load(const std::filesystem::path& file);  // defaults when missing
  Result<void> Save(const std::filesystem::path& file) const;
  bool operator==(const BootConfig&) const = default;
};

}  // namespace ntbox::machine
