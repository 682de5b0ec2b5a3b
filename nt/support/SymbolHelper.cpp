#include "nt/support/SymbolHelper.h"

#include "support/Executable.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  // The helper starts clean whatever the calling thread's state (a bugcheck's thread may have
  // signals blocked): an empty mask, every signal at its default.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int spawned = posix_spawn(&pid, helper.c_str(), &actions, &attributes, argv.data(), SymbolHelperEnvironment());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
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
