// Subcommands of the ntbox CLI. Each registers its options on the app and runs on its own.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ntbox::tools {

// Exit statuses shared by the commands (documented in the README and --help).
enum ExitCode : int {
  kExitOk = 0,
  kExitDriverFailed = 1,  // DriverEntry returned an error NTSTATUS
  kExitUsage = 2,         // bad arguments
  kExitRefused = 3,       // the image was refused (malformed, wrong machine, unresolved imports)
  kExitBugCheck = 4,      // the driver stopped the machine (bugcheck report printed)
};

// After a parse error: names a mistyped subcommand or option with its nearest match on stderr
// ("did you mean"); false when the mistake is of another kind (CLI11's message then).
bool SuggestForMistake(CLI::App& app, int argc, char** argv);

// `ntbox completion bash|zsh` (add it last: the script lists the commands added before it).
std::function<int()> AddCompletionCommand(CLI::App& app);

// `ntbox load DRIVER.sys`: returns a callback that runs the command once parsed.
std::function<int()> AddLoadCommand(CLI::App& app);
// The machine commands (boot, shutdown, reboot, status, sc, reg, bcdedit, lm, dbgview, testsign).
std::vector<std::function<int()>> AddMachineCommands(CLI::App& app);

struct KdOptions {
  std::string commands;  // -c: run first (then the terminal, if there is one)
  bool breakIn = false;  // -b: break in at once
};
// ntbox kd: the debugger session on the machine in root.
int RunKd(const std::filesystem::path& root, const KdOptions& options);

struct GdbServerOptions {
  bool stdio = false;      // gdb's "target remote | ntbox gdbserver --stdio"
  int port = 0;            // a loopback TCP port
  std::string socketPath;  // a Unix socket
};
// ntbox gdbserver: gdb's remote protocol for the machine in root.
int RunGdbServer(const std::filesystem::path& root, const GdbServerOptions& options);

}  // namespace ntbox::tools
