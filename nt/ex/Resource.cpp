// Executive resources (ERESOURCE: shared/exclusive, recursive for the owner) and push locks.
// An ERESOURCE's state lives beside it, keyed by its address (drivers only pass it around);
// a push lock is its pointer-sized word (bit 0 exclusive, the share count from bit 4), with the
// exclusive owner kept aside to catch a self-deadlock. Contended acquires wait with the kernel
// lock let go; every release wakes the waiters to look again.
#include <algorithm>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "nt/Status.h"
#include "nt/ex/ExTypes.h"
#include "nt/ex/LiveObjects.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace {

struct ResourceState {
  void* exclusiveOwner = nullptr;
  ULONG exclusiveCount = 0;
  std::unordered_map<void*, ULONG> shared;  // thread → recursion
  ULONG exclusiveWaiters = 0;
  ULONG sharedWaiters = 0;
  ULONG contention = 0;
};

// Under the kernel lock, as every caller is driver code. Ordered by address: pool frees ask
// which resources lie in a block.
std::map<const ERESOURCE*, ResourceState>& Resources() {
  static auto* resources = new std::map<const ERESOURCE*, ResourceState>();
  return *resources;
}

}  // namespace

const void* ex::LiveResourceIn(std::uint64_t begin, std::uint64_t end, bool forget) {
  return FirstIn(Resources(), begin, end, forget);
}

namespace {

ULONG64 Caller(void* returnAddress) { return reinterpret_cast<ULONG64>(returnAddress); }
ULONG64 Address(const void* p) { return reinterpret_cast<ULONG64>(p); }
void* Self() { return ke::CurrentThread()->kthread(); }

ResourceState& StateOf(ERESOURCE* r, ULONG64 caller) {
  auto it = Resources().find(r);
  if (it == Resources().end()) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1002, Address(r), 0, 0,
                  "an ERESOURCE was used that ExInitializeResourceLite did not initialize", caller);
  }
  return it->second;
}

// The verifier's rule for resources and push locks: APCs disabled (a critical region or APC_LEVEL)
// while they are held; 0xC4 with the subcode, IRQL, APC disable count and the lock.
void CheckApcsDisabledFor(ULONG64 subcode, const void* lock, std::string_view what, ULONG64 caller) {
  const ke::KernelThread* t = ke::CurrentThread();
  if (t->Irql() >= APC_LEVEL || t->kernelApcDisable < 0 || t->specialApcDisable < 0) return;
  if (!vf::Watches(caller, vf::flags::kIrqlChecking)) return;
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, subcode, t->Irql(),
                static_cast<ULONG64>(static_cast<std::int64_t>(t->kernelApcDisable)), Address(lock), what, caller);
}

void CheckApcsDisabled(ULONG64 subcode, const ERESOURCE* r, ULONG64 caller) {
  CheckApcsDisabledFor(subcode, r,
                       subcode == 0x37 ? "an ERESOURCE acquired with APCs enabled (call KeEnterCriticalRegion first)"
                                       : "an ERESOURCE released with APCs enabled (call it before KeLeaveCriticalRegion)",
                       caller);
}

bool ExclusiveFree(const ResourceState& s) { return !s.exclusiveOwner && s.shared.empty(); }

BOOLEAN AcquireExclusive(ERESOURCE* r, BOOLEAN wait, ULONG64 caller) {
  CheckApcsDisabled(0x37, r, caller);
  ResourceState& s = StateOf(r, caller);
  void* self = Self();
  if (s.exclusiveOwner == self) {
    ++s.exclusiveCount;
    return TRUE;
  }
  if (!ExclusiveFree(s)) {
    if (!wait) return FALSE;
    if (s.shared.contains(self)) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, Address(r), 0, 0,
                    "a thread holding an ERESOURCE shared waits to acquire it exclusive: a self-deadlock", caller);
    }
    ++s.contention;
    ++s.exclusiveWaiters;
    ke::WaitInDriver([r] { return ExclusiveFree(Resources().at(r)); });
    --Resources().at(r).exclusiveWaiters;
  }
  ResourceState& now = Resources().at(r);
  now.exclusiveOwner = self;
  now.exclusiveCount = 1;
  return TRUE;
}

// starve: grant while exclusive waiters queue (ExAcquireSharedStarveExclusive).
BOOLEAN AcquireShared(ERESOURCE* r, BOOLEAN wait, bool starve, ULONG64 caller) {
  CheckApcsDisabled(0x37, r, caller);
  ResourceState& s = StateOf(r, caller);
  void* self = Self();
  if (s.exclusiveOwner == self) {
    ++s.exclusiveCount;  // Windows grants it as exclusive recursion
    return TRUE;
  }
  if (auto it = s.shared.find(self); it != s.shared.end()) {
    ++it->second;
    return TRUE;
  }
  auto grantable = [r, starve] {
    const ResourceState& st = Resources().at(r);
    return !st.exclusiveOwner && (starve || st.exclusiveWaiters == 0);
  };
  if (!grantable()) {
    if (!wait) return FALSE;
    ++s.contention;
    ++s.sharedWaiters;
    ke::WaitInDriver(grantable);
    --Resources().at(r).sharedWaiters;
  }
  Resources().at(r).shared[self] = 1;
  return TRUE;
}

void ReleaseFor(ERESOURCE* r, void* thread, ULONG64 caller) {
  CheckApcsDisabled(0x38, r, caller);
  ResourceState& s = StateOf(r, caller);
  if (s.exclusiveOwner == thread) {
    if (--s.exclusiveCount == 0) s.exclusiveOwner = nullptr;
  } else if (auto it = s.shared.find(thread); it != s.shared.end()) {
    if (--it->second == 0) s.shared.erase(it);
  } else {
    RaiseBugCheck(bugcheck::RESOURCE_NOT_OWNED, Address(r), Address(thread), 0, 0,
                  "a thread released an ERESOURCE it does not own", caller);
  }
  ke::WakeWaiters();
}

}  // namespace

NTSTATUS NTAPI ExInitializeResourceLite(ERESOURCE* Resource) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  if (Resources().contains(Resource) && vf::Watches(caller, vf::flags::kMiscellaneousChecks)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xD0, Address(Resource), 0, 0,
                  "an ERESOURCE was initialized again without ExDeleteResourceLite", caller);
  }
  std::fill(std::begin(Resource->opaque), std::end(Resource->opaque), 0);
  Resources()[Resource] = ResourceState{};
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI ExReinitializeResourceLite(ERESOURCE* Resource) {
  Resources()[Resource] = ResourceState{};
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI ExDeleteResourceLite(ERESOURCE* Resource) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  auto it = Resources().find(Resource);
  if (it == Resources().end()) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xD1, Address(Resource), 0, 0,
                  "ExDeleteResourceLite of an ERESOURCE that is not initialized", caller);
  }
  if (!ExclusiveFree(it->second)) {
    void* owner = it->second.exclusiveOwner ? it->second.exclusiveOwner : it->second.shared.begin()->first;
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x100B, Address(Resource), Address(owner), 0,
                  "ExDeleteResourceLite of an ERESOURCE that a thread still owns", caller);
  }
  Resources().erase(it);
  return STATUS_SUCCESS;
}

BOOLEAN NTAPI ExAcquireResourceExclusiveLite(ERESOURCE* Resource, BOOLEAN Wait) {
  return AcquireExclusive(Resource, Wait, Caller(__builtin_return_address(0)));
}

BOOLEAN NTAPI ExAcquireResourceSharedLite(ERESOURCE* Resource, BOOLEAN Wait) {
  return AcquireShared(Resource, Wait, false, Caller(__builtin_return_address(0)));
}

BOOLEAN NTAPI ExAcquireSharedStarveExclusive(ERESOURCE* Resource, BOOLEAN Wait) {
  return AcquireShared(Resource, Wait, true, Caller(__builtin_return_address(0)));
}

BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(ERESOURCE* Resource, BOOLEAN Wait) {
  return AcquireShared(Resource, Wait, false, Caller(__builtin_return_address(0)));
}

void NTAPI ExReleaseResourceLite(ERESOURCE* Resource) {
  ReleaseFor(Resource, Self(), Caller(__builtin_return_address(0)));
}

void NTAPI ExReleaseResourceForThreadLite(ERESOURCE* Resource, ERESOURCE_THREAD ResourceThreadId) {
  ReleaseFor(Resource, reinterpret_cast<void*>(ResourceThreadId), Caller(__builtin_return_address(0)));
}

void NTAPI ExConvertExclusiveToSharedLite(ERESOURCE* Resource) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  ResourceState& s = StateOf(Resource, caller);
  void* self = Self();
  if (s.exclusiveOwner != self) {
    RaiseBugCheck(bugcheck::RESOURCE_NOT_OWNED, Address(Resource), Address(self), 0, 0,
                  "ExConvertExclusiveToSharedLite by a thread that does not own the ERESOURCE exclusive", caller);
  }
  s.shared[self] = s.exclusiveCount;
  s.exclusiveOwner = nullptr;
  s.exclusiveCount = 0;
  ke::WakeWaiters();
}

BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(ERESOURCE* Resource) {
  const ResourceState& s = StateOf(Resource, Caller(__builtin_return_address(0)));
  return s.exclusiveOwner == Self() ? TRUE : FALSE;
}

ULONG NTAPI ExIsResourceAcquiredSharedLite(ERESOURCE* Resource) {
  const ResourceState& s = StateOf(Resource, Caller(__builtin_return_address(0)));
  void* self = Self();
  if (s.exclusiveOwner == self) return s.exclusiveCount;
  const auto it = s.shared.find(self);
  return it == s.shared.end() ? 0 : it->second;
}

ULONG NTAPI ExGetExclusiveWaiterCount(ERESOURCE* Resource) {
  return StateOf(Resource, Caller(__builtin_return_address(0))).exclusiveWaiters;
}

ULONG NTAPI ExGetSharedWaiterCount(ERESOURCE* Resource) {
  return StateOf(Resource, Caller(__builtin_return_address(0))).sharedWaiters;
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(ERESOURCE* Resource) {
  KeEnterCriticalRegion();
  AcquireExclusive(Resource, TRUE, Caller(__builtin_return_address(0)));
  return Self();
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(ERESOURCE* Resource) {
  KeEnterCriticalRegion();
  AcquireShared(Resource, TRUE, false, Caller(__builtin_return_address(0)));
  return Self();
}

void NTAPI ExReleaseResourceAndLeaveCriticalRegion(ERESOURCE* Resource) {
  ReleaseFor(Resource, Self(), Caller(__builtin_return_address(0)));
  KeLeaveCriticalRegion();
}

// Push locks.
namespace {

constexpr ULONG_PTR kPushExclusive = 0x1;
constexpr ULONG_PTR kPushShareUnit = 0x10;

std::unordered_map<const ULONG_PTR*, void*>& PushOwners() {
  static auto* owners = new std::unordered_map<const ULONG_PTR*, void*>();
  return *owners;
}

void CheckPushApcs(ULONG64 subcode, const ULONG_PTR* lock, ULONG64 caller) {
  CheckApcsDisabledFor(subcode, lock,
                       subcode == 0xEA ? "a push lock acquired with APCs enabled" : "a push lock released with APCs enabled",
                       caller);
}

}  // namespace

void NTAPI ExInitializePushLock(ULONG_PTR* PushLock) { *PushLock = 0; }

void NTAPI ExAcquirePushLockExclusiveEx(ULONG_PTR* PushLock, ULONG) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckPushApcs(0xEA, PushLock, caller);
  void* self = Self();
  if (*PushLock != 0) {
    if (auto it = PushOwners().find(PushLock); it != PushOwners().end() && it->second == self) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, Address(PushLock), 0, 0,
                    "a thread acquired a push lock it already holds exclusive: a self-deadlock", caller);
    }
    ke::WaitInDriver([PushLock] { return *PushLock == 0; });
  }
  *PushLock = kPushExclusive;
  PushOwners()[PushLock] = self;
}

void NTAPI ExAcquirePushLockSharedEx(ULONG_PTR* PushLock, ULONG) {
  CheckPushApcs(0xEA, PushLock, Caller(__builtin_return_address(0)));
  if (*PushLock & kPushExclusive) ke::WaitInDriver([PushLock] { return (*PushLock & kPushExclusive) == 0; });
  *PushLock += kPushShareUnit;
}

void NTAPI ExReleasePushLockExclusiveEx(ULONG_PTR* PushLock, ULONG) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckPushApcs(0xEB, PushLock, caller);
  if (!(*PushLock & kPushExclusive) || PushOwners()[PushLock] != Self()) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1009, Address(PushLock), *PushLock, 0,
                  "a push lock released exclusive that the thread does not hold exclusive", caller);
  }
  PushOwners().erase(PushLock);
  *PushLock = 0;
  ke::WakeWaiters();
}

void NTAPI ExReleasePushLockSharedEx(ULONG_PTR* PushLock, ULONG) {
  const ULONG64 caller = Caller(__builtin_return_address(0));
  CheckPushApcs(0xEB, PushLock, caller);
  if ((*PushLock & kPushExclusive) || *PushLock < kPushShareUnit) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1009, Address(PushLock), *PushLock, 0,
                  "a push lock released shared that is not held shared", caller);
  }
  *PushLock -= kPushShareUnit;
  ke::WakeWaiters();
}

}  // namespace ntbox::nt
