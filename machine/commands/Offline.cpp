// Configuration commands on a machine that cannot boot: the same sc, reg, bcdedit and verifier
// code runs in the client's own process on the stored configuration, with no kernel, so a driver
// that stops or hangs every boot can still be reconfigured or deleted (Windows' recovery console
// edits the offline SYSTEM hive the same way).
#include <cstdio>

#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "support/Text.h"

namespace ntbox::machine {

bool RunsOffline(std::string_view command, const std::vector<std::string>& args) {
  const std::string op = args.empty() ? std::string() : AsciiLower(args[0]);
  if (command == "reg" || command == "bcdedit") return true;
  if (command == "sc") {
    return op == "create" || op == "config" || op == "delete" || op == "qc" || op == "query" || op == "queryex" ||
           op == "getdisplayname";
  }
  if (command == "verifier") return op != "/query";  // the settings, not the running drivers
  return false;
}

int RunMachineCommand(CommandContext& ctx, std::string_view command, const std::vector<std::string>& given) {
  // --json anywhere on the line, for the commands that print it.
  std::vector<std::string> args;
  for (const auto& a : given) {
    if (a == "--json") {
      ctx.json = true;
    } else {
      args.push_back(a);
    }
  }
  // Help, unknown verbs and --json where there is none (the CLI answers them before a machine
  // boots; an in-process caller gets the same answers here): the commands see a known verb.
  std::string out, err;
  if (const auto code = CheckSyntax(command, given, out, err)) {
    ctx.out(out);
    ctx.err(err);
    return *code;
  }
  if (command == "sc") return RunSc(ctx, args);
  if (command == "reg") return RunReg(ctx, args);
  if (command == "bcdedit") return RunBcdedit(ctx, args);
  if (command == "verifier") return RunVerifier(ctx, args);
  if (command == "ioctl") return RunIoctl(ctx, args);
  if (command == "tracelog") return RunTracelog(ctx, args);
  if (command == "tracefmt") return RunTracefmt(ctx, args);
  if (command == "lm") return RunLm(ctx, args);
  ctx.err("ntbox: the server does not know the command '" + std::string(command) + "'\n");
  return kCommandUsage;
}

int RunOffline(const std::filesystem::path& root, std::string_view command, const std::vector<std::string>& args) {
  auto machine = Machine::OpenOffline(root);
  if (!machine) {
    std::fprintf(stderr, "ntbox: cannot open the machine's configuration: %s\n", machine.error().message.c_str());
    return kCommandFailed;
  }
  CommandContext ctx{**machine, std::filesystem::current_path(),
                     [](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); },
                     [](std::string_view s) {
                       std::fflush(stdout);
                       std::fwrite(s.data(), 1, s.size(), stderr);
                     }};
  const int status = RunMachineCommand(ctx, command, args);
  std::fflush(stdout);
  return status;
}

}  // namespace ntbox::machine
