// Spin locks: KSPIN_LOCK with its raise-to-DISPATCH and at-DPC-level forms, in-stack queued spin
// locks and the ForDpc pair. The verifier's IRQL rules for them (0xC4/0x32, 0x40-0x42) apply to
// verified callers; deadlocks are reported for every driver, because the alternative is a hang.
#include "nt/ke/SpinLock.h"

#include <atomic>
#include <algorithm>

#include <fmt/format.h>

#include "cpu/SafeCopy.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/support/Symbolize.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace ke {
namespace {

// The spin locks a thread holds and where it took them, kept in its KTHREAD block: the lock word
// names the owner's KTHREAD, so a thread that finds a lock taken reads the holder's record there.
struct SpinLockRecord {
  static constexpr std::uint32_t kEntries = 7;  // deeper nesting is counted, not recorded
  struct Entry {
    const KSPIN_LOCK* lock;
    ULONG64 caller;
  };
  std::uint64_t threadId;
  Entry entries[kEntries];
};
static_assert(kSpinLockRecordOffset + sizeof(SpinLockRecord) <= kThreadBlockSize);

SpinLockRecord& RecordOf(const KernelThread* t) {
  return *reinterpret_cast<SpinLockRecord*>(t->kthread() + kSpinLockRecordOffset);
}

KSPIN_LOCK Self(const KernelThread* t) { return reinterpret_cast<KSPIN_LOCK>(t->kthread()); }

[[noreturn]] void ReportHeld(KSPIN_LOCK* lock, KSPIN_LOCK value, const KernelThread* t, ULONG64 caller) {
  const auto lockValue = reinterpret_cast<ULONG64>(lock);
  if (value == Self(t)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, lockValue, 0, 0,
                  "a thread acquired a spin lock it already holds: a self-deadlock", caller);
  }
  // The lock word may be garbage (an uninitialized lock): read the would-be holder's record safely
  // and believe it only if it lists this lock.
  SpinLockRecord holder{};
  const SpinLockRecord::Entry* taken = nullptr;
  if (cpu::SafeCopy(&holder, reinterpret_cast<const std::uint8_t*>(value) + kSpinLockRecordOffset, sizeof holder)) {
    for (const auto& e : holder.entries) {
      if (e.lock == lock) taken = &e;
    }
  }
  const std::string detail =
      !taken ? fmt::format("spin lock {:#x} is not free (value {:#x}) and no thread acquired it: uninitialized or "
                           "corrupted; this processor would spin forever",
                           lockValue, value)
             : fmt::format("spin lock {:#x} is held by thread {:#x} (acquired at {}), which cannot release it while "
                           "this one spins: a deadlock",
                           lockValue, holder.threadId, Symbolize(taken->caller));
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
  if (t->spinLocksHeld < SpinLockRecord::kEntries) {
    SpinLockRecord& record = RecordOf(t);
    record.threadId = t->id;
    record.entries[t->spinLocksHeld] = {lock, caller};
  }
  ++t->spinLocksHeld;
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
  // Locks are usually released innermost first, but need not be: close the gap this one leaves.
  SpinLockRecord& record = RecordOf(t);
  const std::uint32_t recorded = std::min(t->spinLocksHeld, SpinLockRecord::kEntries);
  for (std::uint32_t i = recorded; i-- > 0;) {
    if (record.entries[i].lock != lock) continue;
    std::copy(record.entries + i + 1, record.entries + recorded, record.entries + i);
    record.entries[recorded - 1] = {};
    break;
  }
  if (t->spinLocksHeld) --t->spinLocksHeld;
}

void CheckReturnWithoutSpinLock(std::uint32_t heldBefore, ULONG64 routine, std::string_view kind) {
  const KernelThread* t = CurrentThread();
  if (t->spinLocksHeld <= heldBefore || !vf::Watches(routine, vf::flags::kDeadlockDetection)) return;
  const SpinLockRecord& record = RecordOf(t);
  const auto& last = record.entries[std::min(t->spinLocksHeld, SpinLockRecord::kEntries) - 1];
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x100A, reinterpret_cast<ULONG64>(t->kthread()),
                reinterpret_cast<ULONG64>(last.lock), routine,
                fmt::format("{} {} returned holding spin lock {:#x} (acquired at {})", kind, Symbolize(routine),
                            reinterpret_cast<ULONG64>(last.lock), Symbolize(last.caller)),
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
  const KIRQL old = t->Irql();
  if (old < DISPATCH_LEVEL) t->SetIrql(DISPATCH_LEVEL);
  ke::AcquireSpinLock(lock, caller);
  return old;
}

void ReleaseAndLower(KSPIN_LOCK* lock, KIRQL newIrql, ULONG64 caller) {
  CheckIrql(KeGetCurrentIrql() != DISPATCH_LEVEL, 0x32, lock, "KeReleaseSpinLock called at an IRQL other than DISPATCH_LEVEL",
            caller);
  ke::ReleaseSpinLock(lock, caller);
  ke::KernelThread* t = ke::CurrentThread();
  if (newIrql > t->Irql()) {
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, t->Irql(), newIrql, 0,
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
