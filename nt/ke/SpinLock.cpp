// Spin locks: KSPIN_LOCK with its raise-to-DISPATCH and at-DPC-level forms, in-stack queued spin
// locks and the ForDpc pair. The verifier's IRQL rules for them (0xC4/0x32, 0x40-0x42) apply to
// verified callers; deadlocks are reported for every driver, because the alternative is a hang.
#include "nt/ke/SpinLock.h"

#include <atomic>
#include <unordered_map>

#include <fmt/format.h>

#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/support/Symbolize.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace ke {
namespace {

struct Holder {
  std::uint64_t threadId;
  ULONG64 caller;
};

// Who holds each held lock, for the report when somebody else wants it. Changed under the kernel
// lock, as every spin lock call is made from driver code.
std::unordered_map<const KSPIN_LOCK*, Holder>& Holders() {
  static auto* holders = new std::unordered_map<const KSPIN_LOCK*, Holder>();
  return *holders;
}

thread_local const KSPIN_LOCK* t_lastHeld = nullptr;

KSPIN_LOCK Self(const KernelThread* t) { return reinterpret_cast<KSPIN_LOCK>(t->kthread()); }

[[noreturn]] void ReportHeld(KSPIN_LOCK* lock, KSPIN_LOCK value, const KernelThread* t, ULONG64 caller) {
  const auto lockValue = reinterpret_cast<ULONG64>(lock);
  if (value == Self(t)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, lockValue, 0, 0,
                  "a thread acquired a spin lock it already holds: a self-deadlock", caller);
  }
  const auto it = Holders().find(lock);
  const std::string detail =
      it == Holders().end()
          ? fmt::format("spin lock {:#x} is not free (value {:#x}) and no thread acquired it: uninitialized or "
                        "corrupted; this processor would spin forever",
                        lockValue, value)
          : fmt::format("spin lock {:#x} is held by thread {:#x} (acquired at {}), which cannot release it while "
                        "this one spins: a deadlock",
                        lockValue, it->second.threadId, Symbolize(it->second.caller));
  // What Windows shows for a processor stuck at DISPATCH_LEVEL: the DPC watchdog.
  RaiseBugCheck(bugcheck::DPC_WATCHDOG_VIOLATION, 1, 0x1E00, 0, 0, detail, caller);
}

}  // namespace

bool TryAcquireSpinLock(KSPIN_LOCK* lock, ULONG64 caller) {
  KernelThread* t = CurrentThread();
  KSPIN_LOCK expected = 0;
  if (!std::atomic_ref<KSPIN_LOCK>(*lock).compare_exchange_strong(expected, Self(t), std::memory_order_acquire)) {
    return false;
  }
  Holders()[lock] = Holder{t->id, caller};
  ++t->spinLocksHeld;
  t_lastHeld = lock;
  return true;
}

void AcquireSpinLock(KSPIN_LOCK* lock, ULONG64 caller) {
  if (TryAcquireSpinLock(lock, caller)) return;
  ReportHeld(lock, std::atomic_ref<KSPIN_LOCK>(*lock).load(), CurrentThread(), caller);
}

void ReleaseSpinLock(KSPIN_LOCK* lock, ULONG64 caller) {
  KernelThread* t = CurrentThread();
  KSPIN_LOCK expected = Self(t);
  if (!std::atomic_ref<KSPIN_LOCK>(*lock).compare_exchange_strong(expected, 0, std::memory_order_release)) {
    const auto lockValue = reinterpret_cast<ULONG64>(lock);
    if (expected == 0) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1007, lockValue, 0, 0,
                    "a spin lock was released that is not held (released twice?)", caller);
    }
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1004, lockValue, expected, Self(t),
                  "a spin lock was released by a thread that does not hold it", caller);
  }
  Holders().erase(lock);
  if (t->spinLocksHeld) --t->spinLocksHeld;
  if (t_lastHeld == lock) t_lastHeld = nullptr;
}

const KSPIN_LOCK* LastHeldSpinLock() { return t_lastHeld; }

void CheckReturnWithoutSpinLock(std::uint32_t heldBefore, ULONG64 routine, std::string_view kind) {
  const KernelThread* t = CurrentThread();
  if (t->spinLocksHeld <= heldBefore || !vf::Watches(routine, vf::flags::kDeadlockDetection)) return;
  const KSPIN_LOCK* lock = t_lastHeld;
  const auto it = Holders().find(lock);
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x100A, reinterpret_cast<ULONG64>(t->kthread()),
                reinterpret_cast<ULONG64>(lock), routine,
                fmt::format("{} {} returned holding spin lock {:#x} (acquired at {})", kind, Symbolize(routine),
                            reinterpret_cast<ULONG64>(lock),
                            it == Holders().end() ? std::string("?") : Symbolize(it->second.caller)),
                routine);
}

}  // namespace ke

namespace {

ULONG64 Caller(void* returnAddress) { return reinterpret_cast<ULONG64>(returnAddress); }

// A verifier IRQL rule of the spin lock routines (0xC4 with the subcode and the lock).
void CheckIrql(bool violated, ULONG64 subcode, KSPIN_LOCK* lock, std::string_view what, ULONG64 caller) {
  if (!violated || !vf::Watches(caller, vf::flags::kIrqlChecking)) return;
  const KIRQL irql = KeGetCurrentIrql();
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, subcode, irql, reinterpret_cast<ULONG64>(lock), 0,
                fmt::format("{} at IRQL {}", what, irql), caller);
}

KIRQL RaiseAndAcquire(KSPIN_LOCK* lock, ULONG64 caller) {
  CheckIrql(KeGetCurrentIrql() > DISPATCH_LEVEL, 0x42, lock, "KeAcquireSpinLock called above DISPATCH_LEVEL", caller);
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->irql;
  if (old < DISPATCH_LEVEL) t->SetIrql(DISPATCH_LEVEL);
  ke::AcquireSpinLock(lock, caller);
  return old;
}

void ReleaseAndLower(KSPIN_LOCK* lock, KIRQL newIrql, ULONG64 caller) {
  CheckIrql(KeGetCurrentIrql() != DISPATCH_LEVEL, 0x32, lock, "KeReleaseSpinLock called at an IRQL other than DISPATCH_LEVEL",
            caller);
  ke::ReleaseSpinLock(lock, caller);
  ke::KernelThread* t = ke::CurrentThread();
  if (newIrql > t->irql) {
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, t->irql, newIrql, 0,
                  "KeReleaseSpinLock to an IRQL above the current one", caller);
  }
  t->SetIrql(newIrql);
}

void AcquireAtDpc(KSPIN_LOCK* lock, ULONG64 caller) {
  CheckIrql(KeGetCurrentIrql() < DISPATCH_LEVEL, 0x40, lock, "KeAcquireSpinLockAtDpcLevel called below DISPATCH_LEVEL",
            caller);
  ke::AcquireSpinLock(lock, caller);
}

void ReleaseFromDpc(KSPIN_LOCK* lock, ULONG64 caller) {
  CheckIrql(KeGetCurrentIrql() < DISPATCH_LEVEL, 0x41, lock,
            "KeReleaseSpinLockFromDpcLevel called below DISPATCH_LEVEL", caller);
  ke::ReleaseSpinLock(lock, caller);
}

}  // namespace

void NTAPI KeInitializeSpinLock(KSPIN_LOCK* SpinLock) { *SpinLock = 0; }

KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(KSPIN_LOCK* SpinLock) {
  return RaiseAndAcquire(SpinLock, Caller(__builtin_return_address(0)));
}

void NTAPI KeReleaseSpinLock(KSPIN_LOCK* SpinLock, KIRQL NewIrql) {
  ReleaseAndLower(SpinLock, NewIrql, Caller(__builtin_return_address(0)));
}

void NTAPI KeAcquireSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock) {
  AcquireAtDpc(SpinLock, Caller(__builtin_return_address(0)));
}

void NTAPI KeReleaseSpinLockFromDpcLevel(KSPIN_LOCK* SpinLock) {
  ReleaseFromDpc(SpinLock, Caller(__builtin_return_address(0)));
}

BOOLEAN NTAPI KeTryToAcquireSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckIrql(KeGetCurrentIrql() < DISPATCH_LEVEL, 0x40, SpinLock,
            "KeTryToAcquireSpinLockAtDpcLevel called below DISPATCH_LEVEL", caller);
  return ke::TryAcquireSpinLock(SpinLock, caller) ? TRUE : FALSE;
}

BOOLEAN NTAPI KeTestSpinLock(KSPIN_LOCK* SpinLock) {
  return std::atomic_ref<KSPIN_LOCK>(*SpinLock).load() == 0 ? TRUE : FALSE;
}

KIRQL NTAPI KeAcquireSpinLockForDpc(KSPIN_LOCK* SpinLock) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  if (KeGetCurrentIrql() == DISPATCH_LEVEL) {
    ke::AcquireSpinLock(SpinLock, caller);
    return DISPATCH_LEVEL;
  }
  return RaiseAndAcquire(SpinLock, caller);
}

void NTAPI KeReleaseSpinLockForDpc(KSPIN_LOCK* SpinLock, KIRQL OldIrql) {
  ReleaseAndLower(SpinLock, OldIrql, Caller(__builtin_return_address(0)));
}

void NTAPI KeAcquireInStackQueuedSpinLock(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle) {
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  LockHandle->OldIrql = RaiseAndAcquire(SpinLock, Caller(__builtin_return_address(0)));
}

void NTAPI KeReleaseInStackQueuedSpinLock(KLOCK_QUEUE_HANDLE* LockHandle) {
  ReleaseAndLower(LockHandle->LockQueue.Lock, LockHandle->OldIrql, Caller(__builtin_return_address(0)));
}

void NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle) {
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  AcquireAtDpc(SpinLock, Caller(__builtin_return_address(0)));
}

void NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(KLOCK_QUEUE_HANDLE* LockHandle) {
  ReleaseFromDpc(LockHandle->LockQueue.Lock, Caller(__builtin_return_address(0)));
}

void NTAPI KeAcquireInStackQueuedSpinLockForDpc(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  if (KeGetCurrentIrql() == DISPATCH_LEVEL) {
    ke::AcquireSpinLock(SpinLock, caller);
    LockHandle->OldIrql = DISPATCH_LEVEL;
  } else {
    LockHandle->OldIrql = RaiseAndAcquire(SpinLock, caller);
  }
}

void NTAPI KeReleaseInStackQueuedSpinLockForDpc(KLOCK_QUEUE_HANDLE* LockHandle) {
  ReleaseAndLower(LockHandle->LockQueue.Lock, LockHandle->OldIrql, Caller(__builtin_return_address(0)));
}

}  // namespace ntbox::nt
