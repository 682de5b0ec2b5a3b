#include "machine/VerifierSettings.h"

#include <sstream>

namespace ntbox::machine {
namespace {
constexpr char kLevel[] = "VerifyDriverLevel";
constexpr char kDrivers[] = "VerifyDrivers";
}  // namespace

Result<void> SeedVerifierSettings(Registry& registry) {
  if (registry.KeyExists(kMemoryManagementKey)) return {};
  return WriteVerifierSettings(registry, nt::vf::VerifierConfig{});
}

nt::vf::VerifierConfig ReadVerifierSettings(Registry& registry) {
  nt::vf::VerifierConfig config;
  const auto level = registry.GetValue(kMemoryManagementKey, kLevel);
  const auto drivers = registry.GetValue(kMemoryManagementKey, kDrivers);
  const auto names = drivers ? drivers->AsString() : std::nullopt;
  config.flags = level ? level->AsDword().value_or(0) : 0;
  if (!names || names->empty()) {
    config.flags = 0;  // nothing to verify
    return config;
  }
  std::istringstream words(*names);
  std::string name;
  config.allDrivers = false;
  while (words >> name) {
    if (name == "*") config.allDrivers = true;
    else config.drivers.push_back(name);
  }
  return config;
}

Result<void> WriteVerifierSettings(Registry& registry, const nt::vf::VerifierConfig& config) {
  std::string names = config.allDrivers ? "*" : "";
  if (!config.allDrivers) {
    for (const auto& d : config.drivers) names += (names.empty() ? "" : " ") + d;
  }
  return registry.Atomically([&]() -> Result<void> {
    if (auto r = registry.SetValue(kMemoryManagementKey, RegValue::Dword(kLevel, config.flags)); !r) return r;
    return registry.SetValue(kMemoryManagementKey, RegValue::String(kDrivers, names));
  });
}

Result<void> ResetVerifierSettings(Registry& registry) {
  return registry.Atomically([&]() -> Result<void> {
    if (!registry.KeyExists(kMemoryManagementKey)) return registry.CreateKey(kMemoryManagementKey);
    for (const char* name : {kLevel, kDrivers}) {
      if (registry.GetValue(kMemoryManagementKey, name)) {
        if (auto r = registry.DeleteValue(kMemoryManagementKey, name); !r) return r;
      }
    }
    return Result<void>{};
  });
}

}  // namespace ntbox::machine
