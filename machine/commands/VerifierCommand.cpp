// verifier: /standard | /flags VALUE with /driver NAME... | /all; /querysettings; /query; /reset.
// The settings land in the registry and apply at the next boot, as verifier.exe's do.
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/VerifierSettings.h"
#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {

namespace vff = nt::vf::flags;


struct Option {
  std::uint32_t bit;
  const char* name;
  bool checked;  // whether ntbox makes checks for it yet
};
constexpr Option kOptions[] = {
    {vff::kSpecialPool, "Special pool", true},
    {vff::kIrqlChecking, "Force IRQL checking", true},
    {vff::kPoolTracking, "Pool tracking", true},
    {vff::kIoVerification, "I/O verification", true},
    {vff::kDeadlockDetection, "Deadlock detection", true},
    {vff::kDmaChecking, "DMA checking", false},
    {vff::kSecurityChecks, "Security checks", false},
    {vff::kMiscellaneousChecks, "Miscellaneous checks", true},
    {vff::kDdiCompliance, "DDI compliance checking", false},
};

std::string Settings(const nt::vf::VerifierConfig& config) {
  std::string out;
  for (const Option& o : kOptions) {
    out += fmt::format("{}: {}{}\n", o.name, (config.flags & o.bit) ? "Enabled" : "Disabled",
                       (config.flags & o.bit) && !o.checked ? "  (ntbox makes no checks of this kind yet)" : "");
  }
  out += "\nVerified drivers:\n\n";
  if (config.flags == 0) {
    out += "None\n";
  } else if (config.allDrivers) {
    out += "All Drivers\n";
  } else {
    for (const auto& d : config.drivers) out += d + "\n";
  }
  return out;
}

int Invalid(CommandContext& ctx, std::string_view why) {
  ctx.err(fmt::format("ntbox verifier: {}\n{}", why, UsageOf("verifier")));
  return kCommandUsage;
}

std::optional<std::uint32_t> ParseFlags(std::string_view text) {
  std::uint64_t value = 0;
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  if (hex) text.remove_prefix(2);
  if (text.empty() || text.size() > 10) return std::nullopt;
  for (char c : text) {
    const int digit = (c >= '0' && c <= '9') ? c - '0'
                      : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                         : -1;
    if (digit < 0) return std::nullopt;
    value = value * (hex ? 16 : 10) + static_cast<unsigned>(digit);
  }
  if (value > 0xFFFFFFFF) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

int Query(CommandContext& ctx) {
  const auto status = ctx.machine.QueryVerifier();
  if (ctx.json) {
    // verifier.exe's names for the fields.
    nlohmann::json drivers = nlohmann::json::array();
    for (const auto& d : status.drivers) {
      drivers.push_back({{"Name", d.fileName},
                         {"CurrentPagedPoolAllocations", d.pagedAllocations},
                         {"CurrentNonPagedPoolAllocations", d.nonPagedAllocations},
                         {"PagedPoolUsageInBytes", d.pagedBytes},
                         {"NonPagedPoolUsageInBytes", d.nonPagedBytes}});
    }
    ctx.out(nlohmann::json{{"Level", status.config.flags},
                           {"AllocationsAttempted", status.pool.attempted},
                           {"AllocationsSucceeded", status.pool.succeeded},
                           {"AllocationsSucceededSpecialPool", status.pool.succeededSpecialPool},
                           {"AllocationsWithNoTag", status.pool.withNoTag},
                           {"AllocationsFailed", status.pool.failed},
                           {"VerifiedDrivers", drivers}}
                .dump() +
            "\n");
    return kCommandOk;
  }
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char date[64];
  std::strftime(date, sizeof date, "%m/%d/%Y, %H:%M:%S", &local);
  std::string out = fmt::format("{}\nLevel: {:08X}\n", date, status.config.flags);
  out += fmt::format(
      "AllocationsAttempted: {}\nAllocationsSucceeded: {}\nAllocationsSucceededSpecialPool: {}\n"
      "AllocationsWithNoTag: {}\nAllocationsFailed: {}\n",
      status.pool.attempted, status.pool.succeeded, status.pool.succeededSpecialPool, status.pool.withNoTag,
      status.pool.failed);
  out += "\nVerified drivers:\n";
  if (status.drivers.empty()) out += "\nNone loaded\n";
  for (const auto& d : status.drivers) {
    out += fmt::format(
        "\nName: {}\nCurrentPagedPoolAllocations: {}\nCurrentNonPagedPoolAllocations: {}\n"
        "PagedPoolUsageInBytes: {}\nNonPagedPoolUsageInBytes: {}\n",
        d.fileName, d.pagedAllocations, d.nonPagedAllocations, d.pagedBytes, d.nonPagedBytes);
  }
  ctx.out(out);
  return kCommandOk;
}

}  // namespace

int RunVerifier(CommandContext& ctx, const std::vector<std::string>& args) {
  auto opt = [](const std::string& a) {
    std::string l = AsciiLower(a);
    if (!l.empty() && l[0] == '-') l[0] = '/';
    return l;
  };
  const std::string op = opt(args[0]);
  Registry& registry = ctx.machine.registry();
  if (op == "/query" || op == "/querysettings" || op == "/reset") {
    if (args.size() != 1) return Invalid(ctx, op + " takes no arguments");
    if (op == "/query") return Query(ctx);
    if (op == "/querysettings") {
      ctx.out(Settings(ReadVerifierSettings(registry)));
      return kCommandOk;
    }
    if (auto r = ResetVerifierSettings(registry); !r) {
      ctx.err(r.error().message + "\n");
      return kCommandFailed;
    }
    ctx.out("The system reboot is required for the changes to take effect.\n");
    ctx.err("ntbox: the change applies at the next boot (ntbox reboot)\n");
    return kCommandOk;
  }

  nt::vf::VerifierConfig config;
  config.allDrivers = false;
  bool haveFlags = false, haveTarget = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string a = opt(args[i]);
    if (a == "/standard") {
      config.flags = vff::kStandard;
      haveFlags = true;
    } else if (a == "/flags") {
      if (i + 1 >= args.size()) return Invalid(ctx, "/flags needs a value");
      const auto flags = ParseFlags(args[++i]);
      if (!flags || *flags == 0) return Invalid(ctx, "'" + args[i] + "' is not a flags value (0x209BB, say)");
      config.flags = *flags;
      haveFlags = true;
    } else if (a == "/all") {
      config.allDrivers = true;
      haveTarget = true;
    } else if (a == "/driver" || a == "/adddriver") {
      if (i + 1 >= args.size()) return Invalid(ctx, "/driver needs at least one driver name");
      while (i + 1 < args.size() && !args[i + 1].starts_with("/") && !args[i + 1].starts_with("-")) {
        config.drivers.push_back(args[++i]);
      }
      if (config.drivers.empty()) return Invalid(ctx, "/driver needs at least one driver name");
      haveTarget = true;
    } else {
      return Invalid(ctx, "unknown option '" + args[i] + "'");
    }
  }
  if (!haveFlags) return Invalid(ctx, "/standard or /flags is needed");
  if (!haveTarget) return Invalid(ctx, "/driver NAME or /all is needed");
  if (config.allDrivers) config.drivers.clear();
  if (auto r = WriteVerifierSettings(registry, config); !r) {
    ctx.err(r.error().message + "\n");
    return kCommandFailed;
  }
  ctx.out("New verifier settings:\n\n" + Settings(config) +
          "\nThe system reboot is required for the changes to take effect.\n");
  ctx.err("ntbox: the change applies at the next boot (ntbox reboot)\n");
  return kCommandOk;
}

}  // namespace ntbox::machine
