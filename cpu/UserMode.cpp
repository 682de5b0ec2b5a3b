#include "cpu/UserMode.h"

#include "cpu/HostState.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <ucontext.h>

#include <atomic>
#include <climits>
#include <csetjmp>
#include <cstring>
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

int SuspendSignal() { return SIGRTMIN + 6; }  // beside the preemption and watchdog signals (cpu/Trap)

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
  if (!t || !t->userGuard || !t->suspendCount) return;
  const auto rip = static_cast<std::uint64_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  // In ntbox's code the thread stops at its system call's exit instead.
  if (t->guard != t->userGuard || rip >= nt::mm::kUserProbeAddress) return;
  SuspendedWait(t);
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

UserExit RunUserMode(FunctionRef<std::uint32_t()> body) {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  InstallTrapHandlers();
  InstallTerminateHandler();
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
  if (!t || !t->suspendCount || __atomic_load_n(t->suspendCount, __ATOMIC_ACQUIRE) == 0) return;
  SuspendedWait(t);
}

void ResumeSuspended(std::uint32_t* suspendCount) {
  syscall(SYS_futex, suspendCount, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void CheckTermination() {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (t && t->userGuard && t->terminateRequested) ExitUserMode(UserExitKind::kTerminated, t->terminateCode);
}

}  // namespace ntbox::cpu
