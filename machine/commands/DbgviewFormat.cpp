#include "machine/commands/DbgviewFormat.h"

#include <fmt/format.h>

#include "nt/kd/DebugPrint.h"

namespace ntbox::machine {

std::string FormatDebugLine(const LoggedRecord& r) {
  std::string text = r.text;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (r.component == nt::kNtboxComponent) text = "ntbox: " + text;
  if (r.component == nt::kMarkerComponent) text = "---- " + text + " ----";
  return fmt::format("{:08}\t{:.8f}\t{}\n", r.sequence, r.seconds, text);
}

}  // namespace ntbox::machine
