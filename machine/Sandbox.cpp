#include "machine/Sandbox.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "support/Executable.h"
#include "support/UniqueFd.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <algorithm>

namespace ntbox::machine {
namespace {

// Landlock's UAPI past what Debian 12's headers know (ABI 3 to 6), as the kernel defines it.
constexpr std::uint64_t kFsTruncate = 1ull << 14;   // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ull << 15;   // ABI 5
constexpr std::uint64_t kNetBindTcp = 1ull << 0;    // ABI 4
constexpr std::uint64_t kNetConnectTcp = 1ull << 1;  // ABI 4
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ull << 0;  // ABI 6
constexpr std::uint64_t kScopeSignal = 1ull << 1;              // ABI 6

struct RulesetAttr {
  std::uint64_t handledAccessFs;
  std::uint64_t handledAccessNet;  // ABI 4
  std::uint64_t scoped;            // ABI 6
};
static_assert(sizeof(RulesetAttr) == 24);

constexpr std::uint64_t kFsV1 =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
    LANDLOCK_ACCESS_FS_MAKE_SYM;
constexpr std::uint64_t kRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

SandboxState g_state;
bool g_confined = false;

// Whether the process has one thread: Landlock and capabilities apply to the calling thread only
// (and to the threads it creates later).
bool SingleThreaded() {
  std::error_code ec;
  std::size_t threads = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++threads;
  }
  return !ec && threads == 1;
}

// An ELF executable's PT_INTERP (the dynamic linker), when it names one.
std::optional<std::filesystem::path> Interpreter(const std::filesystem::path& executable) {
  std::ifstream in(executable, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum > 64) {
    return std::nullopt;
  }
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + i * sizeof ph));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return std::nullopt;
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
    std::string path(ph.p_filesz, '\0');
    in.seekg(static_cast<std::streamoff>(ph.p_offset));
    if (!in.read(path.data(), static_cast<std::streamsize>(path.size()))) return std::nullopt;
    path.resize(path.find('\0'));
    std::error_code ec;
    const auto real = std::filesystem::canonical(path, ec);
    return ec ? std::nullopt : std::optional(real);
  }
  return std::nullopt;
}

Result<void> AddPath(int ruleset, const std::filesystem::path& path, std::uint64_t access) {
  UniqueFd parent{::open(path.c_str(), O_PATH | O_CLOEXEC)};
  if (parent.get() < 0) return Fail(fmt::format("{}: {}", path.string(), std::strerror(errno)));
  // A rule on a file (not a directory) may carry only the file rights.
  struct stat st {};
  if (::fstat(parent.get(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
              kFsTruncate | kFsIoctlDev;
  }
  landlock_path_beneath_attr rule{access, parent.get()};
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
    return Fail(fmt::format("a Landlock rule for {}: {}", path.string(), std::strerror(errno)));
  }
  return {};
}

// What a confined process may read besides its machine directory: ntbox's executables and the DLLs
// programs run on, the libraries it maps (and may load later: libc's own modules), the dynamic
// linker's cache, time zones, its own /proc entries and the processor list. No user data, no
// host configuration beyond those.
std::vector<std::filesystem::path> ReadOnlyPaths() {
  namespace fs = std::filesystem;
  std::vector<fs::path> paths;
  std::error_code ec;
  auto add = [&](const fs::path& p) {
    if (!p.empty() && fs::exists(p, ec)) paths.push_back(p);
  };
  if (const fs::path bin = ExecutableDirectory(); !bin.empty()) {
    add(bin);
    add(bin.parent_path() / "lib" / "ntbox");
  }
  if (const char* wine = std::getenv("NTBOX_WINE_DIR"); wine && *wine) add(wine);
  for (const char* system : {"/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
                             "/etc/localtime", "/usr/share/zoneinfo", "/sys/devices/system/cpu"}) {
    add(fs::canonical(system, ec));
  }
  add(fmt::format("/proc/{}", ::getpid()));
  // A library mapped from elsewhere (LD_LIBRARY_PATH): the file itself.
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> mapped;
  for (std::string line; std::getline(maps, line);) {
    if (const auto slash = line.find(" /"); slash != std::string::npos) mapped.insert(line.substr(slash + 1));
  }
  for (const auto& file : mapped) {
    if (std::none_of(paths.begin(), paths.end(), [&](const fs::path& p) { return file.starts_with(p.string() + "/"); })) {
      add(file);
    }
  }
  return paths;
}

// Landlock: true when the ruleset is in force.
Result<void> ApplyLandlock(const SandboxPolicy& policy, SandboxState& state) {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  // NTBOX_LANDLOCK_ABI_MAX: behave as on an older kernel (what its users see, and what the tests try).
  if (const char* cap = std::getenv("NTBOX_LANDLOCK_ABI_MAX"); cap && *cap && abi > std::atol(cap)) {
    abi = std::atol(cap);
    if (abi < 1) errno = ENOSYS;
  }
  if (abi < 1) {
    state.missing.push_back(fmt::format("Landlock (the kernel has none: {}): files, TCP and signals are not confined",
                                        std::strerror(errno)));
    return {};
  }
  state.landlockAbi = static_cast<int>(abi);
  std::uint64_t fs = kFsV1;
  if (abi >= 2) fs |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) fs |= kFsTruncate;
  if (abi >= 5) fs |= kFsIoctlDev;
  RulesetAttr attr{fs, abi >= 4 ? kNetBindTcp | kNetConnectTcp : 0, abi >= 6 ? kScopeAbstractUnixSocket | kScopeSignal : 0};
  const std::size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 16 : 8;
  UniqueFd ruleset{static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0))};
  if (ruleset.get() < 0) return Fail(fmt::format("Landlock refused the ruleset: {}", std::strerror(errno)));
  // Read: ntbox's own tree, the libraries and the few system files the process needs; host files
  // a command names come as descriptors from its client (support/HostFiles.h). Nothing written or
  // run but what the policy names.
  for (const auto& p : ReadOnlyPaths()) {
    if (auto r = AddPath(ruleset.get(), p, kRead); !r) return r;
  }
  const std::uint64_t machine = fs & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK);
  for (const auto& p : policy.readWrite) {
    if (auto r = AddPath(ruleset.get(), p, machine); !r) return r;
  }
  for (const auto& p : policy.executable) {
    if (auto r = AddPath(ruleset.get(), p, LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE); !r) return r;
    // A dynamically linked helper runs through its interpreter, which execve opens to execute too.
    if (const auto interpreter = Interpreter(p)) {
      if (auto r = AddPath(ruleset.get(), *interpreter, LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE); !r) return r;
    }
  }
  // A helper's standard error goes to /dev/null.
  if (auto r = AddPath(ruleset.get(), "/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE | kRead | (abi >= 5 ? kFsIoctlDev : 0)); !r) {
    return r;
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) {
    return Fail(fmt::format("Landlock could not confine the process: {}", std::strerror(errno)));
  }
  state.files = true;
  state.network = abi >= 4;
  state.scoped = abi >= 6;
  if (!state.network) state.missing.push_back(fmt::format("TCP confinement (Landlock ABI {} < 4)", abi));
  if (!state.scoped) state.missing.push_back(fmt::format("signal and abstract-socket scoping (Landlock ABI {} < 6)", abi));
  return {};
}

Result<void> ApplySeccomp(const SandboxPolicy& policy, SandboxState& state) {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
  if (!ctx) return Fail("libseccomp could not start a filter");
  // int 0x80 and sysenter enter as i386 (or x32) calls: none is ever legitimate here.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
  if (rc == 0) rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1);
  // One rule (with one argument condition when count is 1); the first failure sticks in rc.
  auto rule = [&](std::uint32_t action, int syscall, unsigned count = 0, scmp_arg_cmp a = {}) {
    if (rc != 0) return;
    rc = count ? seccomp_rule_add(ctx.get(), action, syscall, 1, a) : seccomp_rule_add(ctx.get(), action, syscall, 0);
  };
  auto trap = [&](int syscall, unsigned count = 0, scmp_arg_cmp a = {}) { rule(SCMP_ACT_TRAP, syscall, count, a); };
  for (const int call :
       {SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(mount), SCMP_SYS(umount2),
        SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(bpf), SCMP_SYS(kexec_load),
        SCMP_SYS(kexec_file_load), SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(io_uring_setup),
        SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register), SCMP_SYS(init_module), SCMP_SYS(finit_module),
        SCMP_SYS(delete_module), SCMP_SYS(reboot), SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(perf_event_open),
        SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at), SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(acct),
        SCMP_SYS(quotactl), SCMP_SYS(settimeofday), SCMP_SYS(clock_settime), SCMP_SYS(clock_adjtime), SCMP_SYS(adjtimex),
        SCMP_SYS(sethostname), SCMP_SYS(setdomainname), SCMP_SYS(kcmp), SCMP_SYS(fsopen), SCMP_SYS(fsmount),
        SCMP_SYS(fsconfig), SCMP_SYS(fspick), SCMP_SYS(move_mount), SCMP_SYS(open_tree), SCMP_SYS(execveat),
        SCMP_SYS(pidfd_send_signal), SCMP_SYS(pidfd_getfd), SCMP_SYS(userfaultfd), SCMP_SYS(fanotify_init),
        SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(personality), SCMP_SYS(vhangup), SCMP_SYS(syslog)}) {
    trap(call);
  }
  // execve: only the helper ntbox starts, which passes its own environment array.
  trap(SCMP_SYS(execve), 1, SCMP_A2(SCMP_CMP_NE, reinterpret_cast<scmp_datum_t>(policy.helperEnvironment)));
  // Children that share the process's memory (posix_spawn, system(), vfork: driver code reaching
  // libc) fail with EPERM: libc blocks every signal around that clone, so a trap could only kill
  // the process. Threads (CLONE_THREAD) and a plain fork's copy go on (the copy's execve traps).
  // clone3's flags are out of the filter's reach: it answers ENOSYS, and libc falls back to clone.
  auto refuse = [&](int error, int syscall, unsigned count = 0, scmp_arg_cmp a = {}) {
    rule(SCMP_ACT_ERRNO(error), syscall, count, a);
  };
  refuse(EPERM, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM | CLONE_THREAD, CLONE_VM));
  refuse(EPERM, SCMP_SYS(vfork));
  refuse(ENOSYS, SCMP_SYS(clone3));
  // Sockets: AF_UNIX only (the control socket, named pipes).
  trap(SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  // kill: not to a process group nor to every process (pid 0 or below); Landlock scopes the rest.
  trap(SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0x80000000u));
  trap(SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, 0));
  if (rc != 0) return Fail(fmt::format("libseccomp could not build the filter: {}", std::strerror(-rc)));
  rc = seccomp_load(ctx.get());
  if (rc != 0) {
    state.missing.push_back(fmt::format("seccomp (the kernel refused the filter: {})", std::strerror(-rc)));
    return {};
  }
  state.seccomp = true;
  return {};
}

void DropCapabilities(SandboxState& state) {
  // The bounding set first (it needs CAP_SETPCAP, which goes with the rest), then every set.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> none(cap_init(), cap_free);
  state.capabilitiesDropped = none && cap_set_proc(none.get()) == 0;
  if (!state.capabilitiesDropped) state.missing.push_back(fmt::format("dropping capabilities ({})", std::strerror(errno)));
}

constexpr uid_t kNobody = 65534;
std::string g_rootKept;  // why GiveUpRoot left the process root

}  // namespace

Result<std::filesystem::path> GiveUpRoot(const std::filesystem::path& machineRoot) {
  uid_t uid = kNobody;
  gid_t gid = kNobody;
  std::filesystem::path reached = machineRoot;
  // Where root cannot be given up (a user namespace that maps no other user, a directory root may
  // not hand over), the process stays root without capabilities and says why (ConfineProcess).
  auto keepRoot = [](std::string why) { g_rootKept = std::move(why); };
  if (!machineRoot.empty()) {
    struct stat st {};
    if (::stat(machineRoot.c_str(), &st) != 0) return Fail(fmt::format("{}: {}", machineRoot.string(), std::strerror(errno)));
    if (st.st_uid != 0) {
      uid = st.st_uid;
      gid = st.st_gid;
    }
    const int fd = ::open(machineRoot.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Fail(fmt::format("{}: {}", machineRoot.string(), std::strerror(errno)));
    reached = std::filesystem::path("/proc/self/fd") / std::to_string(fd);
    // What root (the server before, or a root client offline) made in it becomes the user's.
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(machineRoot, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      (void)::lchown(it->path().c_str(), uid, gid);
    }
    if (::lchown(machineRoot.c_str(), uid, gid) != 0) {
      keepRoot(fmt::format("cannot give the machine directory to uid {}: {}", uid, std::strerror(errno)));
      return reached;
    }
  }
  if (auto pinned = PinExecutableDirectory(); !pinned) return std::unexpected(pinned.error());
  (void)::setgroups(0, nullptr);  // refused in a user namespace that denies it: harmless
  if (::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) {
    keepRoot(fmt::format("cannot become uid {}: {}", uid, std::strerror(errno)));
    return reached;
  }
  // A changed uid makes the process undumpable, which would close /proc/self/fd to itself.
  (void)::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  return reached;
}

const SandboxState* CurrentSandbox() { return g_confined ? &g_state : nullptr; }

Result<SandboxState> ConfineProcess(const SandboxPolicy& policy) {
  SandboxState state;
  if (!SingleThreaded()) return Fail("the sandbox must be set up before the process starts threads");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Fail(fmt::format("no_new_privs: {}", std::strerror(errno)));
  state.noNewPrivs = true;
  if (auto r = ApplyLandlock(policy, state); !r) return std::unexpected(r.error());
  DropCapabilities(state);
  if (auto r = ApplySeccomp(policy, state); !r) return std::unexpected(r.error());
  state.uid = ::geteuid();
  state.root = state.uid == 0;
  if (state.root) {
    state.missing.push_back("giving up root (" +
                            (g_rootKept.empty() ? std::string("the process is root, without capabilities") : g_rootKept) + ")");
  }
  if (policy.require &&
      (!state.files || !state.network || !state.scoped || !state.seccomp || !state.capabilitiesDropped || state.root)) {
    std::string why;
    for (const auto& m : state.missing) why += (why.empty() ? "" : "; ") + m;
    return Fail("the sandbox is not complete (--require-sandbox): " + why);
  }
  g_state = state;
  g_confined = true;
  return state;
}

std::string SandboxState::Describe() const {
  auto yes = [](bool on) { return on ? "on" : "off"; };
  std::string out = fmt::format("Sandbox:\n  Landlock:       {}", landlockAbi ? fmt::format("ABI {}", landlockAbi) : "none");
  out += fmt::format("\n  Files:          {}{}", yes(files), files ? " (read-write beneath the machine directory; read-only: ntbox's own files and the system libraries)" : "");
  out += fmt::format("\n  TCP:            {}", network ? "denied" : "not confined");
  out += fmt::format("\n  Signals:        {}", scoped ? "scoped to the machine" : "not scoped");
  out += fmt::format("\n  seccomp:        {}", yes(seccomp));
  out += fmt::format("\n  no_new_privs:   {}", yes(noNewPrivs));
  out += fmt::format("\n  Capabilities:   {}", capabilitiesDropped ? "none" : "kept");
  out += fmt::format("\n  User:           {}", root ? "root" : uid == kNobody ? "nobody (uid 65534)" : fmt::format("uid {}", uid));
  for (const auto& m : missing) out += "\n  Missing:        " + m;
  return out + "\n";
}

}  // namespace ntbox::machine
