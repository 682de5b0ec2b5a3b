// The machine's commands (sc, reg, bcdedit, verifier, lm, dbgview, status), run inside the process that owns
// the machine and writing to the client's stdout and stderr. Windows syntax and output formats
// where Windows has them.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "machine/Machine.h"

namespace ntbox::machine {

// Exit statuses of the machine commands (the CLI documents them).
enum CommandExit : int {
  kCommandOk = 0,
  kCommandFailed = 1,    // Windows reported an error (printed with its code)
  kCommandUsage = 2,     // bad arguments
  kCommandBugCheck = 4,  // a driver bugchecked the machine
};

// ntbox run exits with the program's exit code when it fits in a byte; otherwise:
inline constexpr int kExitProgramCrashed = 255;  // an exception or a code > 255 (printed in full)
inline constexpr int kExitCannotRun = 126;       // refused: not a Win32 console program, missing imports
inline constexpr int kExitNotFound = 127;
inline constexpr int kExitInterrupted = 130;  // ended by Ctrl-C (STATUS_CONTROL_C_EXIT): the client re-raises SIGINT

struct CommandContext {
  Machine& machine;
  std::filesystem::path cwd;  // the client's working directory, for relative paths
  std::function<void(std::string_view)> out;
  std::function<void(std::string_view)> err;
  // --json on the command line (taken out of its arguments): sc query/queryex/qc and lm print JSON.
  bool json = false;
};

// A path the client named, relative to its working directory.
inline std::filesystem::path ClientPath(const CommandContext& ctx, const std::string& file) {
  const std::filesystem::path p(file);
  return p.is_absolute() ? p : ctx.cwd / p;
}

int RunSc(CommandContext& ctx, const std::vector<std::string>& args);
int RunReg(CommandContext& ctx, const std::vector<std::string>& args);
int RunBcdedit(CommandContext& ctx, const std::vector<std::string>& args);
int RunLm(CommandContext& ctx, const std::vector<std::string>& args);
int RunIoctl(CommandContext& ctx, const std::vector<std::string>& args);
int RunVerifier(CommandContext& ctx, const std::vector<std::string>& args);
int RunTracelog(CommandContext& ctx, const std::vector<std::string>& args);
int RunTracefmt(CommandContext& ctx, const std::vector<std::string>& args);
// One of the above by name (kCommandUsage with a message for an unknown one).
int RunMachineCommand(CommandContext& ctx, std::string_view command, const std::vector<std::string>& args);

// Whether a command only reads or changes the stored configuration (sc config/delete/qc, reg,
// bcdedit, verifier's settings), so that it can run on a machine that cannot boot.
bool RunsOffline(std::string_view command, const std::vector<std::string>& args);
// Runs such a command in this process on the machine's stored configuration, printing to
// stdout and stderr; returns its exit status.
int RunOffline(const std::filesystem::path& root, std::string_view command, const std::vector<std::string>& args);


}  // namespace ntbox::machine
