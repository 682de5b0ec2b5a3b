// Per-thread kernel state. Every host thread that runs driver code is attached: its GS base
// points at a KPCR whose Prcb.CurrentThread (gs:[0x188]) is the thread's KTHREAD, as drivers
// read them inline, and it carries the thread's IRQL (what CR8 holds on real hardware).
#pragma once
#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

#include "nt/Types.h"
#include "nt/ke/BugCheck.h"

namespace ntbox::nt::ps {
class Process;
}

namespace ntbox::nt::ke {

// KPCR offsets drivers and the WDK's inline functions use on x64.
namespace kpcr {
constexpr std::uint32_t kSelf = 0x18;
constexpr std::uint32_t kCurrentPrcb = 0x20;
constexpr std::uint32_t kIrql = 0x50;
// ntbox's own: 1 while the thread's code has interrupts disabled (cli; sti clears it), in a byte
// Windows leaves unused (Unused0), so rewritten cli/sti store to it with a single instruction.
constexpr std::uint32_t kInterruptsDisabled = 0x54;
constexpr std::uint32_t kMajorVersion = 0x60;
constexpr std::uint32_t kMinorVersion = 0x62;
constexpr std::uint32_t kPrcb = 0x180;
constexpr std::uint32_t kPrcbCurrentThread = kPrcb + 0x08;  // gs:[0x188]
constexpr std::uint32_t kPrcbLegacyNumber = kPrcb + 0x04;   // gs:[0x184]
constexpr std::uint32_t kPrcbNumber = kPrcb + 0x24;         // gs:[0x1a4]
constexpr std::uint32_t kBlockSize = 0x8000;
}  // namespace kpcr

constexpr std::uint32_t kThreadBlockSize = 0x800;  // ETHREAD-sized; opaque to drivers
// Where in that block ntbox records the spin locks the thread holds (ke/SpinLock.cpp): past every
// field drivers read, so another thread finds a lock's holder from the lock word alone.
constexpr std::uint32_t kSpinLockRecordOffset = 0x780;
constexpr UCHAR kThreadObjectType = 6;

class KernelThread {
 public:
  // The IRQL is the GS block's byte (gs:[0x50], what CR8 holds on real hardware): driver code
  // rewritten at load reads and writes it there directly, so it is the one source of truth.
  KIRQL Irql() const { return gsIrql ? *gsIrql : kpcr_[kpcr::kIrql]; }
  // The interrupt flag, likewise (cli/sti).
  bool InterruptsEnabled() const {
    return (gsIrql ? gsIrql[kpcr::kInterruptsDisabled - kpcr::kIrql] : kpcr_[kpcr::kInterruptsDisabled]) == 0;
  }
  void SetInterruptsEnabled(bool enabled);
  std::uint32_t processor = 0;
  std::uint64_t id = 0;
  // The process the thread runs for (nullptr: System) and the mode its request came from
  // (ExGetPreviousMode: UserMode for a request from an app or the native client).
  ps::Process* process = nullptr;
  KPROCESSOR_MODE previousMode = 0;
  // Set while driver code runs under CallGuarded: where a bugcheck unwinds to.
  sigjmp_buf* guard = nullptr;
  BugCheck pendingBugCheck{};
  // Set while the thread runs a user-mode program (cpu/UserMode.h): user mode is when guard is
  // this one, not a kernel call's. How the program ended is left in userExit.
  sigjmp_buf* userGuard = nullptr;
  struct UserExit {
    int kind = 0;              // cpu::UserExitKind
    std::uint32_t code = 0;    // exit code, or the exception's NTSTATUS
    std::uint64_t address = 0; // where the exception happened
    std::uint64_t faultAddress = 0;
    bool faultWrite = false;
  bool faultAddressKnown = false;
    std::string deniedSystemCall;  // the Linux call the sandbox denied ("execve (59)"), when that ended it
  } userExit;
  // The program asked to end (NtTerminateProcess on itself, code in userExit): the system-call
  // entry ends it once the service has returned and the kernel is left.
  bool exitRequested = false;
  // A program on Wine's DLLs: ntdll's KiUserExceptionDispatcher, where its exceptions are delivered
  // (0: a program ends at its first exception), and the last one delivered (its code, where, and
  // for an access violation what was touched), for the report when the program ends with it.
  std::uint64_t userExceptionDispatcher = 0;
  UserExit lastException;
  // ntdll's KiUserApcDispatcher, where user APCs are delivered (ps/ThreadServices.cpp).
  std::uint64_t userApcDispatcher = 0;
  // NtContinue: the context (CONTEXT, x64) the system-call entry resumes user mode with.
  bool continuePending = false;
  alignas(16) std::uint8_t continueContext[0x4D0] = {};
  // Another thread asked the program to end (Ctrl-C on ntbox run); honoured in user mode.
  volatile sig_atomic_t terminateRequested = 0;
  std::uint32_t terminateCode = 0;
  // A program thread's suspend count (its ThreadControl's, NtSuspendThread/NtResumeThread): while
  // not zero the thread waits, in its own code (cpu::RequestSuspension) or at its system call's exit.
  std::uint32_t* suspendCount = nullptr;
  // System threads (PsCreateSystemThread): where PsTerminateSystemThread leaves to.
  sigjmp_buf* exitJump = nullptr;
  NTSTATUS exitStatus = 0;
  // Spin locks held (the verifier checks routines return without one) and the critical and
  // guarded region depths (KTHREAD's KernelApcDisable/SpecialApcDisable: 0, or negative inside).
  std::uint32_t spinLocksHeld = 0;
  std::int16_t kernelApcDisable = 0;
  std::int16_t specialApcDisable = 0;
  // Set while a DPC routine runs on this thread (the verifier refuses lowering below DISPATCH_LEVEL
  // there).
  bool inDpcRoutine = false;
  // DPC routines this thread has started: the DPC watchdog times each one (ke/Watchdog.h).
  std::atomic<std::uint32_t> dpcsStarted{0};

  // While a program's thread is in the kernel, the IRQL byte of its GS block (its TEB, which is its
  // KPCR then: see user/README.md), else nullptr (the KPCR's byte is the thread's IRQL). The
  // system-call entry copies the KPCR's byte in and LeaveProgramGsBlock copies it back.
  std::uint8_t* gsIrql = nullptr;
  void LeaveProgramGsBlock();

  // KeSetSystemAffinityThread(Ex): the system affinity set (0: none, the thread runs on its own
  // processor) and the processor it goes back to at KeRevertToUserAffinityThread.
  std::uint64_t systemAffinity = 0;
  std::uint32_t userProcessor = 0;

  std::uint8_t* kpcr() const { return kpcr_; }
  // Where the KPCR pointer is kept, for a reader on another thread that must not fault.
  std::uint8_t* const* kpcrSlot() const { return &kpcr_; }
  std::uint8_t* kthread() const { return kthread_; }
  void SetIrql(KIRQL value);
  // Moves the thread to another virtual processor: its number, and the KPCR's that drivers read.
  void SetProcessor(std::uint32_t number);

  ~KernelThread();

 private:
  friend class ThreadAttachment;
  KernelThread() = default;
  std::uint8_t* kpcr_ = nullptr;
  std::uint8_t* kthread_ = nullptr;
  void* altStack_ = nullptr;
};

// The calling thread's kernel state, or nullptr when it is not attached.
KernelThread* CurrentThread();

// Held by a Zw entry point: the service it calls sees KernelMode as the previous mode (kernel
// buffers and kernel handles are the caller's), whatever request the thread serves.
class KernelModeCall {
 public:
  KernelModeCall() : thread_(CurrentThread()) {
    if (thread_) {
      saved_ = thread_->previousMode;
      thread_->previousMode = 0;  // KernelMode
    }
  }
  ~KernelModeCall() {
    if (thread_) thread_->previousMode = saved_;
  }
  KernelModeCall(const KernelModeCall&) = delete;
  KernelModeCall& operator=(const KernelModeCall&) = delete;

 private:
  KernelThread* thread_;
  KPROCESSOR_MODE saved_ = 0;
};

// A driver's Zw entry point made from its system service: the service with KernelMode as the
// previous mode (the export table lists ZwX as ZwOf<&NtX>::Call).
template <auto Service>
struct ZwOf;
template <class R, class... Args, R(NTAPI* Service)(Args...)>
struct ZwOf<Service> {
  static R NTAPI Call(Args... args) {
    KernelModeCall kernel;
    return Service(args...);
  }
};
// Where the calling thread keeps it: another thread may read it (the watchdog) while this one lives.
KernelThread* const* CurrentThreadSlot();
// A fresh thread id (multiples of 4, as Windows' client ids).
std::uint64_t NewThreadId();
// A new thread object (DISPATCHER_HEADER type Thread, not signaled) with one reference.
void* CreateThreadObject();

// Attaches the calling host thread for as long as it lives (RAII): KPCR, KTHREAD, GS base and an
// alternate signal stack so a driver's stack overflow still reaches the trap handler. The KTHREAD is
// a thread object (ob/) drivers can reference and wait on; pass one to use it (a system thread's,
// created before the thread starts), else the attachment makes its own.
class ThreadAttachment {
 public:
  explicit ThreadAttachment(std::uint32_t processor = 0, void* threadObject = nullptr, std::uint64_t id = 0);
  ~ThreadAttachment();
  ThreadAttachment(const ThreadAttachment&) = delete;
  ThreadAttachment& operator=(const ThreadAttachment&) = delete;
  KernelThread& thread() { return *thread_; }
  // Makes a program's TEB the thread's GS block for good (one arch_prctl: moving GS's base per
  // system call would cost 35 µs here); the KPCR fields kernel code reads through GS are swapped
  // into it on each system call.
  void UseProgramGsBlock(std::uint64_t teb);

 private:
  std::unique_ptr<KernelThread> thread_;
  KernelThread* previous_;
};

}  // namespace ntbox::nt::ke
