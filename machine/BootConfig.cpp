#include "machine/BootConfig.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "machine/MachineDir.h"

namespace ntbox::machine {

Result<BootConfig> BootConfig::Load(const std::filesystem::path& file) {
  BootConfig config;
  std::ifstream in(file);
  if (!in) return config;
  std::stringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return Fail("the boot configuration '" + file.string() + "' is corrupt");
  }
  config.testSigning = json.value("testsigning", false);
  config.debug = json.value("debug", false);
  return config;
}

Result<void> BootConfig::Save(const std::filesystem::path& file) const {
  const nlohmann::json json{{"testsigning", testSigning}, {"debug", debug}};
  return WriteFileAtomically(file, json.dump(2) + "\n");
}

}  // namespace ntbox::machine
