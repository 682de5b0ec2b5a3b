#include "cpu/UserMode.h"

#include "cpu/HostState.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <ucontext.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <csetjmp>
#include <iterator>
#include <cstring>
#include <map>
#include <mutex>

#include "cpu/SafeCopy.h"
#include "cpu/Trap.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"

// Switches to the program's stack and calls fn with the Windows x64 convention: arguments in
// rcx, rdx, r8; 16-byte aligned before the call, 32 bytes of home space above the return address.
//   uint64_t ntbox_CallOnStack(fn /* rdi */, stackTop /* rsi */, a1 /* rdx */, a2 /* rcx */, a3 /* r8 */)
asm(R"(
  .text
  .globl ntbox_CallOnStack
  .type ntbox_CallOnStack, @function
ntbox_CallOnStack:
  push %rbp
  mov %rsp, %rbp
  and $-16, %rsi
  mov %rsi, %rsp
  sub $32, %rsp
  mov %rdx, %rax
  mov %rcx, %rdx
  mov %rax, %rcx
  call *%rdi
  mov %rbp, %rsp
  pop %rbp
  ret
  .size ntbox_CallOnStack, .-ntbox_CallOnStack
)");
extern "C" std::uint64_t ntbox_CallOnStack(std::uint64_t fn, std::uint64_t stackTop, std::uint64_t a1,
                                           std::uint64_t a2, std::uint64_t a3);

namespace ntbox::cpu {
namespace {

constexpr int kTerminateSignal = SIGUSR2;

void OnTerminateSignal(int, siginfo_t*, void* context) {
  (void)EnterSignalHandler();
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t || !t->userGuard || !t->terminateRequested) return;
  const auto rip = static_cast<std::uint64_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  // Only the program's own code may be abandoned mid-instruction: ntbox code (a DLL function
  // holding a lock) finishes and then checks the request.
  if (t->guard == t->userGuard && rip < nt::mm::kUserProbeAddress) {
    t->userExit.kind = static_cast<int>(UserExitKind::kTerminated);
    t->userExit.code = t->terminateCode;
    siglongjmp(*t->userGuard, 1);
  }
}

int SuspendSignal() { return SIGRTMIN + 7; }  // beside the preemption, watchdog and break-in signals (cpu/Trap)

// The debugger's freeze (a futex word: 1 while it lasts), and how many signalled threads have
// taken its signal.
std::uint32_t g_freeze = 0;
std::uint32_t g_freezeAcks = 0;  // a futex word too: FreezeUserMode waits on it
// The threads running programs (RunUserMode), for the freeze's signals: by kernel thread, its
// pthread and how deep its RunUserMode calls nest.
std::mutex g_userThreadsMutex;
std::map<nt::ke::KernelThread*, std::pair<pthread_t, int>> g_userThreads;

// How many wait in the freeze's signal handler (their signal is blocked there until they thaw).
std::uint32_t g_frozenInHandler = 0;

// Waits while the freeze lasts (or until the thread is to end).
void FrozenWait(nt::ke::KernelThread* t) {
  while (__atomic_load_n(&g_freeze, __ATOMIC_ACQUIRE) != 0 && !t->terminateRequested) {
    syscall(SYS_futex, &g_freeze, FUTEX_WAIT_PRIVATE, 1, nullptr, nullptr, 0);
  }
}

// Waits on the suspend count's word (futex: async-signal-safe) until it is zero or the thread is
// to end.
void SuspendedWait(nt::ke::KernelThread* t) {
  for (;;) {
    const std::uint32_t count = __atomic_load_n(t->suspendCount, __ATOMIC_ACQUIRE);
    if (count == 0 || t->terminateRequested) return;
    syscall(SYS_futex, t->suspendCount, FUTEX_WAIT_PRIVATE, count, nullptr, nullptr, 0);
  }
}

void OnSuspendSignal(int, siginfo_t*, void* context) {
  (void)EnterSignalHandler();
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  const auto rip = static_cast<std::uint64_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  // Only in the program's own code does the thread stop here; in ntbox's code it stops at its
  // system call's exit instead.
  const bool inProgram = t && t->userGuard && t->guard == t->userGuard && rip < nt::mm::kUserProbeAddress;
  const bool freezing = __atomic_load_n(&g_freeze, __ATOMIC_ACQUIRE) != 0;
  if (freezing) {
    // Counted as frozen before the freeze hears of the signal, so that it is not waited for again.
    if (inProgram) __atomic_add_fetch(&g_frozenInHandler, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&g_freezeAcks, 1, __ATOMIC_ACQ_REL);
    syscall(SYS_futex, &g_freezeAcks, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  if (!inProgram) return;
  if (freezing) {
    FrozenWait(t);
    __atomic_sub_fetch(&g_frozenInHandler, 1, __ATOMIC_ACQ_REL);
  }
  if (t->suspendCount) SuspendedWait(t);
  if (t->terminateRequested) {  // ended while suspended: the termination signal found it here
    t->userExit.kind = static_cast<int>(UserExitKind::kTerminated);
    t->userExit.code = t->terminateCode;
    siglongjmp(*t->userGuard, 1);
  }
}

void InstallSuspendHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSuspendSignal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SuspendSignal(), &sa, nullptr);
  });
}

void InstallTerminateHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnTerminateSignal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;  // no SA_RESTART: blocking reads return EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(kTerminateSignal, &sa, nullptr);
  });
}

}  // namespace

std::uint64_t CallUser(std::uint64_t fn, std::uint64_t stackTop, std::uint64_t a1, std::uint64_t a2,
                       std::uint64_t a3) {
  return ntbox_CallOnStack(fn, stackTop, a1, a2, a3);
}

// A thread running a program, in g_userThreads while it does.
class UserThreadListing {
 public:
  explicit UserThreadListing(nt::ke::KernelThread* t) : t_(t) {
    std::lock_guard lock(g_userThreadsMutex);
    auto& [pthread, depth] = g_userThreads[t];
    pthread = pthread_self();
    ++depth;
  }
  ~UserThreadListing() {
    std::lock_guard lock(g_userThreadsMutex);
    if (const auto it = g_userThreads.find(t_); it != g_userThreads.end() && --it->second.second == 0) {
      g_userThreads.erase(it);
    }
  }
  UserThreadListing(const UserThreadListing&) = delete;
  UserThreadListing& operator=(const UserThreadListing&) = delete;

 private:
  nt::ke::KernelThread* t_;
};

UserExit RunUserMode(FunctionRef<std::uint32_t()> body) {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  InstallTrapHandlers();
  InstallTerminateHandler();
  InstallSuspendHandler();
  const UserThreadListing listed(t);
  sigjmp_buf buffer;
  sigjmp_buf* const previousGuard = t->guard;
  sigjmp_buf* const previousUser = t->userGuard;
  t->userExit = {};
  t->guard = &buffer;
  t->userGuard = &buffer;
  UserExit exit;
  if (sigsetjmp(buffer, 1) == 0) {
    if (t->terminateRequested) {
      exit.kind = UserExitKind::kTerminated;
      exit.code = t->terminateCode;
    } else {
      exit.code = body();
    }
  } else {
    exit.kind = static_cast<UserExitKind>(t->userExit.kind);
    exit.code = t->userExit.code;
    exit.address = t->userExit.address;
    exit.faultAddress = t->userExit.faultAddress;
    exit.faultWrite = t->userExit.faultWrite;
    exit.faultAddressKnown = t->userExit.faultAddressKnown;
    exit.deniedSystemCall = t->userExit.deniedSystemCall;
  }
  t->guard = previousGuard;
  t->userGuard = previousUser;
  t->SetIrql(nt::PASSIVE_LEVEL);
  return exit;
}

void ExitUserMode(UserExitKind kind, std::uint32_t code) {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  t->userExit = {};
  t->userExit.kind = static_cast<int>(kind);
  t->userExit.code = code;
  t->guard = t->userGuard;
  siglongjmp(*t->userGuard, 1);
}

std::uint64_t WriteExceptionFrame(const void* context, const void* record, std::uint64_t rsp) {
  constexpr std::size_t kContext = 0x4D0, kRecordAt = 0x4F0, kRecord = 0x98, kFrame = 0x590, kRedZone = 128;
  const std::uint64_t base = (rsp - kRedZone - kFrame) & ~0xFull;
  if (rsp >= nt::mm::kUserProbeAddress || base >= rsp) return 0;
  std::uint8_t frame[kFrame] = {};
  std::memcpy(frame, context, kContext);
  // CONTEXT_EX: the legacy and whole-context chunks (relative to it), no extended state.
  const std::int32_t offsets[3] = {-static_cast<std::int32_t>(kContext), -static_cast<std::int32_t>(kContext), 0x18};
  const std::uint32_t lengths[3] = {kContext, kContext + 0x18, 0};
  for (int i = 0; i < 3; ++i) {
    std::memcpy(frame + kContext + 8 * i, &offsets[i], 4);
    std::memcpy(frame + kContext + 8 * i + 4, &lengths[i], 4);
  }
  std::memcpy(frame + kRecordAt, record, kRecord);
  return SafeCopy(reinterpret_cast<void*>(base), frame, kFrame) ? base : 0;
}

void ExitUserModeAsRecorded() {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  t->guard = t->userGuard;
  siglongjmp(*t->userGuard, 1);
}

bool InUserMode() {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  return t && t->userGuard && t->guard == t->userGuard;
}

void RequestTermination(nt::ke::KernelThread& thread, unsigned long pthread, std::uint32_t code) {
  InstallTerminateHandler();
  if (!thread.terminateRequested) {
    thread.terminateCode = code;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    thread.terminateRequested = 1;
  }
  // A thread asleep in the kernel (a wait for its request) looks again; one in its own code is
  // interrupted by the signal.
  nt::ke::WakeWaiters();
  pthread_kill(static_cast<pthread_t>(pthread), kTerminateSignal);
}

void RequestSuspension(nt::ke::KernelThread& thread, unsigned long pthread) {
  InstallSuspendHandler();
  (void)thread;
  pthread_kill(static_cast<pthread_t>(pthread), SuspendSignal());
}

void WaitWhileSuspended() {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t) return;
  FrozenWait(t);
  if (!t->suspendCount || __atomic_load_n(t->suspendCount, __ATOMIC_ACQUIRE) == 0) return;
  SuspendedWait(t);
}

namespace {

// Signals every other program thread and waits (200 ms at most: one may have the signal blocked
// for long, in a handler of its own) until each that is not already frozen has taken it.
void SignalProgramThreads() {
  __atomic_store_n(&g_freezeAcks, 0, __ATOMIC_RELEASE);
  std::uint32_t signalled = 0;
  {
    std::lock_guard lock(g_userThreadsMutex);
    const pthread_t self = pthread_self();
    for (const auto& [t, entry] : g_userThreads) {
      if (!pthread_equal(entry.first, self) && pthread_kill(entry.first, SuspendSignal()) == 0) ++signalled;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (;;) {
    const std::uint32_t acks = __atomic_load_n(&g_freezeAcks, __ATOMIC_ACQUIRE);
    // A frozen thread has its signal blocked until it thaws: it is not waited for again.
    if (acks + __atomic_load_n(&g_frozenInHandler, __ATOMIC_ACQUIRE) >= signalled) return;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds(0)) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    syscall(SYS_futex, &g_freezeAcks, FUTEX_WAIT_PRIVATE, acks, &wait, nullptr, 0);
  }
}

}  // namespace

void FreezeUserMode() {
  InstallSuspendHandler();
  __atomic_store_n(&g_freeze, 1, __ATOMIC_RELEASE);
  // Twice: a thread the first signal found in ntbox's code on its way back to the program (past
  // its system call's freeze check) is in the program's code by the second.
  SignalProgramThreads();
  SignalProgramThreads();
}

bool RequestProgramBreakIn(std::size_t index) {
  std::lock_guard lock(g_userThreadsMutex);
  if (index >= g_userThreads.size()) return false;
  RequestBreakIn(static_cast<unsigned long>(std::next(g_userThreads.begin(), static_cast<long>(index))->second.first));
  return true;
}

void ThawUserMode() {
  __atomic_store_n(&g_freeze, 0, __ATOMIC_RELEASE);
  syscall(SYS_futex, &g_freeze, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void ResumeSuspended(std::uint32_t* suspendCount) {
  syscall(SYS_futex, suspendCount, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void CheckTermination() {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (t && t->userGuard && t->terminateRequested) ExitUserMode(UserExitKind::kTerminated, t->terminateCode);
}

}  // namespace ntbox::cpu
