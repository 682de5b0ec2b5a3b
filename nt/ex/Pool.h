// Kernel pool: every allocation is tracked with its tag, size, type and the caller that made it,
// so misuse is caught (double free, wrong tag, freeing what is not pool) and leaks are reported.
// Memory comes from the pool arena, or from the verifier's special pool when asked.
#pragma once
#include <cstdint>
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
  PoolStatistics statistics() const {
    std::lock_guard lock(mutex_);
    return statistics_;
  }
  std::optional<PoolAllocation> Find(const void* address) const;
  // A fault at address in special pool (lock-free: the trap handler asks).
  vf::SpecialPool::Fault ClassifyFault(std::uint64_t address) const {
    const auto kind = special_.Classify(address);
    return kind != vf::SpecialPool::Fault::kNone ? kind : pagedSpecial_.Classify(address);
  }
  // Paged pool's regions (pageable memory): normal and special.
  const PoolArena& pagedArena() const { return pagedArena_; }
  const vf::SpecialPool& pagedSpecialPool() const { return pagedSpecial_; }

  static bool IsPaged(int type) { return (type & 1) != 0; }  // PagedPool, its cache-aligned and session kinds

 private:
  mutable std::mutex mutex_;
  PoolStatistics statistics_;
  // Paged pool lives apart from nonpaged pool so it can be made inaccessible at DISPATCH_LEVEL.
  PoolArena arena_;
  PoolArena pagedArena_{PoolArena::kPagedHint};
  vf::SpecialPool special_;
  vf::SpecialPool pagedSpecial_{vf::SpecialPool::kPagedHint};
  std::unordered_map<std::uint64_t, PoolAllocation> live_;
  // Recently freed addresses, to tell a double free from a wild pointer.
  std::unordered_map<std::uint64_t, ULONG> freed_;
};

// "Tag1" order as Windows prints tags: the first byte of the ULONG first.
std::string PoolTagText(ULONG tag);

}  // namespace ntbox::nt
