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
  config.numproc = json.value("numproc", 0u);
  if (config.numproc > kMaxProcessors) return Fail("the boot configuration '" + file.string() + "' is corrupt");
  return config;
}

Result<void> BootConfig::Save(const std::filesystem::path& file) const {
  nlohmann::json json{{"testsigning", testSigning}, {"debug", debug}};
  if (numproc) json["numproc"] = numproc;
  return WriteFileAtomically(file, json.dump(2) + "\n");
}

}  // namespace ntbox::machine
