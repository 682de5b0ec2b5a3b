#include "machine/commands/Syntax.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "support/Suggest.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {

struct Syntax {
  std::string_view command;
  std::string_view usage;
  // The first argument is one of these (compared without case); empty: anything.
  std::vector<std::string_view> verbs;
};

const std::array<Syntax, 6>& Table() {
  static const std::array<Syntax, 6> table{{
      {"sc",
    "usage: ntbox sc <command> [service] [key= value ...]\n"
    "  create NAME type= kernel|filesys binPath= PATH [start= boot|system|auto|demand|disabled]\n"
    "              [error= normal|ignore|severe|critical] [DisplayName= TEXT] [group= GROUP]\n"
    "  config NAME [start= ...] [error= ...] [binPath= PATH] [DisplayName= TEXT] [group= GROUP]\n"
    "  start NAME | stop NAME | delete NAME | qc NAME\n"
    "  description NAME TEXT | qdescription NAME\n"
    "  query [NAME] | query [type= driver|all] [state= active|inactive|all]\n"
    "keywords (each followed by a space, as sc.exe wants): type= start= error= binPath= DisplayName= group=\n"
    "--json after query, queryex or qc prints JSON (a list for query without a name)\n"
    "example: ntbox sc create mydrv type= kernel binPath= build/MyDriver.sys && ntbox sc start mydrv\n",
       {"create", "config", "start", "stop", "delete", "qc", "query", "queryex", "description", "qdescription"}},
      {"reg",
    "usage: ntbox reg query KEY [/v NAME | /ve] [/s]\n"
    "       ntbox reg add KEY [/v NAME | /ve] [/t TYPE] [/s SEPARATOR] [/d DATA] /f\n"
    "       ntbox reg delete KEY [/v NAME | /ve | /va] /f\n"
    "       ntbox reg export KEY FILE.reg [/y]\n"
    "       ntbox reg import FILE.reg\n"
    "KEY is HKLM\\..., HKU\\... or HKCU\\...; TYPE is REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD,\n"
    "REG_BINARY or REG_NONE.\n"
    "switches: /v value name, /ve the default value, /va all values, /s subkeys (query) or separator (add),\n"
    "/t type, /d data, /f no prompt, /y overwrite\n"
    "--json after query prints the key as JSON (its values typed, its subkeys; whole with /s)\n"
    "example: ntbox reg query HKLM\\SYSTEM\\CurrentControlSet\\Services\\mydrv /s\n",
       {"query", "add", "delete", "export", "import"}},
      {"bcdedit",
    "usage: ntbox bcdedit /set [{current}] testsigning on|off\n"
    "       ntbox bcdedit /set [{current}] debug on|off\n"
    "       ntbox bcdedit /set [{current}] numproc N        (1-64 virtual processors; default 2)\n"
    "       ntbox bcdedit /deletevalue [{current}] numproc\n"
    "       ntbox bcdedit /set [{current}] safeboot minimal|network   (boot without boot/system/auto-start drivers)\n"
    "       ntbox bcdedit /deletevalue [{current}] safeboot\n"
    "       ntbox bcdedit /debug [{current}] on|off\n"
    "       ntbox bcdedit /set [{current}] rewrite on|off   (drivers' privileged instructions rewritten at load; default on)\n"
    "       ntbox bcdedit /enum [{current}|ACTIVE]\n"
    "Changes apply at the next boot: ntbox reboot.\n"
    "example: ntbox bcdedit /set testsigning on && ntbox reboot\n",
       {"/set", "/deletevalue", "/debug", "/enum"}},
      {"verifier",
    "usage: ntbox verifier /standard /driver NAME [NAME ...]\n"
    "       ntbox verifier /standard /all\n"
    "       ntbox verifier /flags VALUE /driver NAME [NAME ...] | /all\n"
    "       ntbox verifier /querysettings     the stored settings\n"
    "       ntbox verifier /query             what the running machine verifies, with pool figures\n"
    "       ntbox verifier /reset             verify nothing\n"
    "/standard is /flags 0x209BB. Changes apply at the next boot: ntbox reboot.\n"
    "--json after /query prints verifier.exe's fields as one JSON object\n"
    "example: ntbox verifier /standard /driver mydrv.sys && ntbox reboot\n",
       {"/standard", "/flags", "/driver", "/adddriver", "/all", "/query", "/querysettings", "/reset"}},
      {"tracelog",
    "usage: ntbox tracelog -start NAME [-rt] [-guid #GUID]... [-level N] [-flag 0xFLAGS] [-matchanykw 0xK] "
    "[-matchallkw 0xK]\n"
    "       ntbox tracelog -enable NAME -guid #GUID...    ntbox tracelog -disable NAME -guid #GUID...\n"
    "       ntbox tracelog -stop NAME    ntbox tracelog -q NAME    ntbox tracelog -l\n"
    "example: ntbox tracelog -start mytrace -guid #5c4a3a0e-2f1b-4d8e-9c61-6a2b1e0f7d11 -level 5 -flag 0xff\n",
       {"-start", "-enable", "-disable", "-stop", "-q", "-l"}},
      {"tracefmt",
       "usage: ntbox tracefmt SESSION [-tmf FILE.tmf]... [-p TMF-FOLDER]\n"
       "  the events the running session kept; WPP messages formatted by their TMF files\n"
       "example: ntbox tracefmt mytrace\n",
       {}},
  }};
  return table;
}

const Syntax* Find(std::string_view command) {
  for (const Syntax& s : Table()) {
    if (s.command == command) return &s;
  }
  return nullptr;
}

// The commands whose output --json turns into JSON: with verbs, only those verbs.
struct JsonOutput {
  std::string_view command;
  std::vector<std::string_view> verbs;
};
const std::array<JsonOutput, 5>& JsonOutputs() {
  static const std::array<JsonOutput, 5> table{{
      {"sc", {"query", "queryex", "qc"}},
      {"reg", {"query"}},
      {"verifier", {"/query", "-query"}},
      {"ioctl", {}},
      {"lm", {}},
  }};
  return table;
}

// nullopt when the command (args without --json) prints JSON for --json, else the message that
// says which commands do.
std::optional<std::string> JsonRefusal(std::string_view command, const std::vector<std::string>& args) {
  const std::string verb = args.empty() ? std::string() : AsciiLower(args[0]);
  std::vector<std::string> names;
  for (const auto& j : JsonOutputs()) {
    if (j.command == command && (j.verbs.empty() || std::find(j.verbs.begin(), j.verbs.end(), verb) != j.verbs.end())) {
      return std::nullopt;
    }
    if (j.verbs.empty()) {
      names.emplace_back(j.command);
    } else {
      for (const auto v : j.verbs) {
        if (!v.starts_with('-')) names.push_back(fmt::format("{} {}", j.command, v));
      }
    }
  }
  const std::string last = names.back();
  names.pop_back();
  return fmt::format("ntbox {}: --json is for {} and {}\n", command, fmt::join(names, ", "), last);
}

bool IsHelpRequest(std::string_view arg) { return arg == "/?" || arg == "-?" || arg == "-h" || arg == "--help"; }

}  // namespace

std::string_view UsageOf(std::string_view command) {
  const Syntax* s = Find(command);
  return s ? s->usage : std::string_view{};
}

std::vector<std::string_view> VerbsOf(std::string_view command) {
  const Syntax* s = Find(command);
  return s ? s->verbs : std::vector<std::string_view>{};
}

std::optional<int> CheckSyntax(std::string_view command, const std::vector<std::string>& given, std::string& out,
                               std::string& err) {
  const Syntax* s = Find(command);
  if (!s) return std::nullopt;
  std::vector<std::string> args;
  std::copy_if(given.begin(), given.end(), std::back_inserter(args), [](const std::string& a) { return a != "--json"; });
  if (args.empty()) {
    err = fmt::format("ntbox {}: a command is needed\n{}", command, s->usage);
    return 2;
  }
  if (std::any_of(args.begin(), args.end(), [](const std::string& a) { return IsHelpRequest(a); })) {
    out = std::string(s->usage);
    return 0;
  }
  const bool json = args.size() != given.size();
  const auto refusal = json ? JsonRefusal(command, args) : std::nullopt;
  const std::string verb = AsciiLower(args[0]);
  if (s->verbs.empty() || std::find(s->verbs.begin(), s->verbs.end(), verb) != s->verbs.end()) {
    if (!refusal) return std::nullopt;
    err = *refusal;
    return 2;
  }
  const auto near = Closest(verb, s->verbs);
  err = fmt::format("ntbox {}: unknown command '{}'{}\n{}", command, args[0],
                    near ? fmt::format("; did you mean '{}'?", *near) : std::string(), s->usage);
  return 2;
}

}  // namespace ntbox::machine
