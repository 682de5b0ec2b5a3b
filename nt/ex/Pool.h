// Kernel pool: every allocation is tracked with its tag, size, type and the caller that made it,
// so misuse is caught (double free, wrong tag, freeing what is not pool) and leaks are reported.
// Memory comes from the pool arena, or from the verifier's special pool when asked.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "nt/Types.h"
#include "nt/ex/PoolArena.h"
#include "nt/vf/SpecialPool.h"

namespace ntbox::nt {

struct PoolAllocation {
  std::uint64_t address = 0;
  SIZE_T size = 0;
  ULONG tag = 0;
  int type = 0;
  std::uint64_t caller = 0;  // return address in the allocating code
  bool special = false;      // in special pool
};

// What verifier /query prints: allocation requests since boot.
struct PoolStatistics {
  std::uint64_t attempted = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t succeededSpecialPool = 0;
  std::uint64_t withNoTag = 0;
  std::uint64_t failed = 0;
};

class PoolTracker {
 public:
  PoolTracker() = default;
  ~PoolTracker();
  PoolTracker(const PoolTracker&) = delete;
  PoolTracker& operator=(const PoolTracker&) = delete;

  // Returns nullptr when memory is exhausted. special: from special pool while it has room.
  void* Allocate(int type, SIZE_T size, ULONG tag, std::uint64_t caller, bool zero, bool special = false);
  // Called after special pool maps a paged block's pages in (pageable memory must know).
  void OnPagedSpecialBlock(std::function<void()> hook) { pagedSpecialHook_ = std::move(hook); }

  enum class FreeResult { Freed, AlreadyFreed, WrongTag, NotPool, Corrupted };
  struct FreeOutcome {
    FreeResult result;
    ULONG allocatorTag = 0;
    PoolAllocation allocation{};  // the block, for Corrupted
    vf::SpecialPool::Damage damage{};
  };
  // Frees address; with expectedTag, a mismatch leaves the block allocated.
  FreeOutcome Free(void* address, std::optional<ULONG> expectedTag);

  std::vector<PoolAllocation> Outstanding() const;
  // The same for a bugcheck report, which must not wait for ever: the thread that stopped may hold
  // the pool's lock. nullopt when the lock stays taken for the whole wait.
  std::optional<std::vector<PoolAllocation>> OutstandingWithin(std::chrono::milliseconds wait) const;
  PoolStatistics statistics() const {
    std::lock_guard lock(mutex_);
    return statistics_;
  }
  std::optional<PoolAllocation> Find(const void* address) const;
  // A fault at address in special pool (lock-free: the trap handler asks).
  vf::SpecialPool::Fault ClassifyFault(std::uint64_t address) const {
    for (const auto& special : special_) {
      if (const auto kind = special.Classify(address); kind != vf::SpecialPool::Fault::kNone) return kind;
    }
    return vf::SpecialPool::Fault::kNone;
  }
  // Paged pool's regions (pageable memory): normal and special.
  const PoolArena& pagedArena() const { return arena_[kPaged]; }
  const vf::SpecialPool& pagedSpecialPool() const { return special_[kPaged]; }

  static bool IsPaged(int type) { return (type & 1) != 0; }  // PagedPool, its cache-aligned and session kinds
  // NonPagedPool (NonPagedPoolExecute) and its cache-aligned kinds; not the Nx ones (0x200).
  static bool IsExecutable(int type) { return !IsPaged(type) && (type & 0x200) == 0; }

 private:
  std::vector<PoolAllocation> LiveLocked() const;  // with mutex_ held
  // Each kind of pool lives in regions of its own: paged pool can then be made inaccessible at
  // DISPATCH_LEVEL, and only NonPagedPoolExecute is executable.
  enum Kind { kNonPaged, kPaged, kExecutable, kKinds };
  static Kind KindOf(int type) { return IsPaged(type) ? kPaged : IsExecutable(type) ? kExecutable : kNonPaged; }

  mutable std::timed_mutex mutex_;
  PoolStatistics statistics_;
  std::function<void()> pagedSpecialHook_;
  std::array<PoolArena, kKinds> arena_{PoolArena{PoolArena::kHint}, PoolArena{PoolArena::kPagedHint},
                                       PoolArena{PoolArena::kExecutableHint, PoolArena::kReserve, true}};
  std::array<vf::SpecialPool, kKinds> special_{vf::SpecialPool{vf::SpecialPool::kHint},
                                               vf::SpecialPool{vf::SpecialPool::kPagedHint},
                                               vf::SpecialPool{vf::SpecialPool::kExecutableHint, true}};
  std::unordered_map<std::uint64_t, PoolAllocation> live_;
  // Recently freed addresses, to tell a double free from a wild pointer.
  std::unordered_map<std::uint64_t, ULONG> freed_;
};

// "Tag1" order as Windows prints tags: the first byte of the ULONG first.
std::string PoolTagText(ULONG tag);

}  // namespace ntbox::nt
