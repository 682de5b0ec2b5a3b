// bcdedit: /set testsigning|debug|rewrite on|off, /set numproc N, /deletevalue numproc, /debug on|off, /enum. Values land in the boot
// configuration and apply at the next boot, as on Windows; /enum marks a value still pending.
#include <fmt/format.h>

#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {


int Invalid(CommandContext& ctx, std::string_view what) {
  ctx.err(fmt::format("The {} command specified is not valid.\nRun \"bcdedit /?\" for command line assistance.\n"
                      "The parameter is incorrect.\n{}",
                      what, UsageOf("bcdedit")));
  return kCommandUsage;
}

std::string Setting(std::string_view name, bool stored, bool active) {
  std::string line = fmt::format("{:<24}{}", name, stored ? "Yes" : "No");
  if (stored != active) line += fmt::format("  (pending: the machine runs with {} until ntbox reboot)", active ? "Yes" : "No");
  return line + "\n";
}

int Store(CommandContext& ctx, const BootConfig& next) {
  if (auto r = ctx.machine.StoreBootConfig(next); !r) {
    ctx.err(r.error().message + "\n");
    return kCommandFailed;
  }
  ctx.out("The operation completed successfully.\n");
  if (next != ctx.machine.activeBootConfig()) ctx.err("ntbox: the change applies at the next boot (ntbox reboot)\n");
  return kCommandOk;
}

}  // namespace

int RunBcdedit(CommandContext& ctx, const std::vector<std::string>& input) {
  std::vector<std::string> args;
  for (const auto& a : input) {
    const std::string l = AsciiLower(a);
    if (l != "{current}" && l != "{default}") args.push_back(a);
  }
  const std::string op = AsciiLower(args[0]);
  auto stored = ctx.machine.storedBootConfig();
  if (!stored) {
    ctx.err("An error occurred while attempting to reference the specified entry.\n" + stored.error().message + "\n");
    return kCommandFailed;
  }
  if (op == "/enum") {
    if (args.size() > 2 || (args.size() == 2 && AsciiLower(args[1]) != "active" && AsciiLower(args[1]) != "all")) {
      return Invalid(ctx, "enum");
    }
    const BootConfig& active = ctx.machine.activeBootConfig();
    std::string out =
        "\nWindows Boot Loader\n"
        "-------------------\n"
        "identifier              {current}\n"
        "device                  partition=C:\n"
        "path                    \\Windows\\system32\\winload.efi\n"
        "description             Windows 10\n"
        "locale                  en-US\n"
        "osdevice                partition=C:\n"
        "systemroot              \\Windows\n"
        "nx                      OptIn\n";
    if (stored->testSigning || active.testSigning) out += Setting("testsigning", stored->testSigning, active.testSigning);
    if (stored->debug || active.debug) out += Setting("debug", stored->debug, active.debug);
    if (!stored->rewrite || !active.rewrite) out += Setting("rewrite", stored->rewrite, active.rewrite);
    if (!stored->safeboot.empty() || !active.safeboot.empty()) {
      out += fmt::format("{:<24}{}", "safeboot", stored->safeboot.empty() ? "(none)" : stored->safeboot == "minimal" ? "Minimal" : "Network");
      if (stored->safeboot != active.safeboot) out += "  (pending: applies at ntbox reboot)";
      out += "\n";
    }
    if (stored->numproc || active.numproc) {
      out += fmt::format("{:<24}{}", "numproc", stored->processors());
      if (stored->processors() != active.processors()) {
        out += fmt::format("  (pending: the machine runs with {} until ntbox reboot)", active.processors());
      }
      out += "\n";
    }
    ctx.out(out);
    return kCommandOk;
  }
  std::string setting;
  std::string value;
  BootConfig next = *stored;
  if (op == "/deletevalue" && args.size() == 2 && AsciiLower(args[1]) == "numproc") {
    next.numproc = 0;
    return Store(ctx, next);
  }
  if (op == "/deletevalue" && args.size() == 2 && AsciiLower(args[1]) == "safeboot") {
    next.safeboot.clear();
    return Store(ctx, next);
  }
  if (op == "/set" && args.size() == 3 && AsciiLower(args[1]) == "safeboot") {
    const std::string mode = AsciiLower(args[2]);
    if (mode != "minimal" && mode != "network") {
      ctx.err("The element data type specified is not recognized, or does not apply to the specified entry.\n"
              "Run \"bcdedit /?\" for command line assistance.\nntbox: safeboot takes minimal or network\n");
      return kCommandUsage;
    }
    next.safeboot = mode;
    return Store(ctx, next);
  }
  if (op == "/set" && args.size() == 3 && AsciiLower(args[1]) == "numproc") {
    const std::string& n = args[2];
    unsigned count = 0;
    const bool digits = !n.empty() && n.size() <= 3 && n.find_first_not_of("0123456789") == std::string::npos;
    if (digits) count = static_cast<unsigned>(std::stoul(n));
    if (!digits || count < 1 || count > BootConfig::kMaxProcessors) {
      ctx.err("The integer data is not valid as specified.\nRun \"bcdedit /?\" for command line assistance.\n"
              "ntbox: numproc takes 1 to 64\n");
      return kCommandUsage;
    }
    next.numproc = count;
    return Store(ctx, next);
  }
  if (op == "/set" && args.size() == 3) {
    setting = AsciiLower(args[1]);
    value = AsciiLower(args[2]);
  } else if (op == "/debug" && args.size() == 2) {
    setting = "debug";
    value = AsciiLower(args[1]);
  } else {
    return Invalid(ctx, op.size() > 1 ? op.substr(1) : op);
  }
  const bool on = value == "on" || value == "yes" || value == "true";
  if (!on && value != "off" && value != "no" && value != "false") return Invalid(ctx, "set");
  if (setting == "testsigning") {
    next.testSigning = on;
  } else if (setting == "debug") {
    next.debug = on;
  } else if (setting == "rewrite") {
    next.rewrite = on;
  } else {
    ctx.err("The element data type specified is not recognized, or does not apply to the specified entry.\n"
            "Run \"bcdedit /?\" for command line assistance.\nElement not found.\n");
    return kCommandUsage;
  }
  return Store(ctx, next);
}

}  // namespace ntbox::machine
