// ntbox: run Windows kernel drivers on Linux. The CLI is thin: every command is a library call.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/ntbox/Commands.h"

int main(int argc, char** argv) {
  // Named, not argv[0]: usage lines (and the man pages made from them) say "ntbox".
  CLI::App app{"ntbox: run Windows x64 kernel-mode drivers natively on Linux", "ntbox"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--machine) may follow the subcommand
  app.set_version_flag("--version", NTBOX_VERSION);
  // The machine server (started by this command or a later one) and ntbox load confine themselves;
  // with this flag a protection the kernel cannot give is an error instead of a notice.
  app.add_flag_callback("--require-sandbox", [] { ::setenv("NTBOX_REQUIRE_SANDBOX", "1", 1); },
                        "refuse to run driver or program code where the sandbox is not complete (see ntbox status)");
  std::vector<std::function<int()>> commands{ntbox::tools::AddLoadCommand(app)};
  for (auto& run : ntbox::tools::AddMachineCommands(app)) commands.push_back(std::move(run));
  commands.push_back(ntbox::tools::AddCompletionCommand(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (ntbox::tools::SuggestForMistake(app, argc, argv)) return ntbox::tools::kExitUsage;
    const int code = app.exit(e);
    return code == 0 ? 0 : ntbox::tools::kExitUsage;
  }
  for (auto& run : commands) {
    if (const int code = run(); code >= 0) return code;
  }
  return ntbox::tools::kExitUsage;
}
