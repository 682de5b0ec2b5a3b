#include "nt/vf/Verifier.h"

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

}  // namespace ntbox::nt::vf
