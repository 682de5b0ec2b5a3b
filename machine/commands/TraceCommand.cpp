// tracelog and tracefmt: trace sessions as the WDK's tracelog.exe starts and stops them (-start NAME
// -guid #GUID -level N -flag 0x..., -enable, -disable, -stop, -l, -q), and the events a session
// kept, one line each as tracefmt prints them (the provider, the event's id, level and keywords, and
// its fields; WPP messages by their message GUID and number, arguments in order).
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "nt/etw/Etw.h"
#include "nt/etw/Tmf.h"
#include "support/HostFiles.h"
#include "support/InputFile.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {


std::optional<std::uint64_t> Number(const std::string& text) {
  try {
    std::size_t used = 0;
    const std::uint64_t v = std::stoull(text, &used, 0);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

void Describe(CommandContext& ctx, const nt::etw::SessionInfo& s) {
  std::string out = fmt::format("Logger Name:            {}\nLogger Id:              {}\n", s.name, s.loggerId);
  out += fmt::format("Level:                  {}\nEnable Flags:           0x{:08X}\n", s.level, s.anyKeyword);
  if (s.allKeyword) out += fmt::format("Match All Keyword:      0x{:016X}\n", s.allKeyword);
  for (const auto& g : s.providers) out += fmt::format("Enabled Provider:       {}\n", nt::etw::GuidText(g));
  if (s.realTime) out += "Real Time:              events also go to dbgview\n";
  out += fmt::format("Events Written:         {}\nEvents Lost:            {}\n", s.events, s.lost);
  ctx.out(out);
}

std::optional<nt::etw::SessionInfo> Find(CommandContext& ctx, const std::string& name) {
  std::optional<nt::etw::SessionInfo> found;
  (void)ctx.machine.RunInKernel([&] {
    for (auto& s : nt::etw::Sessions()) {
      if (s.name == name) found = s;
    }
  });
  return found;
}

int Failed(CommandContext& ctx, const Error& e) {
  ctx.out(fmt::format("Operation Status:       {}L      {}\n", e.win32, e.message));
  return kCommandFailed;
}

}  // namespace

int RunTracelog(CommandContext& ctx, const std::vector<std::string>& args) {
  const std::string op = AsciiLower(args[0]);
  auto usage = [&](std::string_view problem) {
    ctx.err(fmt::format("ntbox tracelog: {}\n{}", problem, UsageOf("tracelog")));
    return kCommandUsage;
  };
  if (op == "-l") {
    std::vector<nt::etw::SessionInfo> sessions;
    if (auto r = ctx.machine.RunInKernel([&] { sessions = nt::etw::Sessions(); }); !r) return Failed(ctx, r.error());
    for (const auto& s : sessions) {
      Describe(ctx, s);
      ctx.out("\n");
    }
    if (sessions.empty()) ctx.out("No trace sessions are running.\n");
    return kCommandOk;
  }
  if (args.size() < 2) return usage("a session name is needed");
  const std::string name = args[1];
  std::vector<nt::GUID> guids;
  unsigned level = 0;
  std::uint64_t any = 0, all = 0;
  bool realTime = false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string option = AsciiLower(args[i]);
    if (option == "-rt") {
      realTime = true;
      continue;
    }
    if (i + 1 >= args.size()) return usage("option " + args[i] + " needs a value");
    const std::string& value = args[++i];
    if (option == "-guid") {
      const auto g = nt::etw::ParseGuid(value);
      if (!g) return usage("not a GUID: " + value + " (#xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
      guids.push_back(*g);
    } else if (option == "-level") {
      const auto v = Number(value);
      if (!v || *v > 255) return usage("-level takes 0 to 255");
      level = static_cast<unsigned>(*v);
    } else if (option == "-flag" || option == "-flags" || option == "-matchanykw") {
      const auto v = Number(value);
      if (!v) return usage(option + " takes a number (0x...)");
      any = *v;
    } else if (option == "-matchallkw") {
      const auto v = Number(value);
      if (!v) return usage("-matchallkw takes a number (0x...)");
      all = *v;
    } else {
      return usage("unknown option " + args[i - 1]);
    }
  }
  Result<void> status;
  if (op == "-start") {
    auto r = ctx.machine.RunInKernel([&] {
      status = nt::etw::StartSession(name, static_cast<nt::UCHAR>(level), any, all, realTime);
      for (const auto& g : guids) {
        if (status) status = nt::etw::EnableProvider(name, g, true);
      }
    });
    if (!r) return Failed(ctx, r.error());
    if (!status) return Failed(ctx, status.error());
    ctx.out("Logger Started...\n");
  } else if (op == "-enable" || op == "-disable") {
    if (guids.empty()) return usage(op + " needs -guid");
    auto r = ctx.machine.RunInKernel([&] {
      for (const auto& g : guids) {
        if (status) status = nt::etw::EnableProvider(name, g, op == "-enable");
      }
    });
    if (!r) return Failed(ctx, r.error());
    if (!status) return Failed(ctx, status.error());
  } else if (op == "-stop") {
    const auto before = Find(ctx, name);
    auto r = ctx.machine.RunInKernel([&] { status = nt::etw::StopSession(name); });
    if (!r) return Failed(ctx, r.error());
    if (!status) return Failed(ctx, status.error());
    ctx.out("Operation Status:       0L      The operation completed successfully.\n");
    if (before) Describe(ctx, *before);
    return kCommandOk;
  } else if (op != "-q") {
    return usage("unknown operation " + args[0]);
  }
  const auto now = Find(ctx, name);
  if (!now) return Failed(ctx, Error{"The instance name passed was not recognized as valid by a WMI data provider.", 0, 4201});
  ctx.out("Operation Status:       0L      The operation completed successfully.\n");
  Describe(ctx, *now);
  return kCommandOk;
}

namespace {

constexpr std::uint64_t kMaxTmfFile = 16u << 20;
constexpr std::size_t kMaxTmfFiles = 4096;

Result<void> AddTmf(nt::etw::TmfSet& set, const std::filesystem::path& file) {
  auto bytes = ReadInputFile(file.string(), kMaxTmfFile, "a TMF file");
  if (!bytes) return std::unexpected(bytes.error());
  return set.Add(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), file.string());
}

}  // namespace

int RunTracefmt(CommandContext& ctx, const std::vector<std::string>& args) {
  auto usage = [&] {
    ctx.err(std::string(UsageOf("tracefmt")));
    return kCommandUsage;
  };
  auto cannot = [&](const std::string& why) {
    ctx.err("ntbox tracefmt: " + why + "\n");
    return kCommandFailed;
  };
  std::string session;
  nt::etw::TmfSet tmf;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-tmf" || args[i] == "-p") && i + 1 < args.size()) {
      const std::filesystem::path path = ClientPath(ctx, args[++i]);
      std::vector<std::filesystem::path> files;
      if (args[i - 1] == "-tmf") {
        files.push_back(path);
      } else {
        // As its client sees the folder (the server does not look into the user's folders).
        for (const auto& name : HostDirectoryEntries(path.string())) {
          if (std::filesystem::path(name).extension() == ".tmf" && files.size() < kMaxTmfFiles) files.push_back(path / name);
        }
        if (files.empty()) return cannot(fmt::format("{}: no .tmf files there", path.string()));
      }
      for (const auto& file : files) {
        if (auto r = AddTmf(tmf, file); !r) return cannot(r.error().message);
      }
    } else if (session.empty() && !args[i].starts_with("-")) {
      session = args[i];
    } else {
      return usage();
    }
  }
  if (session.empty()) return usage();
  Result<std::vector<nt::etw::Event>> events;
  std::uint64_t lost = 0;
  if (auto r = ctx.machine.RunInKernel([&] {
        events = nt::etw::SessionEvents(session);
        for (const auto& s : nt::etw::Sessions()) {
          if (s.name == session) lost = s.lost;
        }
      });
      !r) {
    return Failed(ctx, r.error());
  }
  if (!events) return Failed(ctx, events.error());
  std::string out;
  for (const auto& e : *events) out += nt::etw::FormatEvent(e, &tmf) + "\n";
  out += fmt::format("Total Events Processed: {}\nEvents Lost:            {}\n", events->size(), lost);
  ctx.out(out);
  return kCommandOk;
}

}  // namespace ntbox::machine
