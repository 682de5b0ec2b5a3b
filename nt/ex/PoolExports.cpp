#include "nt/ex/PoolExports.h"

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/LiveObjects.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Processors.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/mm/AddressSpace.h"
#include "nt/rtl/Exception.h"
#include "nt/vf/Verifier.h"

#include <fmt/format.h>

namespace ntbox::nt {
namespace {

bool MustSucceed(POOL_TYPE type) {
  return type == NonPagedPoolMustSucceed || type == NonPagedPoolCacheAlignedMustS;
}

PVOID Allocate(POOL_TYPE type, SIZE_T bytes, ULONG tag, bool zero, std::uint64_t caller) {
  const KIRQL irql = KeGetCurrentIrql();
  if (PoolTracker::IsPaged(type) && irql > APC_LEVEL) {
    // Paged pool may be paged out: it is no memory for code that cannot take a page fault.
    if (vf::Watches(caller, vf::flags::kIrqlChecking)) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x01, irql, static_cast<ULONG64>(type), bytes,
                    "paged pool allocated at an IRQL above APC_LEVEL", caller);
    }
    RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x08, irql, static_cast<ULONG64>(type), bytes,
                  "paged pool allocated at an IRQL above APC_LEVEL", caller);
  }
  if (bytes == 0 && vf::Watches(caller, vf::flags::kPoolTracking)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x00, irql, static_cast<ULONG64>(type), 0,
                  "a zero-byte pool allocation", caller);
  }
  if (tag == 0) {
    RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x9B, static_cast<ULONG64>(type), bytes, caller,
                  "pool allocated with a tag of 0", caller);
  }
  if (MustSucceed(type)) {
    RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x9A, static_cast<ULONG64>(type), bytes, tag,
                  "MUST_SUCCEED pool is no longer supported", caller);
  }
  return Kernel::Current().pool().Allocate(type, bytes, tag, caller, zero,
                                          vf::Watches(caller, vf::flags::kSpecialPool));
}

// Objects the kernel still uses inside a block being freed. A timer or a queued DPC would fire
// into reused memory, so it stops every driver (0xC7); a live ERESOURCE or lookaside list is the
// verifier's 0xC4 (0xD2, 0xCC), and is otherwise forgotten so the address can be initialized again.
void CheckLiveObjects(const PoolAllocation& block, std::uint64_t caller) {
  const std::uint64_t begin = block.address;
  const std::uint64_t end = block.address + block.size;
  const auto live = Kernel::Current().processors().LiveIn(begin, end);
  if (!live.timers.empty()) {
    const KTIMER* timer = live.timers.front();
    RaiseBugCheck(bugcheck::TIMER_OR_DPC_INVALID, 0, reinterpret_cast<ULONG64>(timer), begin, end,
                  fmt::format("pool freed with a timer still set in it (at +{:#x})",
                              reinterpret_cast<std::uint64_t>(timer) - begin),
                  caller);
  }
  if (!live.dpcs.empty()) {
    const KDPC* dpc = live.dpcs.front();
    RaiseBugCheck(bugcheck::TIMER_OR_DPC_INVALID, 1, reinterpret_cast<ULONG64>(dpc), begin, end,
                  fmt::format("pool freed with a DPC still queued in it (at +{:#x})",
                              reinterpret_cast<std::uint64_t>(dpc) - begin),
                  caller);
  }
  const bool verified = vf::Watches(caller, vf::flags::kMiscellaneousChecks);
  if (const void* resource = ex::LiveResourceIn(begin, end, !verified); resource && verified) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xD2, reinterpret_cast<ULONG64>(resource), begin,
                  block.size,
                  fmt::format("pool freed with an ERESOURCE in it (at +{:#x}) that ExDeleteResourceLite did not "
                              "delete",
                              reinterpret_cast<std::uint64_t>(resource) - begin),
                  caller);
  }
  if (const void* list = ex::LiveLookasideIn(begin, end, !verified); list && verified) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCC, reinterpret_cast<ULONG64>(list), begin,
                  block.size,
                  fmt::format("pool freed with a lookaside list in it (at +{:#x}) that was not deleted",
                              reinterpret_cast<std::uint64_t>(list) - begin),
                  caller);
  }
}

void Free(PVOID p, std::optional<ULONG> tag, std::uint64_t caller) {
  const auto address = reinterpret_cast<std::uint64_t>(p);
  if (address < mm::kSystemRangeStart) {
    RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x40, address, mm::kSystemRangeStart, 0,
                  "ExFreePool of a user-mode address", caller);
  }
  const auto block = Kernel::Current().pool().Find(p);
  if (const KIRQL irql = KeGetCurrentIrql(); block && PoolTracker::IsPaged(block->type) && irql > APC_LEVEL) {
    if (vf::Watches(caller, vf::flags::kIrqlChecking)) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x11, irql, static_cast<ULONG64>(block->type),
                    address, "paged pool freed at an IRQL above APC_LEVEL", caller);
    }
    RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x09, irql, static_cast<ULONG64>(block->type), address,
                  "paged pool freed at an IRQL above APC_LEVEL", caller);
  }
  if (block) CheckLiveObjects(*block, caller);
  const auto outcome = Kernel::Current().pool().Free(p, tag);
  switch (outcome.result) {
    case PoolTracker::FreeResult::Freed:
      return;
    case PoolTracker::FreeResult::AlreadyFreed:
      RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x07, 0, outcome.allocatorTag, address,
                    "pool freed twice", caller);
    case PoolTracker::FreeResult::WrongTag:
      RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x0A, address, outcome.allocatorTag, *tag,
                    "pool freed with the wrong tag", caller);
    case PoolTracker::FreeResult::Corrupted:
      RaiseBugCheck(bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, address, outcome.damage.address, 0,
                    outcome.damage.afterEnd ? 0x24 : 0x23,
                    outcome.damage.afterEnd ? fmt::format("special pool: a write past the end of the {}-byte block "
                                                          "'{}' (at +{:#x}), found when it was freed",
                                                          outcome.allocation.size, PoolTagText(outcome.allocatorTag),
                                                          outcome.damage.address - address)
                                            : fmt::format("special pool: a write before the start of the {}-byte "
                                                          "block '{}' (at -{:#x}), found when it was freed",
                                                          outcome.allocation.size, PoolTagText(outcome.allocatorTag),
                                                          address - outcome.damage.address),
                    caller);
    case PoolTracker::FreeResult::NotPool:
      RaiseBugCheck(bugcheck::BAD_POOL_CALLER, 0x46, address, 0, 0,
                    "ExFreePool of an address that is not pool", caller);
  }
}

#define NTBOX_CALLER reinterpret_cast<std::uint64_t>(__builtin_return_address(0))

}  // namespace

PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return Allocate(PoolType, NumberOfBytes, Tag, false, NTBOX_CALLER);
}

PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return Allocate(PoolType, NumberOfBytes, kTagNone, false, NTBOX_CALLER);
}

PVOID NTAPI ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return Allocate(PoolType, NumberOfBytes, Tag, true, NTBOX_CALLER);
}

PVOID NTAPI ExAllocatePool2(ULONG64 Flags, SIZE_T NumberOfBytes, ULONG Tag) {
  using namespace pool_flags;
  const std::uint64_t kinds = Flags & (kNonPaged | kNonPagedExecute | kPaged);
  // Exactly one kind of pool must be named; anything else fails, as documented.
  if (kinds == 0 || (kinds & (kinds - 1)) != 0) return nullptr;
  const POOL_TYPE type = (Flags & kPaged) ? PagedPool : (Flags & kNonPaged) ? NonPagedPoolNx : NonPagedPool;
  PVOID p = Allocate(type, NumberOfBytes, Tag, (Flags & kUninitialized) == 0, NTBOX_CALLER);
  if (!p && (Flags & kRaiseOnFailure)) RaiseAtDriverCall(STATUS_INSUFFICIENT_RESOURCES);
  return p;
}

// Quota is charged to the caller's process on Windows; ntbox sets no quota limits, so only the pool
// itself can fail, which raises STATUS_INSUFFICIENT_RESOURCES unless the type asks for NULL.
PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  constexpr int kFailInsteadOfRaise = 8, kRaiseIfAllocationFailure = 16;
  const int flags = static_cast<int>(PoolType);
  const auto type = static_cast<POOL_TYPE>(flags & ~(kFailInsteadOfRaise | kRaiseIfAllocationFailure));
  PVOID p = Allocate(type, NumberOfBytes, Tag, false, NTBOX_CALLER);
  if (!p && !(flags & kFailInsteadOfRaise)) RaiseAtDriverCall(STATUS_INSUFFICIENT_RESOURCES);
  return p;
}

PVOID NTAPI ExAllocatePoolWithQuota(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return ExAllocatePoolWithQuotaTag(PoolType, NumberOfBytes, kTagNone);
}

void NTAPI ExFreePool(PVOID P) { Free(P, std::nullopt, NTBOX_CALLER); }

void NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag) { Free(P, Tag, NTBOX_CALLER); }

}  // namespace ntbox::nt
