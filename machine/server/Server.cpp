#include "machine/server/Server.h"

#include "machine/CrashReports.h"
#include "machine/Sandbox.h"
#include "machine/server/ClientFiles.h"
#include "support/HostFiles.h"
#include "support/InputFile.h"
#include "nt/support/SymbolHelper.h"

#include "support/Text.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "debug/Engine.h"
#include "debug/GdbServer.h"
#include "machine/Machine.h"
#include "machine/commands/Command.h"
#include "machine/commands/DbgviewFormat.h"
#include "machine/server/Protocol.h"
#include "nt/kd/Debugger.h"
#include "nt/Status.h"
#include "pe/PeDebug.h"

namespace ntbox::machine {
namespace {

namespace fs = std::filesystem;

int g_wakeWrite = -1;  // the self-pipe that wakes the accept loop: 's' to stop, 'c' after a bugcheck
thread_local bool t_servingRun = false;      // this thread answers an ntbox run
thread_local bool t_servingCommand = false;  // this thread answers another command

void OnStopSignal(int) {
  const char c = 's';
  (void)!::write(g_wakeWrite, &c, 1);
}

void OnCrash() {
  const char c = 'c';
  (void)!::write(g_wakeWrite, &c, 1);
}

void Ready(int fd, std::string_view message) {
  if (fd < 0) return;
  (void)!::write(fd, message.data(), message.size());
  ::close(fd);
}

std::string Uptime(std::chrono::steady_clock::duration d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

// A dbgview --follow connection: records queue up here and its thread writes them out.
struct Follower {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<LoggedRecord> records;
  std::optional<std::pair<std::string, int>> closing;  // final stderr text and exit status
};

class Server {
 public:
  Server(const ServerOptions& options, std::unique_ptr<Machine> machine, int listenFd, int wakeRead)
      : options_(options),
        machine_(std::move(machine)),
        listenFd_(listenFd),
        wakeRead_(wakeRead),
        socketPath_(machine_->dir().socket().string()),
        pidPath_((machine_->dir().root() / "server.pid").string()) {}

  int Run() {
    while (!stopping_) {
      pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents) {
        char why = 's';
        (void)!::read(wakeRead_, &why, 1);
        // A DPC, a work item or a system thread bugchecked: nobody's request did.
        if (why == 'c') Crashed();
        break;
      }
      if (!(fds[0].revents & POLLIN)) continue;
      const int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::thread([this, client] { Serve(client); }).detach();
    }
    Stop("ntbox: the machine shut down\n", 0);
    return 0;
  }

 private:
  void Serve(int fd) {
    const auto frame = ReadFrame(fd);
    if (!frame || frame->kind != FrameKind::kRequest) {
      ::close(fd);
      return;
    }
    const auto request = nlohmann::json::parse(frame->payload, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      WriteFrame(fd, FrameKind::kStderr, "ntbox: malformed request\n");
      WriteFrame(fd, FrameKind::kExit, "2");
      ::close(fd);
      return;
    }
    const std::string command = request.value("command", "");
    std::vector<std::string> args = request.value("args", std::vector<std::string>{});
    // The host files the command names, as its client opened them: this thread reads them through
    // those descriptors (support/HostFiles.h).
    std::vector<std::string> keys;
    if (const auto f = request.find("files"); f != request.end() && f->is_array()) {
      for (const auto& k : *f) {
        if (k.is_string()) keys.push_back(k.get<std::string>());
      }
    }
    const auto fds = ReceiveDescriptors(fd, keys.size());
    if (!fds) {
      WriteFrame(fd, FrameKind::kStderr, "ntbox: the client did not pass the files its request names\n");
      WriteFrame(fd, FrameKind::kExit, "2");
      ::close(fd);
      return;
    }
    std::map<std::string, int> handed;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!handed.emplace(keys[i], (*fds)[i]).second) ::close((*fds)[i]);
    }
    HostFileScope hostFiles(std::move(handed));
    if (command == "dbgview") {
      Dbgview(fd, request.value("follow", false), request.value("filtered", false), request.value("json", false));
      return;
    }
    if (command == "run") {
      Run(fd, args, request.value("cwd", std::string("/")));
      return;
    }
    if (command == "kd") {
      Kd(fd, request.value("echo", false), request.value("breakIn", false));
      return;
    }
    if (command == "gdbserver") {
      Gdb(fd);
      return;
    }
    if (command == "shutdown") {
      WriteFrame(fd, FrameKind::kStdout, "");
      // The connection stays open until the process exits: the client waits for that.
      OnStopSignal(0);
      return;
    }
    int status = kCommandOk;
    {
      std::lock_guard lock(programsMutex_);
      // A stop waits for the commands it counts; one that comes later does not start.
      if (stopping_) {
        WriteFrame(fd, FrameKind::kStderr, "ntbox: the machine is shutting down; run the command again\n");
        WriteFrame(fd, FrameKind::kExit, std::to_string(kCommandFailed));
        ::close(fd);
        return;
      }
      ++activeCommands_;
    }
    t_servingCommand = true;
    {
      // Host files the command's code reaches beyond those its client handed (a driver's
      // ZwLoadDriver of a service beside it) come through that client too, while it lasts.
      HostFileOpenerScope clientFiles(std::make_shared<SessionFiles>(fd));
      // No command queues behind another that runs driver code (an sc start whose DriverEntry
      // loops): driver code holds the kernel lock, which preemption frees. Queries take no lock;
      // configuration commands (bcdedit, verifier and reg read-modify-write) one of their own.
      std::unique_lock lock(configMutex_, std::defer_lock);
      if (!IsQuery(command, args) && RunsOffline(command, args)) lock.lock();
      CommandContext ctx{*machine_, request.value("cwd", std::string("/")),
                         [fd](std::string_view s) { WriteFrame(fd, FrameKind::kStdout, s); },
                         [fd](std::string_view s) { WriteFrame(fd, FrameKind::kStderr, s); }};
      if (machine_->crashReport()) {
        ctx.err("ntbox: the machine has stopped with a bugcheck and is shutting down; run the command again\n");
        status = kCommandFailed;
      } else if (command == "status") {
        status = Status(ctx, request.value("json", false));
      } else {
        status = RunMachineCommand(ctx, command, args);
      }
    }
    Answer(fd, status);
    std::lock_guard lock(programsMutex_);
    --activeCommands_;
    programsGone_.notify_all();
  }

  // The command's exit frame. After a bugcheck the server goes (Crashed does not return).
  void Answer(int fd, int status) {
    if (const auto report = machine_->crashReport()) {
      // What stopped it, in one line after whatever the command printed (ntbox run says it its way).
      if (!t_servingRun) {
        WriteFrame(fd, FrameKind::kStderr,
                   fmt::format("ntbox: the machine stopped with {} (report {})\n", CrashSummary(*report),
                               machine_->CrashReportWhere()));
      }
      WriteFrame(fd, FrameKind::kExit, std::to_string(kCommandBugCheck));
      Crashed();
    }
    WriteFrame(fd, FrameKind::kExit, std::to_string(status));
    ::close(fd);
  }

  // ntbox run: the program runs on a thread of its own while this one watches the client; a
  // client that goes away (Ctrl-C) ends the program as Ctrl-C ends a console program.
  void Run(int fd, const std::vector<std::string>& args, const std::string& cwd) {
    int stdio[3] = {-1, -1, -1};
    if (!ReceiveDescriptors(fd, stdio)) {
      WriteFrame(fd, FrameKind::kStderr, "ntbox run: the client did not pass its standard streams\n");
      WriteFrame(fd, FrameKind::kExit, std::to_string(kCommandUsage));
      ::close(fd);
      return;
    }
    {
      std::lock_guard lock(programsMutex_);
      ++activeRuns_;
    }
    t_servingRun = true;
    const int status = RunProgram(fd, args, cwd, stdio);
    for (int d : stdio) ::close(d);
    Answer(fd, status);
    // Only now may a shutdown end the server: the client has its answer.
    std::lock_guard lock(programsMutex_);
    --activeRuns_;
    programsGone_.notify_all();
  }

  int RunProgram(int fd, std::vector<std::string> args, const std::string& cwd, const int (&stdio)[3]) {
    auto err = [fd](const std::string& text) { WriteFrame(fd, FrameKind::kStderr, text); };
    if (args.empty()) {
      err("usage: ntbox run PROGRAM.exe [ARGS...]\n");
      return kCommandUsage;
    }
    if (machine_->crashReport()) {
      err("ntbox: the machine has stopped with a bugcheck and is shutting down; run the command again\n");
      return kCommandFailed;
    }
    fs::path path = args[0];
    if (path.is_relative()) path = fs::path(cwd) / path;
    std::error_code ec;
    if (!HandedHostFile(path.string()) && !fs::is_regular_file(path, ec)) {
      err(fmt::format("ntbox run: {}: no such program\n", args[0]));
      return kExitNotFound;
    }
    user::ProgramOptions options;
    options.hostPath = path;
    options.name = path.filename().string();
    options.args.assign(args.begin() + 1, args.end());
    options.currentDirectory = Machine::Win32PathOf(cwd);
    options.stdio = {stdio[0], stdio[1], stdio[2]};
    auto program = machine_->LoadProgram(options);
    if (!program) {
      err(fmt::format("ntbox run: {}\n", program.error().message));
      return kExitCannotRun;
    }
    if (const auto& stubs = (*program)->stubImports(); !stubs.empty()) {
      std::string list;
      for (const auto& s : stubs) list += (list.empty() ? "" : ", ") + s;
      err(fmt::format("ntbox run: warning: {} imports {} that Wine implements only as a stub (a call raises an "
                      "exception): {}\n",
                      options.name, stubs.size() == 1 ? "a function" : std::to_string(stubs.size()) + " functions",
                      list));
    }
    int done[2];
    if (::pipe2(done, O_CLOEXEC) != 0) return kCommandFailed;
    // The program's host files (Z:) come through this client while the run lasts.
    auto clientFiles = std::make_shared<ClientFiles>();
    (*program)->process().hostFiles = clientFiles;
    {
      std::lock_guard lock(programsMutex_);
      programs_.insert(program->get());
    }
    user::ProgramExit result;
    std::thread runner([&] {
      result = (*program)->Run();
      // The console stays while programs the program started are on it, as a console window does.
      (*program)->WaitForSession();
      const char c = 'x';
      (void)!::write(done[1], &c, 1);
    });
    // Wait for the end; a client that hangs up asks for it (again and again, since a program
    // inside one of ntbox's DLL functions ends when that function returns).
    // The client's Ctrl-C arrives as an interrupt frame: a console control event for the program's
    // handlers, or its end when it has none.
    bool hungUp = false, interrupted = false;
    for (;;) {
      pollfd p[3] = {{done[0], POLLIN, 0}, {clientFiles->wakeFd(), POLLIN, 0}, {fd, POLLIN | POLLRDHUP, 0}};
      const int n = ::poll(p, hungUp ? 2 : 3, hungUp ? 20 : -1);
      if (n > 0 && (p[0].revents & POLLIN)) break;
      if (n > 0 && (p[1].revents & POLLIN)) {
        if (auto request = clientFiles->TakeRequest(); request && !hungUp) {
          if (!WriteFrame(fd, FrameKind::kOpenFile, *request)) hungUp = true;
        }
      }
      if (!hungUp && n > 0 && (p[2].revents & POLLIN)) {
        const auto frame = ReadFrame(fd);
        if (!frame) {
          hungUp = true;
        } else if (frame->kind == FrameKind::kFile) {
          std::optional<std::vector<int>> file;
          if (frame->payload.starts_with("0 ")) file = ReceiveDescriptors(fd, 1);
          clientFiles->Answer(frame->payload, file && !file->empty() ? (*file)[0] : -1);
        } else if (frame->kind == FrameKind::kInterrupt) {
          interrupted = true;
          if (!(*program)->Interrupt(frame->payload == "break" ? 1 : 0)) {
            (*program)->EndSession(static_cast<std::uint32_t>(nt::STATUS_CONTROL_C_EXIT));
          }
        }
      } else if (!hungUp && n > 0 && (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        hungUp = true;
      }
      if (hungUp) {
        clientFiles->Close();
        (*program)->EndSession(static_cast<std::uint32_t>(nt::STATUS_CONTROL_C_EXIT));
      }
    }
    clientFiles->Close();  // the run is over: so is its programs' access to host files
    runner.join();
    ::close(done[0]);
    ::close(done[1]);
    {
      std::lock_guard lock(programsMutex_);
      programs_.erase(program->get());
    }
    programsGone_.notify_all();
    program->reset();
    const std::string name = path.filename().string();
    switch (result.exit.kind) {
      case cpu::UserExitKind::kMachineStopped:
        err(fmt::format("ntbox run: {} ended: the machine stopped with {} during its request (report {})\n", name,
                        CrashSummary(machine_->crashReport().value_or("")), machine_->CrashReportWhere()));
        return kCommandBugCheck;
      case cpu::UserExitKind::kRefused:
        err(fmt::format("ntbox run: {}: {}\n", name, result.description));
        return kExitCannotRun;
      case cpu::UserExitKind::kException:
        err(fmt::format("ntbox run: {}: {}; the program ended with exit code {:#010x}\n", name, result.description,
                        result.exitCode));
        return kExitProgramCrashed;
      default:
        break;
    }
    // Ended by Ctrl-C (Windows' default handler's code): the client ends as an interrupted process.
    if (interrupted && result.exitCode == static_cast<std::uint32_t>(nt::STATUS_CONTROL_C_EXIT)) return kExitInterrupted;
    if (result.exitCode > 255) {
      err(fmt::format("ntbox run: {} exited with code {:#010x} ({})\n", name, result.exitCode, result.exitCode));
      return kExitProgramCrashed;
    }
    return static_cast<int>(result.exitCode);
  }

  // ntbox kd: a debugger session on this connection. The machine must have been booted with
  // kernel debugging on (bcdedit /debug on), as Windows requires; one debugger at a time.
  void Kd(int fd, bool echo, bool breakIn) {
    nt::kd::Debugger& debugger = nt::kd::Debugger::Get();
    if (!AttachDebugger(fd, "kd")) return;
    const int events = debugger.eventFd();
    bool gone = false;
    const auto files = std::make_shared<SessionFiles>(fd);
    // While the machine runs for a command (g, a step over a call): until a stop waits; the
    // client's Ctrl-C breaks in meanwhile.
    auto waitForStop = [&]() -> bool {
      for (;;) {
        if (files->TakeHeldInterrupt()) debugger.BreakIn();
        pollfd p[2] = {{events, POLLIN, 0}, {fd, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return false;
        }
        if (p[0].revents & POLLIN) return true;
        if (!p[1].revents) continue;
        const auto frame = ReadFrame(fd);
        if (!frame) {
          gone = true;
          return false;
        }
        if (frame->kind == FrameKind::kInterrupt) debugger.BreakIn();
      }
    };
    {
      // The files its commands read (images in the symbol path, their PDBs) come through its client.
      HostFileOpenerScope filesScope(files);
      debug::Engine engine([fd](std::string_view text) { WriteFrame(fd, FrameKind::kStdout, text); }, waitForStop);
      if (breakIn) {
        debugger.BreakIn();
        engine.session().OnStopArrived();
      }
      while (!gone) {
        if (!WriteFrame(fd, FrameKind::kPrompt, engine.Prompt())) break;
        // A command line, or a stop that comes while the machine runs (a breakpoint hit).
        std::optional<Frame> line;
        for (;;) {
          // A line the client sent while a command's file request waited comes first.
          line = files->TakeHeld();
          if (!line) {
            const bool running = engine.session().stop() == nullptr;
            pollfd p[2] = {{fd, POLLIN, 0}, {events, POLLIN, 0}};
            if (::poll(p, running ? 2 : 1, -1) < 0) {
              if (errno == EINTR) continue;
              gone = true;
              break;
            }
            if (running && (p[1].revents & POLLIN)) {
              if (engine.session().OnStopArrived()) break;  // shown: a new prompt
              continue;
            }
            if (!p[0].revents) continue;
            line = ReadFrame(fd);
          }
          if (!line) {
            gone = true;
            break;
          }
          if (line->kind == FrameKind::kInterrupt) {
            // Ctrl-C at the prompt: the machine stops, and the stop shows with a new prompt.
            debugger.BreakIn();
            if (engine.session().OnStopArrived()) break;
            continue;
          }
          if (line->kind == FrameKind::kLine) break;
        }
        if (gone || !line || line->kind != FrameKind::kLine) continue;
        if (!engine.Execute(line->payload, echo)) break;
      }
    }
    EndDebuggerSession(fd);
  }

  // Attaches the machine's debugger for the session on fd, or refuses it there: the machine must
  // run with kernel debugging on, and one debugger at a time.
  bool AttachDebugger(int fd, const char* who) {
    auto refuse = [fd](const std::string& text, int status) {
      WriteFrame(fd, FrameKind::kStderr, text);
      WriteFrame(fd, FrameKind::kExit, std::to_string(status));
      ::close(fd);
      return false;
    };
    if (!machine_->activeBootConfig().debug) {
      return refuse(fmt::format("ntbox {}: kernel debugging is not enabled on this machine. Enable it and restart the "
                                "machine:\n  ntbox bcdedit /debug on\n  ntbox reboot\n",
                                who),
                    kCommandFailed);
    }
    std::lock_guard lock(kdMutex_);
    if (stopping_) return refuse("ntbox: the machine is shutting down\n", kCommandFailed);
    if (kdSocket_ >= 0 || !nt::kd::Debugger::Get().Attach()) {
      return refuse(fmt::format("ntbox {}: a debugger is already attached to this machine\n", who), kCommandFailed);
    }
    kdSocket_ = fd;
    return true;
  }

  // The session on fd is over (the engine detached): its client hears so, and another may attach.
  void EndDebuggerSession(int fd) {
    WriteFrame(fd, FrameKind::kExit, "0");
    std::lock_guard lock(kdMutex_);
    ::close(fd);
    kdSocket_ = -1;
    kdGone_.notify_all();
  }

  // ntbox gdbserver: gdb's remote protocol on the descriptors the client handed over (its stdio,
  // or the connection it accepted).
  void Gdb(int fd) {
    int stdio[3] = {-1, -1, -1};
    if (!ReceiveDescriptors(fd, stdio)) {
      WriteFrame(fd, FrameKind::kStderr, "ntbox gdbserver: the client did not pass gdb's connection\n");
      WriteFrame(fd, FrameKind::kExit, std::to_string(kCommandUsage));
      ::close(fd);
      return;
    }
    if (AttachDebugger(fd, "gdbserver")) {
      debug::ServeGdb(stdio[0], stdio[1]);
      EndDebuggerSession(fd);
    }
    for (int d : stdio) ::close(d);
  }

  // A stop ends the debugger's session: its connection is shut, and its thread lets go.
  void EndDebugger() {
    std::unique_lock lock(kdMutex_);
    if (kdSocket_ >= 0) ::shutdown(kdSocket_, SHUT_RDWR);
    kdGone_.wait_for(lock, std::chrono::seconds(2), [this] { return kdSocket_ < 0; });
  }

  int Status(CommandContext& ctx, bool json) {
    const auto& config = machine_->activeBootConfig();
    // Status never waits for driver code: it says "busy" while code at DISPATCH_LEVEL keeps the
    // kernel (the DPC watchdog ends that).
    const bool busy = machine_->BusyFor(std::chrono::milliseconds(200));
    const std::size_t drivers = machine_->RunningDrivers();
    if (json) {
      nlohmann::json j{{"machine", options_.root.string()}, {"running", true},       {"pid", ::getpid()},
                       {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(machine_->uptime()).count()},
                       {"testsigning", config.testSigning}, {"debug", config.debug},
                       {"processors", config.processors()}, {"busy", busy},     {"drivers", drivers}};
      if (const SandboxState* s = CurrentSandbox()) {
        j["sandbox"] = {{"landlock_abi", s->landlockAbi}, {"files", s->files},     {"tcp", s->network},
                        {"scoped", s->scoped},            {"seccomp", s->seccomp}, {"no_new_privs", s->noNewPrivs},
                        {"capabilities_dropped", s->capabilitiesDropped},          {"root", s->root}, {"uid", s->uid},
                        {"missing", s->missing}};
      }
      ctx.out(j.dump() + "\n");
      return kCommandOk;
    }
    ctx.out(fmt::format("machine      {}\nstate        {}\npid          {}\nuptime       {}\n"
                        "drivers      {} running\ntestsigning  {}\ndebug        {}\nprocessors   {}\n",
                        options_.root.string(),
                        busy ? "running, busy (driver code keeps the kernel at DISPATCH_LEVEL)" : "running",
                        ::getpid(), Uptime(machine_->uptime()), drivers, config.testSigning ? "on" : "off",
                        config.debug ? "on" : "off", config.processors()));
    const SandboxState* sandbox = CurrentSandbox();
    ctx.out(sandbox ? sandbox->Describe() : "Sandbox:\n  none (the server is not confined)\n");
    return kCommandOk;
  }

  void Dbgview(int fd, bool follow, bool filtered, bool json) {
    const auto format = [json](const LoggedRecord& r) { return json ? DebugLineJson(r) : FormatDebugLine(r); };
    auto follower = std::make_shared<Follower>();
    std::uint64_t last = 0;
    int listener = 0;
    if (follow) {
      // Listen first, then read the log: nothing printed in between is lost (duplicates are skipped).
      listener = machine_->AddDebugListener([follower, filtered](const LoggedRecord& r) {
        if (filtered && !r.passed) return;
        std::lock_guard lock(follower->mutex);
        follower->records.push_back(r);
        follower->cv.notify_one();
      });
      std::lock_guard lock(followersMutex_);
      followers_.insert(follower);
    }
    std::string history;
    for (const auto& r : DebugLog::ReadAll(machine_->dir().debugLog())) {
      last = r.sequence;
      if (!filtered || r.passed) history += format(r);
    }
    bool alive = history.empty() || WriteFrame(fd, FrameKind::kStdout, history);
    if (!follow) {
      WriteFrame(fd, FrameKind::kExit, "0");
      ::close(fd);
      return;
    }
    while (alive) {
      std::unique_lock lock(follower->mutex);
      follower->cv.wait_for(lock, std::chrono::seconds(1),
                            [&] { return !follower->records.empty() || follower->closing.has_value(); });
      while (!follower->records.empty() && alive) {
        const LoggedRecord r = std::move(follower->records.front());
        follower->records.pop_front();
        if (r.sequence <= last) continue;  // already sent from the log
        alive = WriteFrame(fd, FrameKind::kStdout, format(r));
      }
      if (follower->closing) {
        if (!follower->closing->first.empty()) WriteFrame(fd, FrameKind::kStderr, follower->closing->first);
        WriteFrame(fd, FrameKind::kExit, std::to_string(follower->closing->second));
        break;
      }
      // A client that went away while nothing was printed: notice it here.
      pollfd p{fd, POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) alive = false;
    }
    machine_->RemoveDebugListener(listener);
    {
      std::lock_guard lock(followersMutex_);
      followers_.erase(follower);
    }
    followersGone_.notify_all();
    ::close(fd);
  }

  void TellFollowers(const std::string& text, int status) {
    std::lock_guard lock(followersMutex_);
    for (const auto& f : followers_) {
      std::lock_guard fl(f->mutex);
      f->closing = std::pair{text, status};
      f->cv.notify_one();
    }
  }

  // Once only, whichever of a stop, a crash or the shutdown deadline comes first.
  void Unpublish() {
    std::lock_guard lock(crashedMutex_);
    if (unpublished_) return;
    unpublished_ = true;
    ::close(listenFd_);
    ::unlink(socketPath_.c_str());
    ::unlink(pidPath_.c_str());
  }

  // A driver bugchecked the machine: no more driver code runs; tell everyone and go.
  [[noreturn]] void Crashed() {
    TellFollowers(fmt::format("ntbox: the machine stopped with {} (report {})\n",
                              CrashSummary(machine_->crashReport().value_or("")), machine_->CrashReportWhere()),
                  kCommandBugCheck);
    {
      // The debugger let the bugcheck go on (g at its stop): its session ends with the machine.
      std::lock_guard lock(kdMutex_);
      if (kdSocket_ >= 0) {
        WriteFrame(kdSocket_, FrameKind::kStderr,
                   "ntbox kd: the machine stopped with a bugcheck (report " + machine_->CrashReportWhere() + ")\n");
        WriteFrame(kdSocket_, FrameKind::kExit, std::to_string(kCommandBugCheck));
      }
    }
    Unpublish();
    WaitForFollowers();
    {
      // Programs and commands whose requests the stop ended tell their callers so before the server goes.
      std::unique_lock lock(programsMutex_);
      const int selfRun = t_servingRun ? 1 : 0;
      const int selfCommand = t_servingCommand ? 1 : 0;
      programsGone_.wait_for(lock, std::chrono::seconds(2), [&] {
        return activeRuns_ <= selfRun && activeCommands_ <= selfCommand;
      });
    }
    if (options_.foreground) {
      std::fprintf(stderr, "ntbox: the machine bugchecked; report %s\n", machine_->CrashReportWhere().c_str());
    }
    std::fflush(nullptr);
    ::_exit(kCommandBugCheck);
  }

  // Read-only commands: the control plane (status, sc query, reg query, lm ...).
  static bool IsQuery(const std::string& command, const std::vector<std::string>& args) {
    const std::string op = args.empty() ? std::string() : AsciiLower(args[0]);
    if (command == "status" || command == "lm") return true;
    if (command == "sc") return op == "query" || op == "queryex" || op == "qc" || op == "getdisplayname";
    if (command == "reg") return op == "query" || op == "export";
    if (command == "bcdedit") return op.empty() || op == "/enum" || op == "/v";
    if (command == "verifier") return op == "/query" || op == "/querysettings";
    return false;
  }

  void Stop(const std::string& text, int status) {
    // A shutdown always completes: driver code that never returns (a DriverEntry that loops at
    // DISPATCH_LEVEL, a request stuck in a driver) keeps the orderly path below from finishing, so
    // after a grace period the server ends anyway, its pid file and socket already gone.
    std::thread([this] {
      std::this_thread::sleep_for(kShutdownGrace);
      Unpublish();
      std::fprintf(stderr, "ntbox: driver code did not let the machine stop within %lld s; the server ends now\n",
                   static_cast<long long>(kShutdownGrace.count()));
      std::fflush(nullptr);
      ::_exit(0);
    }).detach();
    stopping_ = true;
    Unpublish();
    TellFollowers(text, status);
    WaitForFollowers();
    EndDebugger();
    EndPrograms();
    {
      // Commands under way answer first (one stuck in driver code leaves it to the grace period).
      std::unique_lock programs(programsMutex_);
      programsGone_.wait(programs, [this] { return activeCommands_ == 0; });
    }
    machine_.reset();
    if (options_.foreground) std::fputs(text.c_str(), stderr);
  }

  // Shutdown ends every running program first (their handles close while drivers still run).
  void EndPrograms() {
    std::unique_lock lock(programsMutex_);
    while (activeRuns_ > 0) {
      for (user::Program* p : programs_) p->EndSession(static_cast<std::uint32_t>(nt::STATUS_CONTROL_C_EXIT));
      programsGone_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }

  // Followers hold their own connection; let their threads say goodbye before the process ends.
  void WaitForFollowers() {
    std::unique_lock lock(followersMutex_);
    followersGone_.wait_for(lock, std::chrono::seconds(2), [this] { return followers_.empty(); });
  }

  static constexpr std::chrono::seconds kShutdownGrace{5};
  ServerOptions options_;
  std::unique_ptr<Machine> machine_;
  int listenFd_;
  int wakeRead_;
  std::string socketPath_, pidPath_;
  std::atomic<bool> stopping_{false};
  std::mutex configMutex_;
  std::mutex followersMutex_;
  std::set<std::shared_ptr<Follower>> followers_;
  std::condition_variable followersGone_;
  std::mutex crashedMutex_;
  bool unpublished_ = false;
  std::mutex programsMutex_;
  std::set<user::Program*> programs_;
  int activeRuns_ = 0;      // run connections that have not answered yet
  int activeCommands_ = 0;  // other commands that have not answered yet (a stop lets them answer)
  std::condition_variable programsGone_;
  std::mutex kdMutex_;
  int kdSocket_ = -1;  // the attached debugger's connection
  std::condition_variable kdGone_;
};

}  // namespace

// How long a boot may take: NTBOX_BOOT_TIMEOUT_MS, else 60 s.
std::chrono::milliseconds BootDeadline() {
  if (const char* v = std::getenv("NTBOX_BOOT_TIMEOUT_MS"); v && *v) {
    const long ms = std::strtol(v, nullptr, 10);
    if (ms > 0) return std::chrono::milliseconds(ms);
  }
  return std::chrono::seconds(60);
}

std::map<std::string, int> BootImages(const fs::path& root) {
  std::map<std::string, int> images;
  auto machine = Machine::OpenOffline(root);
  if (!machine) return images;
  for (const auto& service : (*machine)->QueryServices()) {
    if (service.config.start > 2 /* SERVICE_AUTO_START */ || images.size() == kMaxHandedFiles) continue;
    const auto path = (*machine)->HostPath(service.config.imagePath);
    if (!path) continue;
    // The image and the PDB it names (reports and the debugger read its source lines).
    for (const auto& file : pe::ImageAndPdb(path->string())) {
      if (const int fd = OpenInputFile(file); fd >= 0) {
        if (!images.emplace(HostFileKey(file), fd).second) ::close(fd);
      }
    }
  }
  return images;
}

int RunServer(const ServerOptions& options) {
  auto dir = MachineDir::Open(options.root);
  if (!dir) {
    Ready(options.readyFd, "error: " + dir.error().message + "\n");
    return 1;
  }
  const int lockFd = ::open(dir->lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  bool locked = lockFd >= 0 && ::flock(lockFd, LOCK_EX | LOCK_NB) == 0;
  // A server that has taken its socket away (after a bugcheck or a shutdown) is on its way out and
  // lets go of the lock within seconds: wait for it rather than refuse the boot a command asked for.
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !locked && lockFd >= 0 && !fs::exists(dir->socket()) && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    locked = ::flock(lockFd, LOCK_EX | LOCK_NB) == 0;
  }
  if (!locked) {
    Ready(options.readyFd, "error: another ntbox server already runs this machine\n");
    return 1;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socketPath = dir->socket().string();
  if (socketPath.size() >= sizeof(address.sun_path)) {
    Ready(options.readyFd, "error: the machine directory path is too long for a Unix socket: " + socketPath + "\n");
    return 1;
  }
  std::memcpy(address.sun_path, socketPath.c_str(), socketPath.size() + 1);

  // Confined before any driver or program code runs (and before the first thread: Landlock and
  // capabilities are per thread, inherited by the threads created later). Started by root, the
  // server first becomes the machine directory's owner (or nobody) and reaches its directory
  // through a descriptor.
  // The images of the drivers that start at boot (boot, system and auto start), opened now with
  // the rights of the user who boots the machine, as a client opens what its command names: the
  // confined server reads them through these descriptors.
  HostFileScope bootImages(BootImages(options.root));
  fs::path root = options.root;
  if (::geteuid() == 0) {
    auto reached = GiveUpRoot(options.root);
    if (!reached) {
      Ready(options.readyFd, "error: " + reached.error().message + "\n");
      return 1;
    }
    root = *reached;
    dir = MachineDir::Open(root);
    if (!dir) {
      Ready(options.readyFd, "error: " + dir.error().message + "\n");
      return 1;
    }
  }
  const std::string boundPath = dir->socket().string();
  if (boundPath.size() >= sizeof(address.sun_path)) {
    Ready(options.readyFd, "error: the machine directory path is too long for a Unix socket: " + boundPath + "\n");
    return 1;
  }
  std::memcpy(address.sun_path, boundPath.c_str(), boundPath.size() + 1);
  const char* require = std::getenv("NTBOX_REQUIRE_SANDBOX");
  const SandboxPolicy policy{{dir->root()}, {nt::SymbolHelperPath()}, nt::SymbolHelperEnvironment(),
                             require && std::string_view(require) == "1"};
  if (auto confined = ConfineProcess(policy); !confined) {
    Ready(options.readyFd, "error: " + confined.error().message + "\n");
    return 1;
  } else if (options.foreground && !confined->missing.empty()) {
    for (const auto& m : confined->missing) std::fprintf(stderr, "ntbox: sandbox: not in force: %s\n", m.c_str());
  }

  // A boot-time driver whose DriverEntry never returns would keep every command waiting for the boot:
  // past the deadline the server ends, and automatic recovery skips that driver next time.
  auto booted = std::make_shared<std::promise<void>>();
  std::thread([done = booted->get_future(), readyFd = options.readyFd, stateFile = dir->bootState()] {
    const auto deadline = BootDeadline();
    if (done.wait_for(deadline) == std::future_status::ready) return;
    const std::string starting = BootState::Load(stateFile).starting;
    Ready(readyFd, fmt::format("error: the machine did not finish booting within {} s{}; the next boot skips it "
                               "(automatic recovery)\n",
                               std::chrono::duration_cast<std::chrono::seconds>(deadline).count(),
                               starting.empty() ? std::string() : ": the " + starting + " driver never returned from DriverEntry"));
    ::_exit(1);
  }).detach();
  auto machine = Machine::Boot(root, options.root);
  booted->set_value();
  if (!machine) {
    Ready(options.readyFd, "error: " + machine.error().message + "\n");
    return 1;
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) return 1;
  g_wakeWrite = wake[1];
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ::unlink(boundPath.c_str());  // a socket left by a server that was killed
  const int listenFd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd < 0 || ::bind(listenFd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listenFd, 64) != 0) {
    Ready(options.readyFd, std::string("error: cannot listen on ") + socketPath + ": " + std::strerror(errno) + "\n");
    return 1;
  }
  (void)WriteFileAtomically(dir->root() / "server.pid", std::to_string(::getpid()) + "\n");
  if (options.foreground) {
    std::fprintf(stderr, "ntbox: machine %s booted (pid %d); Ctrl-C shuts it down\n", options.root.c_str(), ::getpid());
  }
  std::string ready = fmt::format("ok {}\n", ::getpid());
  for (const auto& notice : (*machine)->bootNotices()) ready += "notice: " + notice + "\n";
  Ready(options.readyFd, ready);
  (*machine)->SetCrashListener(OnCrash);
  Server server(options, std::move(*machine), listenFd, wake[0]);
  return server.Run();
}

}  // namespace ntbox::machine
