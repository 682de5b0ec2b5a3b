#include "nt/ps/SystemThread.h"

#include "cpu/HostState.h"

#include <sched.h>

#include <csetjmp>
#include <mutex>

#include "cpu/Trap.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/ps/Notify.h"
#include "nt/ps/Process.h"
#include "nt/ps/PsExports.h"

namespace ntbox::nt {
namespace ps {
namespace {

// Where ntbox keeps a thread's priority inside its (opaque) thread object.
constexpr std::size_t kPriorityOffset = ke::kThreadBlockSize - 8;
constexpr LONG kSystemThreadPriority = 8;
constexpr ULONG SYSTEM_THREAD_EXCEPTION_NOT_HANDLED = 0x7E;

LONG& PriorityOf(void* thread) {
  return *reinterpret_cast<LONG*>(static_cast<std::uint8_t*>(thread) + kPriorityOffset);
}

void Signal(void* threadObject) {
  static_cast<DISPATCHER_HEADER*>(threadObject)->SignalState = 1;
  ke::WakeWaiters();
}

}  // namespace

SystemThreads::~SystemThreads() {
  for (auto& e : threads_) {
    if (e.thread.joinable()) e.thread.join();
  }
}

void* SystemThreads::Create(PKSTART_ROUTINE routine, PVOID context, std::uint64_t& id) {
  void* object = ke::CreateThreadObject();
  PriorityOf(object) = kSystemThreadPriority;
  id = ke::NewThreadId();
  ob::ReferenceObject(object);  // the caller's; the thread keeps the creation reference
  const std::uint32_t processor = nextProcessor_++ % Kernel::Current().config().processors;
  threads_.push_back(Entry{{}, reinterpret_cast<std::uint64_t>(routine), true});
  Entry* entry = &threads_.back();
  const std::uint64_t threadId = id;
  // Thread notify routines hear of the new thread on the creating thread, as on Windows.
  NotifyThread(Kernel::Current().systemProcess().id(), threadId, true);
  ke::CountThread();
  entry->thread = std::thread([entry, object, routine, context, processor, threadId] {
    ke::ThreadAttachment attachment(processor, object, threadId);
    ke::KernelThread& t = attachment.thread();
    std::lock_guard lock(ke::TheKernelLock());
    ke::MarkCountedThread();
    sigjmp_buf exit;
    t.exitJump = &exit;
    if (sigsetjmp(exit, 0) == 0) {
      (void)Kernel::Current().RunGuarded([&] {
        cpu::CallDriver(routine, context);
        if (t.Irql() != PASSIVE_LEVEL) {
          RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, reinterpret_cast<ULONG64>(routine), t.Irql(), 0,
                        reinterpret_cast<ULONG64>(routine), "a system thread's routine returned above PASSIVE_LEVEL",
                        reinterpret_cast<ULONG64>(routine));
        }
      });
    }
    // PsTerminateSystemThread jumped here past the guard it ran under.
    t.guard = nullptr;
    t.exitJump = nullptr;
    t.SetIrql(PASSIVE_LEVEL);
    const ULONG systemId = Kernel::Current().systemProcess().id();
    (void)Kernel::Current().RunGuarded([&] { NotifyThread(systemId, threadId, false); });
    entry->running = false;
    Signal(object);
    ob::DereferenceObject(object);
    ke::UncountThread();
  });
  return object;
}

std::size_t SystemThreads::Running(std::uint64_t* routine) const {
  std::size_t n = 0;
  for (const auto& e : threads_) {
    if (!e.running) continue;
    if (n++ == 0) *routine = e.routine;
  }
  return n;
}

std::vector<std::uint64_t> SystemThreads::LiveIn(std::uint64_t begin, std::uint64_t end) const {
  std::vector<std::uint64_t> out;
  for (const auto& e : threads_) {
    if (e.running && e.routine >= begin && e.routine < end) out.push_back(e.routine);
  }
  return out;
}

}  // namespace ps

NTSTATUS NTAPI PsCreateSystemThread(HANDLE* ThreadHandle, ULONG DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                                    HANDLE, CLIENT_ID* ClientId, void(NTAPI* StartRoutine)(PVOID),
                                    PVOID StartContext) {
  if (!ThreadHandle || !StartRoutine) return STATUS_INVALID_PARAMETER;
  std::uint64_t id = 0;
  void* object = Kernel::Current().systemThreads().Create(StartRoutine, StartContext, id);
  *ThreadHandle = ob::InsertHandle(object, DesiredAccess ? DesiredAccess : 0x1FFFFF /* THREAD_ALL_ACCESS */,
                                   ObjectAttributes && (ObjectAttributes->Attributes & OBJ_KERNEL_HANDLE) != 0);
  ob::DereferenceObject(object);
  if (ClientId) {
    ClientId->UniqueProcess = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(Kernel::Current().systemProcess().id()));
    ClientId->UniqueThread = reinterpret_cast<HANDLE>(id);
  }
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->exitJump) return STATUS_INVALID_PARAMETER;
  t->exitStatus = ExitStatus;
  siglongjmp(*t->exitJump, 1);
}

PVOID NTAPI PsGetCurrentThread() { return ke::CurrentThread()->kthread(); }
PVOID NTAPI KeGetCurrentThread() { return ke::CurrentThread()->kthread(); }
HANDLE NTAPI PsGetCurrentThreadId() { return reinterpret_cast<HANDLE>(ke::CurrentThread()->id); }

LONG NTAPI KeSetPriorityThread(PVOID Thread, LONG Priority) {
  // Scheduling priorities do not change the order in which ntbox runs driver code; kept for reads.
  const LONG old = ps::PriorityOf(Thread);
  ps::PriorityOf(Thread) = Priority;
  return old;
}

LONG NTAPI KeQueryPriorityThread(PVOID Thread) { return ps::PriorityOf(Thread); }

LONG NTAPI KeSetBasePriorityThread(PVOID Thread, LONG Increment) {
  const LONG old = ps::PriorityOf(Thread) - ps::kSystemThreadPriority;
  ps::PriorityOf(Thread) = ps::kSystemThreadPriority + Increment;
  return old;
}

ULONG NTAPI KeGetCurrentProcessorNumber() { return ke::CurrentThread()->processor; }

ULONG NTAPI KeGetCurrentProcessorNumberEx(PROCESSOR_NUMBER* ProcNumber) {
  const ULONG n = ke::CurrentThread()->processor;
  if (ProcNumber) *ProcNumber = PROCESSOR_NUMBER{0, static_cast<UCHAR>(n), 0};
  return n;
}

ULONG NTAPI KeQueryActiveProcessorCount(ULONG64* ActiveProcessors) {
  const ULONG n = Kernel::Current().config().processors;
  if (ActiveProcessors) *ActiveProcessors = n >= 64 ? ~0ull : (1ull << n) - 1;
  return n;
}

ULONG64 NTAPI KeQueryActiveProcessors() {
  ULONG64 mask = 0;
  (void)KeQueryActiveProcessorCount(&mask);
  return mask;
}

ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber) {
  return GroupNumber == 0 || GroupNumber == 0xFFFF ? Kernel::Current().config().processors : 0;
}

ULONG NTAPI KeQueryMaximumProcessorCount() { return Kernel::Current().config().processors; }

NTSTATUS NTAPI ZwYieldExecution() {
  ke::KernelLock& lock = ke::TheKernelLock();
  const unsigned depth = lock.ReleaseAll();
  sched_yield();
  lock.Reacquire(depth);
  if (ke::Stopping()) ke::UnwindStopped();
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
