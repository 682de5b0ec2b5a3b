#include "nt/vf/Verifier.h"

#include "nt/Kernel.h"
#include "support/Text.h"

namespace ntbox::nt::vf {

bool VerifierConfig::Verifies(std::string_view fileName) const {
  if (flags == 0) return false;
  if (allDrivers) return true;
  for (const auto& d : drivers) {
    if (EqualsNoCase(d, fileName)) return true;
  }
  return false;
}

bool Watches(std::uint64_t address, std::uint32_t flag) {
  const Kernel* kernel = Kernel::CurrentOrNull();
  if (!kernel || !(kernel->config().verifier.flags & flag)) return false;
  const Module* module = kernel->ModuleAt(address);
  return module && module->verified;
}

}  // namespace ntbox::nt::vf
