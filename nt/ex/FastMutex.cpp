// Fast mutexes (raise to APC_LEVEL) and guarded mutexes (a guarded region instead), one object
// layout: Count bit 0 set while free, Owner the holder's KTHREAD. A contended acquire waits with
// the kernel lock let go, so the holder can run on and release it. Acquiring one's own mutex
// again would hang Windows for good; ntbox reports it (0xC4/0x1000) instead.
#include <atomic>

#include <fmt/format.h>

#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace {

// The fields FAST_MUTEX and KGUARDED_MUTEX share.
struct MutexWord {
  volatile LONG& count;
  PVOID& owner;
  ULONG& contention;
};

MutexWord Fields(FAST_MUTEX* m) { return {m->Count, m->Owner, m->Contention}; }
MutexWord Fields(KGUARDED_MUTEX* m) { return {m->Count, m->Owner, m->Contention}; }

bool Free(const MutexWord& m) { return (std::atomic_ref<LONG>(const_cast<LONG&>(m.count)).load() & FM_LOCK_BIT) != 0; }

void Take(const MutexWord& m, void* self) {
  std::atomic_ref<LONG>(const_cast<LONG&>(m.count)).fetch_and(~FM_LOCK_BIT);
  m.owner = self;
}

void Acquire(const MutexWord& m, const void* object, ULONG64 caller) {
  void* self = ke::CurrentThread()->kthread();
  if (Free(m)) {
    Take(m, self);
    return;
  }
  if (m.owner == self) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, reinterpret_cast<ULONG64>(object), 0, 0,
                  "a thread acquired a mutex it already holds: a self-deadlock", caller);
  }
  ++m.contention;
  ke::WaitInDriver([&m] { return Free(m); });
  Take(m, self);
}

bool TryAcquire(const MutexWord& m) {
  if (!Free(m)) return false;
  Take(m, ke::CurrentThread()->kthread());
  return true;
}

void Release(const MutexWord& m, const void* object, ULONG64 caller) {
  void* self = ke::CurrentThread()->kthread();
  if (m.owner != self || Free(m)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, Free(m) ? 0x1007 : 0x1004,
                  reinterpret_cast<ULONG64>(object), reinterpret_cast<ULONG64>(m.owner),
                  reinterpret_cast<ULONG64>(self),
                  Free(m) ? "a mutex was released that is not held" : "a mutex was released by a thread that does not own it",
                  caller);
  }
  m.owner = nullptr;
  std::atomic_ref<LONG>(const_cast<LONG&>(m.count)).fetch_or(FM_LOCK_BIT);
  ke::WakeWaiters();
}

void CheckIrql(bool violated, ULONG64 subcode, const void* object, std::string_view what, ULONG64 caller) {
  if (!violated || !vf::Watches(caller, vf::flags::kIrqlChecking)) return;
  const ke::KernelThread* t = ke::CurrentThread();
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, subcode, t->Irql(),
                subcode >= 0x39 ? static_cast<ULONG64>(static_cast<std::int64_t>(t->kernelApcDisable))
                                : reinterpret_cast<ULONG64>(object),
                subcode >= 0x39 ? reinterpret_cast<ULONG64>(object) : 0, fmt::format("{} (IRQL {})", what, t->Irql()), caller);
}

ULONG64 Caller(void* returnAddress) { return reinterpret_cast<ULONG64>(returnAddress); }

bool ApcsDisabled(const ke::KernelThread* t) {
  return t->Irql() == APC_LEVEL || t->kernelApcDisable < 0 || t->specialApcDisable < 0;
}

}  // namespace

void NTAPI ExInitializeFastMutex(FAST_MUTEX* FastMutex) {
  FastMutex->Count = FM_LOCK_BIT;
  FastMutex->Owner = nullptr;
  FastMutex->Contention = 0;
  KeInitializeEvent(&FastMutex->Event, 1 /* SynchronizationEvent */, FALSE);
  FastMutex->OldIrql = 0;
}

void NTAPI ExAcquireFastMutex(FAST_MUTEX* FastMutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(KeGetCurrentIrql() > APC_LEVEL, 0x33, FastMutex, "ExAcquireFastMutex called above APC_LEVEL", caller);
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->Irql();
  t->SetIrql(APC_LEVEL);
  Acquire(Fields(FastMutex), FastMutex, caller);
  FastMutex->OldIrql = old;
}

BOOLEAN NTAPI ExTryToAcquireFastMutex(FAST_MUTEX* FastMutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(KeGetCurrentIrql() > APC_LEVEL, 0x33, FastMutex, "ExTryToAcquireFastMutex called above APC_LEVEL", caller);
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->Irql();
  t->SetIrql(APC_LEVEL);
  if (!TryAcquire(Fields(FastMutex))) {
    t->SetIrql(old);
    return FALSE;
  }
  FastMutex->OldIrql = old;
  return TRUE;
}

void NTAPI ExReleaseFastMutex(FAST_MUTEX* FastMutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(KeGetCurrentIrql() != APC_LEVEL, 0x34, FastMutex, "ExReleaseFastMutex called at an IRQL other than APC_LEVEL",
            caller);
  const KIRQL old = static_cast<KIRQL>(FastMutex->OldIrql);
  Release(Fields(FastMutex), FastMutex, caller);
  ke::CurrentThread()->SetIrql(old);
}

void NTAPI ExAcquireFastMutexUnsafe(FAST_MUTEX* FastMutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(!ApcsDisabled(ke::CurrentThread()), 0x39, FastMutex,
            "ExAcquireFastMutexUnsafe called with APCs enabled (outside a critical region, below APC_LEVEL)", caller);
  Acquire(Fields(FastMutex), FastMutex, caller);
}

void NTAPI ExReleaseFastMutexUnsafe(FAST_MUTEX* FastMutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(!ApcsDisabled(ke::CurrentThread()), 0x3A, FastMutex,
            "ExReleaseFastMutexUnsafe called with APCs enabled (outside a critical region, below APC_LEVEL)", caller);
  Release(Fields(FastMutex), FastMutex, caller);
}

void NTAPI KeInitializeGuardedMutex(KGUARDED_MUTEX* Mutex) {
  Mutex->Count = FM_LOCK_BIT;
  Mutex->Owner = nullptr;
  Mutex->Contention = 0;
  InitializeDispatcherHeader(Mutex->Gate, 7 /* GateObject */, sizeof(Mutex->Gate), 0);
  Mutex->KernelApcDisable = 0;
  Mutex->SpecialApcDisable = 0;
}

void NTAPI KeAcquireGuardedMutex(KGUARDED_MUTEX* Mutex) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(KeGetCurrentIrql() > APC_LEVEL, 0x33, Mutex, "KeAcquireGuardedMutex called above APC_LEVEL", caller);
  KeEnterGuardedRegion();
  Acquire(Fields(Mutex), Mutex, caller);
}

BOOLEAN NTAPI KeTryToAcquireGuardedMutex(KGUARDED_MUTEX* Mutex) {
  KeEnterGuardedRegion();
  if (TryAcquire(Fields(Mutex))) return TRUE;
  KeLeaveGuardedRegion();
  return FALSE;
}

void NTAPI KeReleaseGuardedMutex(KGUARDED_MUTEX* Mutex) {
  Release(Fields(Mutex), Mutex, Caller(__builtin_return_address(0)));
  KeLeaveGuardedRegion();
}

void NTAPI KeAcquireGuardedMutexUnsafe(KGUARDED_MUTEX* Mutex) {
  Acquire(Fields(Mutex), Mutex, Caller(__builtin_return_address(0)));
}

void NTAPI KeReleaseGuardedMutexUnsafe(KGUARDED_MUTEX* Mutex) {
  Release(Fields(Mutex), Mutex, Caller(__builtin_return_address(0)));
}

}  // namespace ntbox::nt
