// lm: loaded modules with start, end and name, as WinDbg prints them, then the unloaded ones.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/commands/Command.h"
#include "nt/support/Symbolize.h"

namespace ntbox::machine {

int RunLm(CommandContext& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) {
    ctx.err("usage: ntbox lm\n");
    return kCommandUsage;
  }
  if (ctx.json) {
    nlohmann::json loaded = nlohmann::json::array(), unloaded = nlohmann::json::array();
    for (const auto& m : ctx.machine.LoadedModules()) {
      loaded.push_back({{"start", m.start}, {"end", m.end}, {"name", m.name}, {"path", m.path}});
    }
    for (const auto& u : ctx.machine.UnloadedModules()) {
      unloaded.push_back({{"start", u.base}, {"end", u.end}, {"name", u.fileName}});
    }
    ctx.out(nlohmann::json{{"modules", loaded}, {"unloaded", unloaded}}.dump() + "\n");
    return kCommandOk;
  }
  std::string out = "start             end                 module name\n";
  for (const auto& m : ctx.machine.LoadedModules()) {
    const std::string status = m.name == "nt" ? "(export symbols)" : "(deferred)";
    out += fmt::format("{} {}   {:<8}   {:<22} {}\n", nt::WinDbgAddress(m.start), nt::WinDbgAddress(m.end), m.name,
                       status, m.name == "nt" ? m.path : "");
  }
  const auto unloaded = ctx.machine.UnloadedModules();
  if (!unloaded.empty()) {
    out += "\nUnloaded modules:\n";
    for (const auto& u : unloaded) {
      out += fmt::format("{} {}   {}\n", nt::WinDbgAddress(u.base), nt::WinDbgAddress(u.end), u.fileName);
    }
  }
  // WinDbg pads; trailing spaces are noise in a terminal.
  std::string trimmed;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    std::string line = out.substr(start, end - start);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    trimmed += line + "\n";
    start = end + 1;
  }
  ctx.out(trimmed);
  return kCommandOk;
}

}  // namespace ntbox::machine
