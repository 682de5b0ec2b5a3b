// reg.exe: query, add, delete, export, import, with its switches and output. reg.exe asks before
// overwriting or deleting; ntbox never prompts, so /f (and /y for export) must be given.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "machine/RegFile.h"
#include "machine/RegistryViaKernel.h"
#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "support/InputFile.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {


int Usage(CommandContext& ctx, std::string_view problem) {
  ctx.err(fmt::format("ERROR: Invalid syntax. {}\n{}", problem, UsageOf("reg")));
  return kCommandUsage;
}

int Error(CommandContext& ctx, std::string_view message) {
  ctx.err(fmt::format("ERROR: {}\n", message));
  return kCommandFailed;
}

constexpr std::string_view kNotFound = "The system was unable to find the specified registry key or value.";

struct Switches {
  std::optional<std::string> value;  // /v NAME, or "" for /ve
  bool allValues = false;            // /va
  bool recurse = false;              // /s (query)
  std::string type = "REG_SZ";
  std::string separator = "\\0";
  std::optional<std::string> data;
  bool force = false;
};

std::optional<Switches> ParseSwitches(CommandContext& ctx, const std::vector<std::string>& args, std::size_t from,
                                      bool isAdd, std::string& problem) {
  Switches s;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string sw = AsciiUpper(args[i]);
    auto next = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (sw == "/V") {
      s.value = next();
      if (!s.value) return problem = "/v needs a value name", std::nullopt;
    } else if (sw == "/VE") {
      s.value = "";
    } else if (sw == "/VA") {
      s.allValues = true;
    } else if (sw == "/S" && isAdd) {
      auto sep = next();
      if (!sep) return problem = "/s needs a separator", std::nullopt;
      s.separator = *sep;
    } else if (sw == "/S") {
      s.recurse = true;
    } else if (sw == "/T") {
      auto t = next();
      if (!t) return problem = "/t needs a type", std::nullopt;
      s.type = AsciiUpper(*t);
    } else if (sw == "/D") {
      s.data = next();
      if (!s.data) return problem = "/d needs data", std::nullopt;
    } else if (sw == "/F") {
      s.force = true;
    } else {
      return problem = "unknown switch '" + args[i] + "'", std::nullopt;
    }
  }
  (void)ctx;
  return s;
}

std::string DisplayData(const RegValue& v) {
  switch (v.type) {
    case REG_SZ:
    case REG_EXPAND_SZ:
      return v.AsString().value_or("");
    case REG_DWORD:
      if (v.data.size() == 4) return fmt::format("{:#x}", *v.AsDword());
      break;
    case REG_QWORD:
      if (v.data.size() == 8) return fmt::format("{:#x}", *v.AsQword());
      break;
    case REG_MULTI_SZ: {
      std::string out;
      for (const auto& s : v.AsMultiString()) out += (out.empty() ? "" : "\\0") + s;
      return out;
    }
    default:
      break;
  }
  std::string out;
  for (auto b : v.data) out += fmt::format("{:02X}", b);
  return out;
}

std::string ValueLine(const RegValue& v) {
  const std::string_view type = RegTypeName(v.type);
  return fmt::format("    {}    {}    {}\n", v.name.empty() ? "(Default)" : v.name,
                     type.empty() ? fmt::format("REG_{:#x}", v.type) : std::string(type), DisplayData(v));
}

// A value as --json prints it: reg's type name, and the data as JSON has it (numbers, strings, a
// list for REG_MULTI_SZ, hex for the rest).
nlohmann::json ValueJson(const RegValue& v) {
  const std::string_view type = RegTypeName(v.type);
  nlohmann::json data;
  if ((v.type == REG_DWORD && v.data.size() == 4) || (v.type == REG_QWORD && v.data.size() == 8)) {
    data = v.type == REG_DWORD ? std::uint64_t{*v.AsDword()} : *v.AsQword();
  } else if (v.type == REG_MULTI_SZ) {
    data = v.AsMultiString();
  } else {
    data = DisplayData(v);
  }
  return {{"name", v.name},
          {"type", type.empty() ? fmt::format("REG_{:#x}", v.type) : std::string(type)},
          {"data", data}};
}

// One key as --json prints it: its values and subkeys (with /s, the subkeys whole).
nlohmann::json KeyJson(Registry& reg, const std::string& path, const std::string& name, bool recurse) {
  nlohmann::json values = nlohmann::json::array(), subkeys = nlohmann::json::array();
  for (const auto& v : reg.Values(path)) values.push_back(ValueJson(v));
  for (const auto& s : reg.Subkeys(path)) {
    subkeys.push_back(recurse ? KeyJson(reg, path + "\\" + s, name + "\\" + s, true) : nlohmann::json(name + "\\" + s));
  }
  return {{"key", name}, {"values", values}, {"subkeys", subkeys}};
}

void QueryKey(CommandContext& ctx, Registry& reg, const std::string& path, const std::string& name, bool recurse) {
  std::string out = "\n" + name + "\n";
  for (const auto& v : reg.Values(path)) out += ValueLine(v);
  const auto subkeys = reg.Subkeys(path);
  if (!recurse) {
    if (!subkeys.empty()) out += "\n";
    for (const auto& s : subkeys) out += name + "\\" + s + "\n";
    ctx.out(out);
    return;
  }
  ctx.out(out);
  for (const auto& s : subkeys) QueryKey(ctx, reg, path + "\\" + s, name + "\\" + s, true);
}

std::optional<RegValue> BuildValue(const Switches& s, std::string& problem) {
  const auto type = RegTypeFromName(s.type);
  if (!type) return problem = "unknown type " + s.type, std::nullopt;
  const std::string name = s.value.value_or("");
  const std::string data = s.data.value_or("");
  switch (*type) {
    case REG_SZ:
    case REG_EXPAND_SZ:
      return RegValue::String(name, data, *type);
    case REG_DWORD:
    case REG_QWORD: {
      if (data.empty()) return *type == REG_DWORD ? RegValue::Dword(name, 0) : RegValue::Qword(name, 0);
      std::size_t used = 0;
      unsigned long long n = 0;
      try {
        n = std::stoull(data, &used, 0);
      } catch (...) {
        used = 0;
      }
      if (used != data.size() || (*type == REG_DWORD && n > 0xFFFFFFFFull)) {
        return problem = "'" + data + "' is not a " + s.type + " number", std::nullopt;
      }
      return *type == REG_DWORD ? RegValue::Dword(name, static_cast<std::uint32_t>(n)) : RegValue::Qword(name, n);
    }
    case REG_MULTI_SZ: {
      std::vector<std::string> parts;
      std::size_t start = 0;
      while (!data.empty()) {
        const auto at = data.find(s.separator, start);
        parts.push_back(data.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) break;
        start = at + s.separator.size();
      }
      return RegValue::MultiString(name, parts);
    }
    default: {
      if (data.size() % 2 || data.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return problem = "binary data must be an even number of hex digits", std::nullopt;
      }
      RegValue v{name, *type, {}};
      for (std::size_t i = 0; i < data.size(); i += 2) {
        v.data.push_back(static_cast<std::uint8_t>(std::stoul(data.substr(i, 2), nullptr, 16)));
      }
      return v;
    }
  }
}

// A change to the registry: while the machine runs, through the kernel's services (drivers' registry
// callbacks hear it and may refuse it, as on Windows); on a machine opened offline, directly.
template <class Direct, class ViaKernel>
Result<void> Change(CommandContext& ctx, Direct direct, ViaKernel viaKernel) {
  if (ctx.machine.offline()) return direct();
  return ctx.machine.ChangeRegistry([&] { return viaKernel(); });
}

}  // namespace

int RunReg(CommandContext& ctx, const std::vector<std::string>& args) {
  const std::string op = AsciiUpper(args[0]);
  Registry& reg = ctx.machine.registry();

  if (op == "IMPORT") {
    if (args.size() != 2) return Usage(ctx, "import needs one file");
    const auto file = ClientPath(ctx, args[1]);
    constexpr std::uint64_t kMaxRegFile = 256u << 20;  // far beyond any exported hive
    const auto bytes = ReadInputFile(file.string(), kMaxRegFile, "a .reg file");
    if (!bytes) {
      return Error(ctx, "Error opening the file. There may be a disk or file system error. (" +
                            bytes.error().message + ")");
    }
    auto ops = ParseRegFile(*bytes);
    if (!ops) return Error(ctx, fmt::format("{}: {}; nothing was imported", args[1], ops.error().message));
    if (auto r = ApplyRegFile(reg, *ops); !r) return Error(ctx, r.error().message + "; nothing was imported");
    ctx.out("The operation completed successfully.\n");
    return kCommandOk;
  }
  if (op != "QUERY" && op != "ADD" && op != "DELETE" && op != "EXPORT") return Usage(ctx, "unknown operation " + args[0]);
  if (args.size() < 2) return Usage(ctx, "a key name is needed");
  const auto path = RegistryPathFromKeyName(args[1]);
  if (!path) return Error(ctx, "Invalid key name. (the roots are HKLM, HKU and HKCU)");
  const std::string name = LongKeyName(args[1]);

  if (op == "EXPORT") {
    if (args.size() < 3) return Usage(ctx, "export needs a file name");
    bool overwrite = args.size() == 4 && AsciiUpper(args[3]) == "/Y";
    if (args.size() > 4 || (args.size() == 4 && !overwrite)) return Usage(ctx, "export takes KEY FILE [/y]");
    if (!reg.KeyExists(*path)) return Error(ctx, kNotFound);
    const auto file = ClientPath(ctx, args[2]);
    if (std::filesystem::exists(file) && !overwrite) {
      return Error(ctx, "the file exists; add /y to overwrite it (ntbox does not prompt)");
    }
    const auto bytes = ExportRegFile(reg, *path, name);
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Error(ctx, "cannot write " + file.string());
    ctx.out("The operation completed successfully.\n");
    return kCommandOk;
  }

  std::string problem;
  const auto s = ParseSwitches(ctx, args, 2, op == "ADD", problem);
  if (!s) return Usage(ctx, problem);

  if (op == "QUERY") {
    if (!reg.KeyExists(*path)) return Error(ctx, kNotFound);
    if (s->value) {
      const auto v = reg.GetValue(*path, *s->value);
      if (!v) return Error(ctx, kNotFound);
      if (ctx.json) {
        ctx.out(nlohmann::json{{"key", name}, {"values", {ValueJson(*v)}}}.dump() + "\n");
      } else {
        ctx.out("\n" + name + "\n" + ValueLine(*v) + "\n");
      }
      return kCommandOk;
    }
    if (ctx.json) {
      ctx.out(KeyJson(reg, *path, name, s->recurse).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
              "\n");
      return kCommandOk;
    }
    QueryKey(ctx, reg, *path, name, s->recurse);
    return kCommandOk;
  }
  if (op == "ADD") {
    if (!s->value) {
      if (s->data) return Usage(ctx, "/d needs /v NAME or /ve");
      if (auto r = Change(ctx, [&] { return reg.CreateKey(*path); }, [&] { return via_kernel::CreateKey(*path); }); !r) {
        return Error(ctx, r.error().message);
      }
      ctx.out("The operation completed successfully.\n");
      return kCommandOk;
    }
    auto value = BuildValue(*s, problem);
    if (!value) return Usage(ctx, problem);
    if (!s->force && reg.GetValue(*path, value->name)) {
      return Error(ctx, "Value " + (value->name.empty() ? std::string("(Default)") : value->name) +
                            " exists; add /f to overwrite it (ntbox does not prompt)");
    }
    if (auto r = Change(ctx, [&] { return reg.SetValue(*path, *value); },
                        [&] { return via_kernel::SetValue(*path, *value); });
        !r) {
      return Error(ctx, r.error().message);
    }
    ctx.out("The operation completed successfully.\n");
    return kCommandOk;
  }
  // DELETE
  if (!s->force) return Error(ctx, "add /f to delete (ntbox does not prompt)");
  if (!reg.KeyExists(*path)) return Error(ctx, kNotFound);
  Result<void> r;
  if (s->value) {
    r = Change(ctx, [&] { return reg.DeleteValue(*path, *s->value); },
               [&] { return via_kernel::DeleteValue(*path, *s->value); });
  } else if (s->allValues) {
    r = Change(
        ctx,
        [&] {
          return reg.Atomically([&]() -> Result<void> {
            for (const auto& v : reg.Values(*path)) {
              if (auto d = reg.DeleteValue(*path, v.name); !d) return d;
            }
            return {};
          });
        },
        [&] { return via_kernel::DeleteAllValues(*path); });
  } else {
    r = Change(ctx, [&] { return reg.DeleteKey(*path); }, [&] { return via_kernel::DeleteKey(reg, *path); });
  }
  if (!r) {
    if (r.error().win32 == 2) return Error(ctx, kNotFound);
    if (r.error().win32 == 5) {
      // A driver's registry callback refused it (the message says so), or the key is the machine's.
      const bool said = r.error().message.starts_with("Access is denied");
      return Error(ctx, said ? r.error().message : "Access is denied. (" + r.error().message + ")");
    }
    return Error(ctx, r.error().message);
  }
  ctx.out("The operation completed successfully.\n");
  return kCommandOk;
}

}  // namespace ntbox::machine
