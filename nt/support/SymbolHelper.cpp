#include "nt/support/SymbolHelper.h"

#include "nt/Kernel.h"
#include "pe/PeLoader.h"
#include "pe/PeDebug.h"
#include "support/Executable.h"
#include "support/HostFiles.h"
#include "support/UniqueFd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <optional>

extern char** environ;

namespace ntbox::nt {
namespace {

// How long a caller waits for the helper: damaged DWARF must not hang a report or a debugger.
constexpr auto kHelperDeadline = std::chrono::seconds(10);

char* g_environment[] = {const_cast<char*>("LC_ALL=C"), nullptr};

// A memfd holding bytes (the helper reads it by /proc/self/fd/N, which the sandbox allows for
// memory files), or -1.
int MemoryFileOf(const std::vector<std::uint8_t>& bytes) {
  const int fd = memfd_create("ntbox-image", MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Run(const std::vector<std::string>& helperArgs, const std::vector<int>& files) {
  const std::string helper = SymbolHelperPath();
  if (helper.empty() || access(helper.c_str(), X_OK) != 0) return {};
  // The descriptors the helper gets, numbered from 3 after its standard streams: the caller's
  // files first (an argument "@fd:N" names files[N]), then the images below.
  std::vector<int> handed(files.begin(), files.end());
  auto handedPath = [&](std::size_t i) { return "/proc/self/fd/" + std::to_string(3 + i); };
  std::vector<std::string> args{helper};
  for (const auto& a : helperArgs) {
    if (a.starts_with("@fd:")) {
      const std::size_t n = std::strtoul(a.c_str() + 4, nullptr, 10);
      args.push_back(n < files.size() ? handedPath(n) : a);
    } else {
      args.push_back(a);
    }
  }
  // An image the kernel loaded is handed to the helper from the bytes the kernel holds (a memfd),
  // and its PDB by the descriptor the kernel opened at load: the helper is as confined as the
  // server, which reads host files through its clients only.
  std::vector<int> images;  // owned here
  std::vector<std::string> pdbArgs;
  if (const Kernel* kernel = Kernel::CurrentOrNull()) {
    for (std::size_t i = 1; i < args.size(); ++i) {
      for (const Module* m : kernel->Modules()) {
        if (m->path != args[i] || !m->image) continue;
        const int fd = MemoryFileOf(m->image->pe().file());
        if (fd < 0) break;
        args[i] = handedPath(handed.size());
        handed.push_back(fd);
        images.push_back(fd);
        if (m->pdb && pdbArgs.empty()) {
          pdbArgs = {"--pdb", handedPath(handed.size()), "--pdb-name", m->pdbPath};
          handed.push_back(m->pdb.get());
        }
        break;
      }
    }
  }
  args.insert(args.begin() + 1, pdbArgs.begin(), pdbArgs.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    for (const int fd : images) close(fd);
    return {};
  }
  const std::size_t count = handed.size();
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
    // The handed descriptors to 3, 4 …: dup2 onto a number above every source first, then down.
    int moved[16];
    if (count > 16) _exit(127);
    for (std::size_t i = 0; i < count; ++i) {
      moved[i] = fcntl(handed[i], F_DUPFD_CLOEXEC, 64);
      if (moved[i] < 0) _exit(127);
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (dup2(moved[i], 3 + static_cast<int>(i)) < 0) _exit(127);
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

namespace {

// The helper run on the image at a host path (before it: options; after: rest), the image and
// its PDB handed as descriptors.
std::string RunOnImage(const std::string& imagePath, const std::vector<std::string>& searchPath,
                       std::vector<std::string> options, const std::vector<std::string>& rest) {
  std::vector<std::string> args;
  for (const auto& folder : searchPath) args.insert(args.end(), {"--search", folder});
  args.insert(args.end(), options.begin(), options.end());
  std::vector<UniqueFd> owned;
  std::vector<int> files;
  std::optional<pe::PdbReference> reference;
  const Module* module = nullptr;
  if (const Kernel* kernel = Kernel::CurrentOrNull()) {
    for (const Module* m : kernel->Modules()) {
      if (m->path == imagePath && m->image) module = m;
    }
  }
  if (module) {
    // Run hands its bytes, and the PDB opened at load; without one, the search folders are tried.
    args.push_back(imagePath);
    if (!module->pdb && !searchPath.empty()) reference = pe::FindPdbReference(module->image->pe());
  } else {
    // A program's image, a symbol-path candidate: read as this thread may (its client opens it).
    auto image = pe::PeImage::ParseFile(imagePath);
    if (!image) return {};
    UniqueFd bytes(MemoryFileOf(image->file()));
    if (!bytes) return {};
    files.push_back(bytes.get());
    owned.push_back(std::move(bytes));
    args.push_back("@fd:0");
    reference = pe::FindPdbReference(*image);
  }
  args.insert(args.end(), rest.begin(), rest.end());
  if (auto pdb = reference ? OpenPdb(pe::PdbCandidates(*reference, imagePath, searchPath)) : std::nullopt) {
    args.insert(args.begin(), {"--pdb", "@fd:" + std::to_string(files.size()), "--pdb-name", pdb->path});
    files.push_back(pdb->file.get());
    owned.push_back(std::move(pdb->file));
  }
  return Run(args, files);
}

}  // namespace

std::optional<OpenedPdb> OpenPdb(const std::vector<std::string>& candidates) {
  for (const auto& candidate : candidates) {
    auto fd = OpenHostFile(candidate);
    if (!fd) continue;
    UniqueFd file(*fd);
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    return OpenedPdb{std::move(file), candidate};
  }
  return std::nullopt;
}

std::string DumpDebugInfo(const std::string& imagePath, const std::vector<std::string>& searchPath) {
  return RunOnImage(imagePath, searchPath, {"--dump"}, {});
}

std::string LookUpLines(const std::string& imagePath, const std::vector<std::uint64_t>& addresses) {
  std::vector<std::string> hex;
  for (const std::uint64_t a : addresses) hex.push_back(fmt::format("{:x}", a));
  return RunOnImage(imagePath, {}, {}, hex);
}

std::string SymbolHelperPath() {
  const std::filesystem::path bin = ExecutableDirectory();
  return bin.empty() ? std::string() : (bin / "ntbox-lines").string();
}

char** SymbolHelperEnvironment() { return g_environment; }

}  // namespace ntbox::nt
