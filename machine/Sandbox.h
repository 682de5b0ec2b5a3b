// The confinement of a process that runs driver and program code (the machine server, and
// `ntbox load`'s throwaway kernel): Linux's own mechanisms, applied before any such code runs.
//   Landlock  files: read and write beneath the machine directory only, read-only elsewhere, no
//             execution but the helper binaries ntbox runs; TCP bind and connect denied (ABI 4);
//             abstract Unix sockets and signals scoped to the confined processes (ABI 6).
//   seccomp   (libseccomp) system calls a machine never makes trap: execve but the helper's, ptrace,
//             process_vm_*, mount and the rest of the namespace and module calls, bpf, kexec,
//             keyctl, io_uring, sockets other than AF_UNIX, signals to process groups; a foreign
//             architecture's calls (int 0x80, sysenter) trap too. A child sharing the process's
//             memory (posix_spawn, system()) cannot be started (EPERM).
//   no_new_privs, every capability dropped.
// What the running kernel lacks is listed, not fatal, unless the caller requires the sandbox.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "support/Result.h"

namespace ntbox::machine {

struct SandboxPolicy {
  std::vector<std::filesystem::path> readWrite;   // the machine directory
  std::vector<std::filesystem::path> executable;  // helper binaries (ntbox-lines)
  char** helperEnvironment = nullptr;  // execve is allowed only with this very envp array
  bool require = false;  // a missing mechanism is an error (--require-sandbox)
};

struct SandboxState {
  int landlockAbi = 0;  // 0: no Landlock
  bool files = false, network = false, scoped = false;
  bool seccomp = false, noNewPrivs = false, capabilitiesDropped = false;
  bool root = false;  // the process still runs as uid 0
  unsigned uid = 0;   // the user it runs as
  std::vector<std::string> missing;  // the protections not in force, with why

  // One line per protection, as `ntbox status` prints them.
  std::string Describe() const;
};

// For a process started as root, before it confines itself: the machine directory and all in it
// go to the user that owns it (to nobody when root does); the directory and ntbox's own tree are
// pinned as descriptors, since the way to them may pass through directories only root may enter
// (/root); then the process becomes that user, for good. Returns the path the machine directory
// is reached by from now on (/proc/self/fd/N). An empty machineRoot (ntbox load): nobody, and
// nothing to hand over.
Result<std::filesystem::path> GiveUpRoot(const std::filesystem::path& machineRoot);

// Confines the calling process (all its threads) as the policy says. Irreversible.
Result<SandboxState> ConfineProcess(const SandboxPolicy& policy);
// The state ConfineProcess left, for status; nullptr before it ran.
const SandboxState* CurrentSandbox();

}  // namespace ntbox::machine
