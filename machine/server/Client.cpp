#include "machine/server/Client.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/Machine.h"
#include "machine/MachineDir.h"
#include "machine/commands/Command.h"
#include "machine/server/ClientFiles.h"
#include "machine/server/Protocol.h"
#include "support/Colour.h"
#include "support/HostFiles.h"
#include "pe/PeDebug.h"
#include "support/InputFile.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {

namespace fs = std::filesystem;

int Connect(const fs::path& root) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = (root / "server.sock").string();
  if (path.size() >= sizeof(address.sun_path)) return -1;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::optional<int> PidFile(const fs::path& root) {
  std::ifstream in(root / "server.pid");
  int pid = 0;
  if (in >> pid) return pid;
  return std::nullopt;
}

// Serializes "is a server running? if not, start one" between clients.
class BootLock {
 public:
  explicit BootLock(const fs::path& root) {
    std::error_code ec;
    fs::create_directories(root, ec);
    fd_ = ::open((root / "boot.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~BootLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

Result<int> Spawn(const fs::path& root) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Fail(std::string("pipe: ") + std::strerror(errno));
  const std::string rootText = root.string();
  const std::string log = (root / "server.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) return Fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    const int devnull = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::dup2(ready[1], 3);  // dup2 clears close-on-exec
    ::execl("/proc/self/exe", "ntbox", "--machine", rootText.c_str(), "boot", "--foreground", "--ready-fd", "3",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(ready[1]);
  std::string answer;
  char buffer[512];
  for (;;) {
    const ssize_t n = ::read(ready[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(ready[0]);
  if (answer.starts_with("ok ")) {
    // What the boot had to say (safe mode, automatic recovery), one "notice: " line each.
    for (std::size_t at = answer.find("\nnotice: "); at != std::string::npos; at = answer.find("\nnotice: ", at + 1)) {
      const std::size_t end = answer.find('\n', at + 1);
      std::fprintf(stderr, "ntbox: %s\n", answer.substr(at + 9, end - at - 9).c_str());
    }
    return std::stoi(answer.substr(3));
  }
  if (answer.starts_with("error: ")) {
    answer = answer.substr(7);
    if (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return Fail("cannot boot the machine at " + rootText + ": " + answer);
  }
  return Fail("the machine server died while booting; see " + log);
}

// SIGINT and SIGQUIT (Ctrl-Break's nearest) while a program runs: each sends an interrupt frame,
// from the handler itself (send is async-signal-safe; the main thread only reads the socket).
std::atomic<int> g_interruptSocket{-1};
std::atomic<bool> g_interrupted{false};

void OnInterrupt(int signal) {
  const int fd = g_interruptSocket.load();
  if (fd < 0) return;
  g_interrupted.store(true);
  const bool brk = signal == SIGQUIT;
  const char frame[] = {brk ? '\x05' : '\x01', 0, 0, 0, static_cast<char>(FrameKind::kInterrupt),
                        brk ? 'b' : 'c', 'r', 'e', 'a', 'k'};
  (void)!::send(fd, frame, brk ? 10 : 6, MSG_NOSIGNAL);
}

class Interrupts {
 public:
  explicit Interrupts(int socket) : active_(socket >= 0) {
    if (!active_) return;
    g_interruptSocket.store(socket);
    struct sigaction sa {};
    sa.sa_handler = &OnInterrupt;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &savedInt_);
    sigaction(SIGQUIT, &sa, &savedQuit_);
  }
  ~Interrupts() {
    if (!active_) return;
    sigaction(SIGINT, &savedInt_, nullptr);
    sigaction(SIGQUIT, &savedQuit_, nullptr);
    g_interruptSocket.store(-1);
  }
  bool seen() const { return active_ && g_interrupted.load(); }
  // Ends this process as SIGINT ends one, so a shell loop around it stops too.
  [[noreturn]] void Die() {
    std::fflush(stdout);
    std::signal(SIGINT, SIG_DFL);
    ::raise(SIGINT);
    std::_Exit(kExitInterrupted);
  }

 private:
  bool active_;
  struct sigaction savedInt_ {}, savedQuit_ {};
};

// The host files a command names, opened here with the user's rights for the server, which does
// not open host paths itself (machine/Sandbox.h): ntbox run's program, sc start's image (as the
// machine's registry names it), reg import's file, tracefmt's TMF files. Each by its key
// (HostFileKey); a file that cannot be opened is left out: the server says why it is missing.
std::vector<std::pair<std::string, int>> HostFilesOf(const fs::path& root, const ClientRequest& request) {
  std::vector<std::string> paths;
  const auto& a = request.args;
  auto is = [](const std::string& arg, const char* word) { return AsciiLower(arg) == word; };
  if (request.command == "run" && !a.empty()) {
    paths.push_back(a[0]);
    // The DLLs beside it, which its imports may name (ntbox checks them before it starts).
    std::error_code ec;
    const fs::path folder = fs::absolute(a[0], ec).parent_path();
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (AsciiLower(entry.path().extension().string()) == ".dll" && paths.size() < kMaxHandedFiles) {
        paths.push_back(entry.path().string());
      }
    }
  } else if (request.command == "sc" && a.size() >= 2 && is(a[0], "start")) {
    if (auto machine = Machine::OpenOffline(root)) {
      if (const auto status = (*machine)->QueryService(a[1])) {
        // With its PDB: reports and the debugger read source lines from it later.
        if (auto path = (*machine)->HostPath(status->config.imagePath)) {
          for (auto& file : pe::ImageAndPdb(path->string())) paths.push_back(std::move(file));
        }
      }
    }
  } else if (request.command == "reg" && a.size() >= 2 && is(a[0], "import")) {
    paths.push_back(a[1]);
  } else if (request.command == "tracefmt") {
    for (std::size_t i = 0; i + 1 < a.size(); ++i) {
      if (a[i] == "-tmf") paths.push_back(a[i + 1]);
      if (a[i] != "-p") continue;
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(a[i + 1], ec)) {
        if (entry.path().extension() == ".tmf") paths.push_back(entry.path().string());
      }
    }
  }
  std::vector<std::pair<std::string, int>> files;
  for (const auto& p : paths) {
    if (files.size() == kMaxHandedFiles) break;
    const int fd = OpenInputFile(p);
    if (fd >= 0) files.emplace_back(HostFileKey(p), fd);
  }
  return files;
}

}  // namespace

std::optional<int> RunningServer(const fs::path& root) {
  const int fd = Connect(root);
  if (fd < 0) return std::nullopt;
  ::close(fd);
  return PidFile(root).value_or(0);
}

Result<int> StartServer(const fs::path& root) {
  BootLock lock(root);
  if (const auto pid = RunningServer(root)) return *pid;
  return Spawn(root);
}

Result<int> Open(const fs::path& root, const ClientRequest& request, bool autostart) {
  int fd = Connect(root);
  if (fd < 0 && autostart) {
    auto started = StartServer(root);
    if (!started) return std::unexpected(started.error());
    fd = Connect(root);
  }
  if (fd < 0) return Fail("the machine at " + root.string() + " is not running");
  const auto files = HostFilesOf(root, request);
  std::vector<std::string> keys;
  std::vector<int> fds;
  for (const auto& [key, file] : files) {
    keys.push_back(key);
    fds.push_back(file);
  }
  const nlohmann::json json{{"command", request.command}, {"args", request.args},
                            {"cwd", fs::current_path().string()}, {"follow", request.follow},
                            {"filtered", request.filtered}, {"json", request.json},
                            {"echo", request.echo}, {"breakIn", request.breakIn}, {"files", keys}};
  std::fflush(stdout);
  const bool sent = WriteFrame(fd, FrameKind::kRequest, json.dump()) && SendDescriptors(fd, fds) &&
                    (!request.passStdio || SendDescriptors(fd, request.stdio));
  for (const int file : fds) ::close(file);
  if (!sent) {
    ::close(fd);
    return Fail("the machine server at " + root.string() + " went away");
  }
  return fd;
}

int Call(const fs::path& root, const ClientRequest& request, bool autostart) {
  auto opened = Open(root, request, autostart);
  if (!opened) {
    std::fprintf(stderr, "ntbox: %s\n", opened.error().message.c_str());
    return opened.error().message.ends_with("is not running") ? 3 : kExitServerLost;
  }
  const int fd = *opened;
  // ntbox run: Ctrl-C goes to the program as a console control event (a frame the server turns into
  // one) rather than ending this client; the program's end says what the shell sees.
  Interrupts interrupts(request.passStdio ? fd : -1);
  // On a terminal, stops and errors in colour (by whole lines: frames may split them).
  LineColourer out(STDOUT_FILENO), err(STDERR_FILENO);
  auto flush = [&] {
    std::fputs(out.Flush().c_str(), stdout);
    std::fflush(stdout);
    std::fputs(err.Flush().c_str(), stderr);
  };
  for (;;) {
    const auto frame = ReadFrame(fd);
    if (!frame) {
      ::close(fd);
      flush();
      PrintError(fmt::format("ntbox: the machine server stopped before answering (see {})\n",
                             (root / "server.log").string()));
      return kExitServerLost;
    }
    switch (frame->kind) {
      case FrameKind::kStdout: {
        const std::string text = out.Feed(frame->payload);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        break;
      }
      case FrameKind::kStderr: {
        std::fflush(stdout);
        const std::string text = err.Feed(frame->payload);
        std::fwrite(text.data(), 1, text.size(), stderr);
        break;
      }
      case FrameKind::kOpenFile:
        // The program opens a host file: this process opens it, with the user's rights.
        AnswerOpenFile(fd, frame->payload);
        break;
      case FrameKind::kExit: {
        ::close(fd);
        flush();
        const int status = std::atoi(frame->payload.c_str());
        if (status == kExitInterrupted && interrupts.seen()) interrupts.Die();
        return status;
      }
      default:
        break;
    }
  }
}

Result<bool> ShutdownServer(const fs::path& root) {
  const int fd = Connect(root);
  if (fd < 0) return false;
  const nlohmann::json json{{"command", "shutdown"}};
  WriteFrame(fd, FrameKind::kRequest, json.dump());
  // The server keeps this connection until its process exits: end of stream means it is gone.
  while (ReadFrame(fd)) {
  }
  ::close(fd);
  return true;
}

}  // namespace ntbox::machine
