#include "nt/support/SymbolHelper.h"

#include "nt/Kernel.h"
#include "pe/PeLoader.h"
#include "support/Executable.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

extern char** environ;

namespace ntbox::nt {
namespace {

// How long a caller waits for the helper: damaged DWARF must not hang a report or a debugger.
constexpr auto kHelperDeadline = std::chrono::seconds(10);

char* g_environment[] = {const_cast<char*>("LC_ALL=C"), nullptr};

std::string Run(const std::vector<std::string>& helperArgs) {
  const std::string helper = SymbolHelperPath();
  if (helper.empty() || access(helper.c_str(), X_OK) != 0) return {};
  std::vector<std::string> args{helper};
  args.insert(args.end(), helperArgs.begin(), helperArgs.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // An image the kernel loaded is handed to the helper from the bytes the kernel holds (a memfd):
  // the helper runs as the server's user, which may not reach the image's folder (a driver under
  // /root, in a private folder: its client opened it).
  std::vector<int> images;
  if (const Kernel* kernel = Kernel::CurrentOrNull()) {
    for (std::size_t i = 1; i < args.size(); ++i) {
      for (const Module* m : kernel->Modules()) {
        if (m->path != args[i] || !m->image) continue;
        const auto& bytes = m->image->pe().file();
        const int fd = memfd_create("ntbox-image", MFD_CLOEXEC);
        if (fd < 0) break;
        if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
          close(fd);
          break;
        }
        // Numbered from 3 in the helper, after its standard streams.
        args[i] = "/proc/self/fd/" + std::to_string(3 + images.size());
        argv[i] = args[i].data();
        images.push_back(fd);
        break;
      }
    }
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    for (const int fd : images) close(fd);
    return {};
  }
  // A fork, not posix_spawn: a sandboxed process may not start a child that shares its memory
  // (clone with CLONE_VM: what posix_spawn and system() do) — driver code reaching libc would start
  // one — while a plain fork's child is a copy (machine/Sandbox.h). Only async-signal-safe calls in
  // the child: it starts clean whatever the calling thread's state (a bugcheck's thread may have
  // signals blocked), an empty mask and every signal at its default.
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t pid = devnull < 0 ? -1 : fork();
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) (void)sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 || dup2(devnull, STDERR_FILENO) < 0) _exit(127);
    // The images' memfds to 3, 4 …: dup2 onto a number above every source first, then down.
    for (std::size_t i = 0; i < images.size(); ++i) {
      const int moved = fcntl(images[i], F_DUPFD, 64 + static_cast<int>(images.size()));
      if (moved < 0) _exit(127);
      images[i] = moved;
    }
    for (std::size_t i = 0; i < images.size(); ++i) {
      if (dup2(images[i], 3 + static_cast<int>(i)) < 0) _exit(127);
    }
    execve(helper.c_str(), argv.data(), SymbolHelperEnvironment());
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  for (const int fd : images) close(fd);
  const int spawned = pid > 0 ? 0 : -1;
  close(out[1]);
  std::string text;
  if (spawned == 0) {
    const auto deadline = std::chrono::steady_clock::now() + kHelperDeadline;
    char buffer[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{out[0], POLLIN, 0};
      const int ready = left.count() <= 0 ? 0 : poll(&p, 1, static_cast<int>(left.count()));
      // A signal is no reason to give up (a bugcheck's thread keeps the kernel lock, and the
      // watchdog asks it every quantum to let others run).
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        kill(pid, SIGKILL);
        text.clear();
        break;
      }
      const ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) text.clear();
  }
  close(out[0]);
  return text;
}

}  // namespace

std::string RunSymbolHelper(const std::vector<std::string>& args) { return Run(args); }

std::string SymbolHelperPath() {
  const std::filesystem::path bin = ExecutableDirectory();
  return bin.empty() ? std::string() : (bin / "ntbox-lines").string();
}

char** SymbolHelperEnvironment() { return g_environment; }

}  // namespace ntbox::nt
