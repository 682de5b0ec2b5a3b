#include "machine/commands/DbgviewFormat.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nt/kd/DebugPrint.h"

namespace ntbox::machine {

std::string FormatDebugLine(const LoggedRecord& r) {
  std::string text = r.text;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (r.component == nt::kNtboxComponent) text = "ntbox: " + text;
  if (r.component == nt::kMarkerComponent) text = "---- " + text + " ----";
  return fmt::format("{:08}\t{:.8f}\t{}\n", r.sequence, r.seconds, text);
}

std::string DebugLineJson(const LoggedRecord& r) {
  std::string text = r.text;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  nlohmann::json j{{"sequence", r.sequence}, {"seconds", r.seconds}, {"component", r.component},
                   {"level", r.level},       {"passed", r.passed},   {"text", text}};
  if (r.component == nt::kMarkerComponent) j["marker"] = true;
  if (r.component == nt::kNtboxComponent) j["ntbox"] = true;
  // The driver's bytes may not be UTF-8: replaced, never an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ntbox::machine
