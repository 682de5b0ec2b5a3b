// "Did you mean": a mistyped subcommand or option named with its nearest match, instead of CLI11's
// "A subcommand is required" or "argument was not expected".
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "support/Colour.h"
#include "support/Suggest.h"
#include "tools/ntbox/Commands.h"

namespace ntbox::tools {
namespace {

// The options a command takes, as typed: --long and -s.
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

bool Known(const std::vector<std::string>& names, std::string_view word) {
  for (const auto& n : names) {
    if (n == word) return true;
  }
  return false;
}

std::optional<std::string> Nearest(std::string_view word, const std::vector<std::string>& names) {
  const std::vector<std::string_view> views(names.begin(), names.end());
  return Closest(word, views);
}

}  // namespace

bool SuggestForMistake(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) commands.push_back(sub->get_name());
  const std::vector<std::string> globals = OptionNames(app);
  CLI::App* chosen = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--machine") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) {
      const std::string name = arg.substr(0, arg.find('='));
      const std::vector<std::string> own = chosen ? OptionNames(*chosen) : std::vector<std::string>{};
      if (Known(globals, name) || Known(own, name)) continue;
      std::vector<std::string> all = own;
      all.insert(all.end(), globals.begin(), globals.end());
      const auto near = Nearest(name, all);
      PrintError(fmt::format("ntbox{}{}: unknown option '{}'{}{}{}\n", chosen ? " " : "",
                             chosen ? chosen->get_name() : "", name, near ? "; did you mean '" : "",
                             near ? *near : "", near ? "'?" : ""));
      return true;
    }
    if (chosen) continue;  // an argument of the command
    if (!Known(commands, arg)) {
      const auto near = Nearest(arg, commands);
      if (near) {
        PrintError(fmt::format("ntbox: '{}' is not an ntbox command. Did you mean '{}'?\n", arg, *near));
      } else {
        PrintError(fmt::format("ntbox: '{}' is not an ntbox command (ntbox --help lists them)\n", arg));
      }
      return true;
    }
    chosen = app.get_subcommand(arg);
    if (chosen->get_allow_extras()) return false;  // its arguments are its own (sc, reg, run ...)
  }
  return false;
}

}  // namespace ntbox::tools
