// The machine's commands on the CLI: boot, shutdown, reboot, status, sc, reg, bcdedit, verifier, ioctl, run, lm,
// dbgview, testsign. Everything but boot --foreground and testsign is a request to the machine's
// server (started when none runs); sc, reg, bcdedit and verifier take Windows' own syntax verbatim.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/CrashReports.h"
#include "machine/MachineDir.h"
#include "machine/Signing.h"
#include "machine/commands/Command.h"
#include "machine/commands/Syntax.h"
#include "machine/server/Client.h"
#include "support/Colour.h"
#include "machine/server/Server.h"
#include "tools/ntbox/Commands.h"

#include "support/InputFile.h"

namespace ntbox::tools {
namespace {

namespace fs = std::filesystem;
using machine::ClientRequest;

struct MachineOptions {
  std::string dir;
  bool foreground = false;
  int readyFd = -1;
  bool json = false;
  bool follow = false;
  bool filtered = false;
  std::string driver;
  std::string device, code, input;
  std::uint32_t outSize = 0;
  std::string program;
};

fs::path Root(const MachineOptions& o) { return machine::MachineDir::Resolve(o.dir); }

// Reads the machine directory directly: no server is needed (nor booted) to read its reports.
int Crash(const MachineOptions& o, bool show) {
  const fs::path crashes = Root(o) / "crashes";
  auto list = machine::ListCrashes(crashes);
  std::reverse(list.begin(), list.end());  // newest first
  if (o.follow) {  // --list
    if (list.empty() && !o.json) std::printf("No bugcheck on record for the machine at %s.\n", Root(o).c_str());
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& c = list[i];
      if (o.json) {
        std::printf("%s\n", nlohmann::json{{"index", i + 1}, {"time", c.time}, {"code", c.code}, {"name", c.name},
                                           {"module", c.module}, {"file", c.file.string()}}
                                .dump()
                                .c_str());
      } else {
        std::printf("%3zu  %s  0x%08X  %-40s %s\n", i + 1, c.time.c_str(), c.code, c.name.c_str(), c.module.c_str());
      }
    }
    return kExitOk;
  }
  fs::path file = crashes / "last.txt";
  if (show) {
    if (o.outSize < 1 || o.outSize > list.size()) {
      std::fprintf(stderr, "ntbox crash: there is no report %u (%zu on record; see ntbox crash --list)\n", o.outSize,
                   list.size());
      return kExitUsage;
    }
    file = list[o.outSize - 1].file;
  }
  // --json: the report's JSON twin (written beside every text report).
  if (o.json) file.replace_extension(".json");
  const auto text = machine::ReadCrash(file);
  if (!text) {
    std::printf("No bugcheck on record for the machine at %s.\n", Root(o).c_str());
    return kExitOk;
  }
  std::fputs(text->c_str(), stdout);
  return kExitOk;
}

int Boot(const MachineOptions& o) {
  if (o.foreground || o.readyFd >= 0) {
    const int status = machine::RunServer({Root(o), o.readyFd, o.foreground});
    // Connection threads may still be blocked on their sockets: leave without unwinding them.
    std::fflush(nullptr);
    ::_exit(status);
  }
  if (const auto pid = machine::RunningServer(Root(o))) {
    std::printf("The machine at %s is already running (pid %d).\n", Root(o).c_str(), *pid);
    return kExitOk;
  }
  auto pid = machine::StartServer(Root(o));
  if (!pid) {
    std::fprintf(stderr, "ntbox boot: %s\n", pid.error().message.c_str());
    return kExitRefused;
  }
  std::printf("Booted the machine at %s (pid %d).\n", Root(o).c_str(), *pid);
  return kExitOk;
}

int Shutdown(const MachineOptions& o, bool quietWhenStopped) {
  auto done = machine::ShutdownServer(Root(o));
  if (!done) {
    std::fprintf(stderr, "ntbox shutdown: %s\n", done.error().message.c_str());
    return kExitRefused;
  }
  if (*done) {
    std::printf("The machine at %s shut down.\n", Root(o).c_str());
  } else if (!quietWhenStopped) {
    std::printf("The machine at %s is not running.\n", Root(o).c_str());
  }
  return kExitOk;
}

// osslsigncode signs with the machine's test certificate (created on first use).
int Testsign(const MachineOptions& o) {
  auto dir = machine::MachineDir::Open(Root(o));
  if (!dir) {
    std::fprintf(stderr, "ntbox testsign: %s\n", dir.error().message.c_str());
    return kExitRefused;
  }
  auto cert = machine::EnsureTestCertificate(dir->certs());
  if (!cert) {
    std::fprintf(stderr, "ntbox testsign: %s\n", cert.error().message.c_str());
    return kExitRefused;
  }
  const std::string output = o.driver + ".ntbox-signed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execlp("osslsigncode", "osslsigncode", "sign", "-certs", cert->first.c_str(), "-key", cert->second.c_str(),
             "-h", "sha256", "-n", fs::path(o.driver).filename().c_str(), "-in", o.driver.c_str(), "-out",
             output.c_str(), static_cast<char*>(nullptr));
    std::perror("ntbox testsign: cannot run osslsigncode");
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::error_code ec;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fs::remove(output, ec);
    std::fprintf(stderr, "ntbox testsign: osslsigncode failed to sign %s\n", o.driver.c_str());
    return kExitRefused;
  }
  fs::rename(output, o.driver, ec);
  if (ec) {
    std::fprintf(stderr, "ntbox testsign: cannot replace %s: %s\n", o.driver.c_str(), ec.message().c_str());
    return kExitRefused;
  }
  std::printf("Signed %s with the test certificate %s\n", o.driver.c_str(), cert->first.c_str());
  return kExitOk;
}

CLI::App* Passthrough(CLI::App& app, const char* name, const char* description) {
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->prefix_command();
  cmd->fallthrough(false);  // Windows syntax: every argument is the command's
  cmd->allow_extras();
  cmd->set_help_flag();  // --help, -h and /? are the command's: its own usage (machine/commands/Syntax)
  return cmd;
}

}  // namespace

std::vector<std::function<int()>> AddMachineCommands(CLI::App& app) {
  auto o = std::make_shared<MachineOptions>();
  app.add_option("--machine", o->dir,
                 "the machine directory (default: $NTBOX_MACHINE, else $XDG_DATA_HOME/ntbox/machine)");
  std::vector<std::function<int()>> runs;

  CLI::App* boot = app.add_subcommand("boot", "Boot the machine (in the background unless --foreground)");
  boot->add_flag("--foreground", o->foreground, "run the machine server in this process until Ctrl-C");
  boot->add_option("--ready-fd", o->readyFd, "(internal) report readiness on this descriptor")->group("");
  boot->footer("Other commands boot the machine when none runs; boot does it alone.\nexample: ntbox --machine ~/vm1 boot");
  runs.push_back([boot, o] { return boot->parsed() ? Boot(*o) : -1; });

  CLI::App* shutdown = app.add_subcommand("shutdown", "Shut the machine down");
  shutdown->footer("example: ntbox shutdown");
  runs.push_back([shutdown, o] { return shutdown->parsed() ? Shutdown(*o, false) : -1; });

  CLI::App* reboot = app.add_subcommand("reboot", "Shut the machine down and boot it again (applies bcdedit)");
  reboot->footer("example: ntbox bcdedit /set testsigning on && ntbox reboot");
  runs.push_back([reboot, o]() -> int {
    if (!reboot->parsed()) return -1;
    if (const int s = Shutdown(*o, true); s != kExitOk) return s;
    return Boot(*o);
  });

  CLI::App* status = app.add_subcommand("status", "Is the machine running: pid, uptime, drivers");
  status->add_flag("--json", o->json, "print one JSON object");
  status->footer("Exit status 3 when the machine is not running.\nexample: ntbox status --json");
  runs.push_back([status, o]() -> int {
    if (!status->parsed()) return -1;
    if (!machine::RunningServer(Root(*o))) {
      if (o->json) {
        std::printf("{\"machine\":\"%s\",\"running\":false}\n", Root(*o).c_str());
      } else {
        std::printf("machine      %s\nstate        stopped\n", Root(*o).c_str());
      }
      return kExitRefused;
    }
    return machine::Call(Root(*o), ClientRequest{"status", {}, false, false, o->json}, false);
  });

  for (auto [name, description] : {std::pair{"sc", "Service control, as sc.exe: create, start, stop, delete, query, qc"},
                                   std::pair{"reg", "The registry, as reg.exe: query, add, delete, export, import"},
                                   std::pair{"bcdedit", "Boot configuration: /set testsigning|debug on|off, /enum"},
                                   std::pair{"verifier", "Driver Verifier, as verifier.exe: /standard, /flags, "
                                                         "/driver, /all, /query, /querysettings, /reset"},
                                   std::pair{"tracelog", "ETW trace sessions, as tracelog.exe: -start NAME -guid #GUID "
                                                         "-level N -flag 0x..., -enable, -disable, -stop, -q, -l"},
                                   std::pair{"tracefmt", "The events a trace session kept, one line each: tracefmt NAME"}}) {
    CLI::App* cmd = Passthrough(app, name, description);
    runs.push_back([cmd, o, name]() -> int {
      if (!cmd->parsed()) return -1;
      const std::vector<std::string> args = cmd->remaining();
      // Help and unknown verbs are answered here: no machine boots for them.
      std::string out, err;
      if (const auto code = machine::CheckSyntax(name, args, out, err)) {
        std::fputs(out.c_str(), stdout);
        PrintError(err);
        return *code;
      }
      if (machine::RunsOffline(name, args) && !machine::RunningServer(Root(*o))) {
        // A machine that cannot boot (a driver stops or hangs every boot) is still configurable.
        if (auto started = machine::StartServer(Root(*o)); !started) {
          std::fprintf(stderr, "ntbox: %s\nntbox: the command runs offline, on the machine's stored configuration\n",
                       started.error().message.c_str());
          return machine::RunOffline(Root(*o), name, args);
        }
      }
      return machine::Call(Root(*o), ClientRequest{name, args});
    });
  }

  CLI::App* ioctl = app.add_subcommand("ioctl", "Send one IOCTL to a device: DeviceIoControl from the shell");
  ioctl->add_option("device", o->device, "\\\\.\\NAME, \\??\\NAME or \\Device\\NAME")->required();
  ioctl->add_option("code", o->code, "the IOCTL code (0x9C40240C)")->required();
  ioctl->add_option("--in", o->input, "input bytes in hex (48656c6c6f00), or @FILE");
  ioctl->add_option("--out-size", o->outSize, "output buffer size in bytes (default 0)");
  ioctl->add_flag("--json", o->json, "one JSON object: status, statusName, information, win32, output (hex)");
  ioctl->footer("example: ntbox ioctl '\\\\.\\IoctlTest' 0x9C402408 --in 48656c6c6f00 --out-size 64");
  runs.push_back([ioctl, o]() -> int {
    if (!ioctl->parsed()) return -1;
    std::string hex = o->input;
    if (hex.starts_with("@")) {
      constexpr std::uint64_t kMaxInput = 16u << 20;  // an IOCTL's input is one kernel buffer
      const auto bytes = ReadInputFile(hex.substr(1), kMaxInput, "an IOCTL's input");
      if (!bytes) {
        std::fprintf(stderr, "ntbox ioctl: %s\n", bytes.error().message.c_str());
        return kExitUsage;
      }
      hex.clear();
      hex.reserve(bytes->size() * 2);
      for (const std::uint8_t c : *bytes) hex += fmt::format("{:02x}", c);
    }
    std::vector<std::string> args{o->device, o->code, hex, std::to_string(o->outSize)};
    if (o->json) args.push_back("--json");
    return machine::Call(Root(*o), ClientRequest{"ioctl", args});
  });

  CLI::App* run = app.add_subcommand("run", "Run a Win32 console program (.exe) as a process of the machine");
  // PROGRAM.exe and everything after it are the program's command line, options included.
  run->prefix_command();
  run->allow_extras();
  run->fallthrough(false);
  run->footer("The program's stdin, stdout and stderr are this terminal's; its exit code is ntbox's "
              "(255 with a message when it crashed or its code does not fit).\nexample: ntbox run build/myapp.exe hello");
  runs.push_back([run, o]() -> int {
    if (!run->parsed()) return -1;
    const std::vector<std::string> args = run->remaining();
    if (args.empty()) {
      std::fprintf(stderr, "usage: ntbox run PROGRAM.exe [ARGS...]\n");
      return kExitUsage;
    }
    ClientRequest request{"run", args};
    request.passStdio = true;
    return machine::Call(Root(*o), request);
  });

  CLI::App* lm = app.add_subcommand("lm", "Loaded modules, as WinDbg's lm");
  lm->add_flag("--json", o->json, "one JSON object: the loaded modules and the unloaded ones");
  lm->footer("example: ntbox lm --json | jq '.modules[].name'");
  runs.push_back([lm, o] {
    if (!lm->parsed()) return -1;
    std::vector<std::string> args;
    if (o->json) args.push_back("--json");
    return machine::Call(Root(*o), ClientRequest{"lm", args});
  });

  CLI::App* kd = app.add_subcommand("kd", "The kernel debugger, with WinDbg's commands (lm, x, uf, bp, g, p, k, !drvobj ...)");
  auto kdOptions = std::make_shared<KdOptions>();
  kd->add_option("-c", kdOptions->commands,
                 "commands to run first, separated by ';' (without a terminal the session then ends)");
  kd->add_flag("-b", kdOptions->breakIn, "break in at once");
  kd->footer("The machine must run with kernel debugging on: ntbox bcdedit /debug on, then ntbox reboot.\n"
             "Without a terminal, commands are read from standard input (one a line) unless -c is given.\n"
             "example: ntbox kd -c 'lm; x FirstDriverSample!*; uf FirstDriverSample!DriverEntry'");
  runs.push_back([kd, o, kdOptions] { return kd->parsed() ? RunKd(Root(*o), *kdOptions) : -1; });

  CLI::App* gdbserver = app.add_subcommand("gdbserver", "gdb's remote protocol for the machine's drivers (gdb, VS Code, CLion, IDA)");
  auto gdbOptions = std::make_shared<GdbServerOptions>();
  gdbserver->add_flag("--stdio", gdbOptions->stdio, "speak on standard input and output: target remote | ntbox gdbserver --stdio");
  gdbserver->add_option("--port", gdbOptions->port, "listen on this loopback TCP port for one connection");
  gdbserver->add_option("--socket", gdbOptions->socketPath, "listen on this Unix socket for one connection");
  gdbserver->footer("The machine must run with kernel debugging on (ntbox bcdedit /debug on, then ntbox reboot).\n"
                    "gdb reads each loaded driver's DWARF from the library list; set breakpoint pending on\n"
                    "lets a breakpoint wait for its driver.\n"
                    "example: gdb -ex 'target remote | ntbox gdbserver --stdio'");
  runs.push_back([gdbserver, o, gdbOptions] { return gdbserver->parsed() ? RunGdbServer(Root(*o), *gdbOptions) : -1; });

  CLI::App* dbgview = app.add_subcommand("dbgview", "Kernel debug output, as DebugView (Capture Kernel, verbose)");
  dbgview->add_flag("-f,--follow", o->follow, "keep printing new output until interrupted");
  dbgview->add_flag("--filtered", o->filtered, "only what passes the Debug Print Filter");
  dbgview->add_flag("--json", o->json, "one JSON object a line (sequence, seconds, component, level, text)");
  dbgview->footer("example: ntbox dbgview -f");
  runs.push_back([dbgview, o] {
    return dbgview->parsed() ? machine::Call(Root(*o), ClientRequest{"dbgview", {}, o->follow, o->filtered, o->json})
                             : -1;
  });

  CLI::App* crash = app.add_subcommand("crash", "The last bugcheck report (!analyze -v style); --list, --show N");
  crash->add_flag("--list", o->follow, "every report on record, newest first");
  crash->add_option("--show", o->outSize, "report N of --list (1: the newest)");
  crash->add_flag("--json", o->json, "the report as JSON; with --list: one JSON object per report");
  crash->footer("Reads the machine directory: no machine is booted.\nexample: ntbox crash --list");
  runs.push_back([crash, o] { return crash->parsed() ? Crash(*o, crash->count("--show") > 0) : -1; });

  CLI::App* testsign = app.add_subcommand("testsign", "Test-sign a driver with the machine's test certificate");
  testsign->add_option("driver", o->driver, "the driver image (.sys), signed in place")
      ->required()
      ->check(CLI::ExistingFile);
  testsign->footer("example: ntbox testsign build/MyDriver.sys");
  runs.push_back([testsign, o] { return testsign->parsed() ? Testsign(*o) : -1; });
  return runs;
}

}  // namespace ntbox::tools
