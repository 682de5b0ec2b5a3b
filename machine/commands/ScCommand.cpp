// sc.exe for drivers: create, config, start, stop, delete, query, qc, description, qdescription, with sc's `key= value` syntax, its
// output blocks and its "[SC] <Api> FAILED <code>:" failures.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "nt/rtl/Win32Error.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {


int Usage(CommandContext& ctx, std::string_view problem) {
  ctx.err(fmt::format("ntbox sc: {}\n{}", problem, UsageOf("sc")));
  return kCommandUsage;
}

// sc's options: "key= value" (two tokens, as sc.exe wants) or "key=value".
std::optional<std::vector<std::pair<std::string, std::string>>> ParseOptions(
    const std::vector<std::string>& args, std::size_t from, std::string& problem) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      problem = "expected key= value, found '" + a + "'";
      return std::nullopt;
    }
    std::string key = AsciiLower(a.substr(0, eq));
    std::string value = a.substr(eq + 1);
    if (value.empty()) {
      if (i + 1 >= args.size()) {
        problem = "'" + a + "' needs a value (sc wants a space after the '=')";
        return std::nullopt;
      }
      value = args[++i];
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::string_view TypeName(std::uint32_t type) {
  return type == SERVICE_KERNEL_DRIVER ? "KERNEL_DRIVER" : type == SERVICE_FILE_SYSTEM_DRIVER ? "FILE_SYSTEM_DRIVER"
                                                                                               : "UNKNOWN";
}

std::string_view StateName(ServiceState s) {
  switch (s) {
    case ServiceState::kStopped:
      return "STOPPED";
    case ServiceState::kStartPending:
      return "START_PENDING";
    case ServiceState::kStopPending:
      return "STOP_PENDING";
    case ServiceState::kRunning:
      return "RUNNING";
  }
  return "UNKNOWN";
}

std::string_view StartName(std::uint32_t start) {
  static constexpr std::string_view names[] = {"BOOT_START", "SYSTEM_START", "AUTO_START", "DEMAND_START",
                                               "DISABLED"};
  return start < 5 ? names[start] : "UNKNOWN";
}

std::string_view ErrorControlName(std::uint32_t e) {
  static constexpr std::string_view names[] = {"IGNORE", "NORMAL", "SEVERE", "CRITICAL"};
  return e < 4 ? names[e] : "UNKNOWN";
}

// A service as --json prints it: SERVICE_STATUS and the configuration, by sc's names.
nlohmann::json ServiceJson(const ServiceStatus& s) {
  const ServiceConfig& c = s.config;
  return {{"service_name", c.name},
          {"display_name", c.displayName},
          {"type", c.type},
          {"type_name", TypeName(c.type)},
          {"state", static_cast<std::uint32_t>(s.state)},
          {"state_name", StateName(s.state)},
          {"win32_exit_code", s.win32ExitCode},
          {"service_exit_code", s.serviceExitCode},
          {"start_type", c.start},
          {"start_type_name", StartName(c.start)},
          {"error_control", c.errorControl},
          {"error_control_name", ErrorControlName(c.errorControl)},
          {"binary_path_name", c.imagePath},
          {"load_order_group", c.group},
          {"description", c.description}};
}

// The SERVICE_STATUS block; queryEx adds PID and FLAGS (sc start prints them).
std::string StatusBlock(const ServiceStatus& s, bool enumeration, bool queryEx) {
  std::string out = fmt::format("\nSERVICE_NAME: {}\n", s.config.name);
  if (enumeration) out += fmt::format("DISPLAY_NAME: {}\n", s.config.displayName);
  out += fmt::format("        TYPE               : {:<2} {}\n", s.config.type, TypeName(s.config.type));
  out += fmt::format("        STATE              : {:<2} {}\n", static_cast<std::uint32_t>(s.state), StateName(s.state));
  if (s.state != ServiceState::kStopped) {
    out += "                                (STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\n";
  }
  out += fmt::format("        WIN32_EXIT_CODE    : {}  ({:#x})\n", s.win32ExitCode, s.win32ExitCode);
  out += fmt::format("        SERVICE_EXIT_CODE  : {}  ({:#x})\n", s.serviceExitCode, s.serviceExitCode);
  out += "        CHECKPOINT         : 0x0\n";
  out += "        WAIT_HINT          : 0x0\n";
  if (queryEx) {
    out += "        PID                : 0\n";
    out += "        FLAGS              :\n";
  }
  return out;
}

// "[SC] StartService FAILED 1275:\n\nThis driver has been blocked from loading\n\n", and ntbox's
// own explanation on stderr when it knows more than the code says.
int Failed(CommandContext& ctx, std::string_view api, const Error& e) {
  if (e.win32 == 0) {  // not a Win32 failure: a bugcheck report or an ntbox error
    if (ctx.machine.crashReport()) {
      ctx.out(e.message);  // the report; the server's answer names the stop and where the report is
      return kCommandBugCheck;
    }
    ctx.err("ntbox sc: " + e.message + "\n");
    return kCommandFailed;
  }
  const std::string_view text = nt::Win32ErrorMessage(e.win32);
  ctx.out(fmt::format("[SC] {} FAILED {}:\n\n{}\n\n", api, e.win32, text));
  if (!e.message.empty() && e.message != text) ctx.err("ntbox: " + e.message + "\n");
  return kCommandFailed;
}

bool IsNoSuchService(const Error& e) { return e.win32 == 1060; }

// sc's keywords, at the index of the value they stand for (SERVICE_BOOT_START …, SERVICE_ERROR_IGNORE …).
constexpr std::string_view kStartKeywords[] = {"boot", "system", "auto", "demand", "disabled"};
constexpr std::string_view kErrorKeywords[] = {"ignore", "normal", "severe", "critical"};

template <std::size_t N>
std::optional<std::uint32_t> IndexOf(const std::string_view (&keywords)[N], std::string_view v) {
  for (std::size_t i = 0; i < N; ++i) {
    if (keywords[i] == v) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

// The key= value options create and config share, applied to config; the problem when one is bad.
std::optional<std::string> ApplyOptions(CommandContext& ctx, const std::vector<std::pair<std::string, std::string>>& options,
                                        ServiceConfig& config, bool& typeGiven) {
  for (const auto& [key, value] : options) {
    const std::string v = AsciiLower(value);
    if (key == "type") {
      if (v == "kernel") {
        config.type = SERVICE_KERNEL_DRIVER;
        typeGiven = true;
      } else if (v == "filesys") {
        config.type = SERVICE_FILE_SYSTEM_DRIVER;
        typeGiven = true;
      } else if (v == "own" || v == "share" || v == "interact" || v == "userown" || v == "usershare") {
        return "type= " + value + " is a Win32 service; ntbox runs drivers (type= kernel or filesys)";
      } else {
        return "unknown type= " + value;
      }
    } else if (key == "start") {
      const auto start = IndexOf(kStartKeywords, v);
      if (!start) return "unknown start= " + value;
      config.start = *start;
    } else if (key == "error") {
      const auto error = IndexOf(kErrorKeywords, v);
      if (!error) return "unknown error= " + value;
      config.errorControl = *error;
    } else if (key == "binpath") {
      config.imagePath = Machine::ToImagePath(value, ctx.cwd);
    } else if (key == "displayname") {
      config.displayName = value;
    } else if (key == "group") {
      config.group = value;
    } else if (key == "tag" || key == "depend" || key == "obj" || key == "password") {
      // Accepted as sc.exe does; they do not matter to a driver here.
    } else {
      return "unknown option " + key + "=";
    }
  }
  return std::nullopt;
}

int Create(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() < 2) return Usage(ctx, "create needs a service name");
  std::string problem;
  const auto options = ParseOptions(args, 2, problem);
  if (!options) return Usage(ctx, problem);
  ServiceConfig config;
  config.name = args[1];
  bool typeGiven = false;
  if (auto bad = ApplyOptions(ctx, *options, config, typeGiven)) return Usage(ctx, *bad);
  if (!typeGiven) {
    return Usage(ctx, "create needs type= kernel (sc.exe would create a Win32 service; ntbox runs drivers)");
  }
  if (config.imagePath.empty()) return Usage(ctx, "create needs binPath= PATH");
  auto created = ctx.machine.CreateService(config);
  if (!created) return Failed(ctx, "CreateService", created.error());
  ctx.out("[SC] CreateService SUCCESS\n");
  return kCommandOk;
}

// sc config NAME key= value ...: what create takes, on an existing service.
int Config(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() < 3) return Usage(ctx, "config needs a service name and at least one key= value");
  std::string problem;
  const auto options = ParseOptions(args, 2, problem);
  if (!options) return Usage(ctx, problem);
  // Checked on a scratch copy before the machine is asked: an unknown keyword changes nothing.
  ServiceConfig scratch;
  bool typeGiven = false;
  if (auto bad = ApplyOptions(ctx, *options, scratch, typeGiven)) return Usage(ctx, *bad);
  auto changed = ctx.machine.ConfigureService(args[1], [&](ServiceConfig& c) {
    (void)ApplyOptions(ctx, *options, c, typeGiven);
  });
  if (!changed) return Failed(ctx, IsNoSuchService(changed.error()) ? "OpenService" : "ChangeServiceConfig",
                              changed.error());
  ctx.out("[SC] ChangeServiceConfig SUCCESS\n");
  return kCommandOk;
}

// sc description NAME TEXT: the service's description ("" removes it), as ChangeServiceConfig2 sets it.
int Description(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() < 3) return Usage(ctx, "description needs a service name and the text");
  std::string text;
  for (std::size_t i = 2; i < args.size(); ++i) text += (i > 2 ? " " : "") + args[i];
  if (Utf8ToUtf16(text).size() >= 1024) return Usage(ctx, "a description has at most 1023 characters");
  auto changed = ctx.machine.ConfigureService(args[1], [&](ServiceConfig& c) { c.description = text; });
  if (!changed) return Failed(ctx, IsNoSuchService(changed.error()) ? "OpenService" : "ChangeServiceConfig2",
                              changed.error());
  ctx.out("[SC] ChangeServiceConfig2 SUCCESS\n");
  return kCommandOk;
}

int QDescription(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage(ctx, "qdescription needs one service name");
  auto status = ctx.machine.QueryService(args[1]);
  if (!status) return Failed(ctx, "OpenService", status.error());
  ctx.out(fmt::format("[SC] QueryServiceConfig2 SUCCESS\n\nSERVICE_NAME: {}\nDESCRIPTION:  {}\n", status->config.name,
                      status->config.description));
  return kCommandOk;
}

int Query(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1].find('=') == std::string::npos) {
    auto status = ctx.machine.QueryService(args[1]);
    if (!status) {
      return Failed(ctx, IsNoSuchService(status.error()) ? "EnumQueryServicesStatus:OpenService" : "QueryService",
                    status.error());
    }
    ctx.out(ctx.json ? ServiceJson(*status).dump() + "\n" : StatusBlock(*status, false, false));
    return kCommandOk;
  }
  std::string problem;
  const auto options = ParseOptions(args, 1, problem);
  if (!options) return Usage(ctx, problem);
  std::string state = "active";
  for (const auto& [key, value] : *options) {
    const std::string v = AsciiLower(value);
    if (key == "type") {
      if (v != "driver" && v != "all" && v != "kernel" && v != "filesys") {
        return Usage(ctx, "type= " + value + ": ntbox has drivers only (type= driver)");
      }
    } else if (key == "state") {
      if (v != "active" && v != "inactive" && v != "all") return Usage(ctx, "unknown state= " + value);
      state = v;
    } else if (key != "bufsize" && key != "ri" && key != "group") {
      return Usage(ctx, "unknown option " + key + "=");
    }
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : ctx.machine.QueryServices()) {
    const bool running = s.state != ServiceState::kStopped;
    if ((state == "active" && !running) || (state == "inactive" && running)) continue;
    if (ctx.json) {
      list.push_back(ServiceJson(s));
    } else {
      ctx.out(StatusBlock(s, true, false));
    }
  }
  if (ctx.json) ctx.out(list.dump() + "\n");
  return kCommandOk;
}

int Qc(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage(ctx, "qc needs one service name");
  auto status = ctx.machine.QueryService(args[1]);
  if (!status) return Failed(ctx, "OpenService", status.error());
  if (ctx.json) {
    ctx.out(ServiceJson(*status).dump() + "\n");
    return kCommandOk;
  }
  const ServiceConfig& c = status->config;
  ctx.out(fmt::format(
      "[SC] QueryServiceConfig SUCCESS\n\n"
      "SERVICE_NAME: {}\n"
      "        TYPE               : {:<2} {}\n"
      "        START_TYPE         : {:<3} {}\n"
      "        ERROR_CONTROL      : {:<3} {}\n"
      "        BINARY_PATH_NAME   : {}\n"
      "        LOAD_ORDER_GROUP   : {}\n"
      "        TAG                : 0\n"
      "        DISPLAY_NAME       : {}\n"
      "        DEPENDENCIES       : \n"
      "        SERVICE_START_NAME : \n",
      c.name, c.type, TypeName(c.type), c.start, StartName(c.start), c.errorControl,
      ErrorControlName(c.errorControl), c.imagePath, c.group, c.displayName));
  return kCommandOk;
}

}  // namespace

int RunSc(CommandContext& ctx, const std::vector<std::string>& args) {
  const std::string command = AsciiLower(args[0]);
  if (command == "create") return Create(ctx, args);
  if (command == "query" || command == "queryex") return Query(ctx, args);
  if (command == "qc") return Qc(ctx, args);
  if (command == "config") return Config(ctx, args);
  if (command == "description") return Description(ctx, args);
  if (command == "qdescription") return QDescription(ctx, args);
  if (command != "start" && command != "stop" && command != "delete") {
    return Usage(ctx, "unknown command '" + args[0] + "'");
  }
  if (args.size() != 2) return Usage(ctx, command + " needs one service name");
  const std::string& name = args[1];
  if (command == "start") {
    auto started = ctx.machine.StartService(name);
    if (!started) {
      return Failed(ctx, IsNoSuchService(started.error()) ? "StartService: OpenService" : "StartService",
                    started.error());
    }
    ctx.out(StatusBlock(*started, false, true));
    return kCommandOk;
  }
  if (command == "stop") {
    auto stopped = ctx.machine.StopService(name);
    if (!stopped) {
      return Failed(ctx, IsNoSuchService(stopped.error()) ? "OpenService" : "ControlService", stopped.error());
    }
    ctx.out(StatusBlock(*stopped, false, false));
    return kCommandOk;
  }
  auto deleted = ctx.machine.DeleteService(name);
  if (!deleted) return Failed(ctx, IsNoSuchService(deleted.error()) ? "OpenService" : "DeleteService", deleted.error());
  ctx.out("[SC] DeleteService SUCCESS\n");
  return kCommandOk;
}

}  // namespace ntbox::machine
