#include "nt/support/SourceLines.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "nt/Kernel.h"

extern char** environ;

namespace ntbox::nt {
namespace {

// How long a report waits for the helper: damaged DWARF must not hang a report.
constexpr auto kHelperDeadline = std::chrono::seconds(10);

std::mutex g_mutex;
// By image path and address at the preferred base; nullopt: looked up, nothing there.
std::map<std::pair<std::string, std::uint64_t>, std::optional<SourceLine>> g_lines;

std::string HelperPath() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : (self.parent_path() / "ntbox-lines").string();
}

// Runs the helper on path for addresses; its output, or empty when it failed, crashed or hung.
std::string RunHelper(const std::string& path, const std::vector<std::uint64_t>& addresses) {
  const std::string helper = HelperPath();
  if (helper.empty() || access(helper.c_str(), X_OK) != 0) return {};
  std::vector<std::string> args{helper, path};
  for (const std::uint64_t a : addresses) args.push_back(fmt::format("{:x}", a));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string text;
  if (spawned == 0) {
    const auto deadline = std::chrono::steady_clock::now() + kHelperDeadline;
    char buffer[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{out[0], POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        kill(pid, SIGKILL);
        text.clear();
        break;
      }
      const ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) text.clear();
  }
  close(out[0]);
  return text;
}

}  // namespace

void LoadSourceLines(const Module& module, std::span<const std::uint64_t> addresses) {
  if (!module.image) return;
  const std::uint64_t preferred = module.image->pe().preferredBase();
  std::vector<std::uint64_t> wanted;
  {
    std::lock_guard lock(g_mutex);
    for (const std::uint64_t a : addresses) {
      if (!module.image->contains(a)) continue;
      const std::uint64_t at = preferred + (a - module.image->base());
      if (!g_lines.contains({module.path, at})) wanted.push_back(at);
    }
  }
  if (wanted.empty()) return;
  std::map<std::uint64_t, std::optional<SourceLine>> found;
  for (const std::uint64_t at : wanted) found[at] = std::nullopt;
  // ADDRESS \t LINE [\t START \t FUNCTION \t FILE]
  std::istringstream lines(RunHelper(module.path, wanted));
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    if (fields.size() < 5) continue;
    const std::uint64_t at = std::strtoull(fields[0].c_str(), nullptr, 16);
    if (!found.contains(at)) continue;
    SourceLine s;
    s.line = static_cast<std::uint32_t>(std::strtoul(fields[1].c_str(), nullptr, 10));
    const std::uint64_t start = std::strtoull(fields[2].c_str(), nullptr, 16);
    if (start >= preferred && start - preferred < module.image->size()) {
      s.functionStart = module.image->base() + (start - preferred);
    }
    s.function = fields[3];
    s.file = fields[4];
    if (s.line) found[at] = std::move(s);
  }
  std::lock_guard lock(g_mutex);
  for (auto& [at, s] : found) g_lines[{module.path, at}] = std::move(s);
}

std::optional<SourceLine> SourceLineAt(const Module& module, std::uint64_t address) {
  if (!module.image || !module.image->contains(address)) return std::nullopt;
  LoadSourceLines(module, std::span<const std::uint64_t>(&address, 1));
  const std::uint64_t at = module.image->pe().preferredBase() + (address - module.image->base());
  std::lock_guard lock(g_mutex);
  const auto it = g_lines.find({module.path, at});
  return it == g_lines.end() ? std::nullopt : it->second;
}

}  // namespace ntbox::nt
