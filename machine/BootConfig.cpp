#include "machine/BootConfig.h"

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "machine/MachineDir.h"
#include "support/Text.h"

namespace ntbox::machine {

namespace {

// The JSON object in file: nullopt when the file is missing, a discarded value when it is no object.
std::optional<nlohmann::json> ReadObject(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (!json.is_object()) json = nlohmann::json::value_t::discarded;
  return json;
}

}  // namespace

Result<BootConfig> BootConfig::Load(const std::filesystem::path& file) {
  BootConfig config;
  const auto read = ReadObject(file);
  if (!read) return config;
  const nlohmann::json& json = *read;
  if (json.is_discarded()) return Fail("the boot configuration '" + file.string() + "' is corrupt");
  config.testSigning = json.value("testsigning", false);
  config.debug = json.value("debug", false);
  config.numproc = json.value("numproc", 0u);
  config.safeboot = json.value("safeboot", std::string());
  config.rewrite = json.value("rewrite", true);
  if (!config.safeboot.empty() && config.safeboot != "minimal" && config.safeboot != "network") {
    return Fail("the boot configuration '" + file.string() + "' is corrupt");
  }
  if (config.numproc > kMaxProcessors) return Fail("the boot configuration '" + file.string() + "' is corrupt");
  return config;
}

Result<void> BootConfig::Save(const std::filesystem::path& file) const {
  nlohmann::json json{{"testsigning", testSigning}, {"debug", debug}};
  if (numproc) json["numproc"] = numproc;
  if (!safeboot.empty()) json["safeboot"] = safeboot;
  if (!rewrite) json["rewrite"] = false;
  return WriteFileAtomically(file, json.dump(2) + "\n");
}

BootState BootState::Load(const std::filesystem::path& file) {
  BootState state;
  const auto json = ReadObject(file);
  if (!json || json->is_discarded()) return state;
  state.starting = json->value("starting", std::string());
  state.skipped = json->value("skipped", std::vector<std::string>{});
  return state;
}

Result<void> BootState::Save(const std::filesystem::path& file) const {
  if (starting.empty() && skipped.empty()) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return {};
  }
  const nlohmann::json json{{"starting", starting}, {"skipped", skipped}};
  return WriteFileAtomically(file, json.dump() + "\n");
}

bool BootState::Skips(std::string_view service) const {
  for (const auto& s : skipped) {
    if (AsciiLower(s) == AsciiLower(service)) return true;
  }
  return false;
}

bool BootState::Forget(std::string_view service) {
  const auto before = skipped.size();
  std::erase_if(skipped, [&](const std::string& s) { return AsciiLower(s) == AsciiLower(service); });
  return skipped.size() != before;
}

}  // namespace ntbox::machine
