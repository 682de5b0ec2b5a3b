#include "nt/ex/Pool.h"

#include <cstring>
#include <string>

namespace ntbox::nt {
namespace {
constexpr std::size_t kMaxRememberedFrees = 4096;
}  // namespace

// The arena and special pool unmap themselves: whatever drivers leaked goes with them.
PoolTracker::~PoolTracker() = default;

void* PoolTracker::Allocate(int type, SIZE_T size, ULONG tag, std::uint64_t caller, bool zero, bool special) {
  std::lock_guard lock(mutex_);
  ++statistics_.attempted;
  statistics_.withNoTag += tag == 0 || tag == 0x656E6F4E;  // "None": ExAllocatePool's
  vf::SpecialPool& specialPool = special_[KindOf(type)];
  PoolArena& arena = arena_[KindOf(type)];
  void* p = special && size <= PoolArena::kReserve ? specialPool.Allocate(size) : nullptr;
  const bool inSpecial = p != nullptr;
  if (inSpecial && KindOf(type) == kPaged && pagedSpecialHook_) pagedSpecialHook_();
  if (!p) {
    bool fresh = false;
    p = size <= PoolArena::kReserve ? arena.Allocate(PoolArena::BlockSize(size), &fresh) : nullptr;
    if (!p) {
      ++statistics_.failed;
      return nullptr;
    }
    if (zero && !fresh) std::memset(p, 0, PoolArena::BlockSize(size));
  }
  ++statistics_.succeeded;
  statistics_.succeededSpecialPool += inSpecial;
  // Special pool pages are fresh, hence zero, whatever was asked.
  const auto address = reinterpret_cast<std::uint64_t>(p);
  freed_.erase(address);
  live_[address] = PoolAllocation{address, size, tag, type, caller, inSpecial};
  return p;
}

PoolTracker::FreeOutcome PoolTracker::Free(void* p, std::optional<ULONG> expectedTag) {
  const auto address = reinterpret_cast<std::uint64_t>(p);
  std::lock_guard lock(mutex_);
  auto it = live_.find(address);
  if (it == live_.end()) {
    auto f = freed_.find(address);
    if (f != freed_.end()) return {FreeResult::AlreadyFreed, f->second};
    return {FreeResult::NotPool, 0};
  }
  const PoolAllocation allocation = it->second;
  const ULONG tag = allocation.tag;
  // Windows compares tags without the PROTECTED_POOL bit.
  if (expectedTag && ((*expectedTag ^ tag) & 0x7FFFFFFF) != 0) return {FreeResult::WrongTag, tag};
  if (allocation.special) {
    vf::SpecialPool& specialPool = special_[KindOf(allocation.type)];
    if (const auto damage = specialPool.Check(p, allocation.size); damage.address) {
      return {FreeResult::Corrupted, tag, allocation, damage};
    }
    specialPool.Free(p, allocation.size);
  } else {
    arena_[KindOf(allocation.type)].Free(p, PoolArena::BlockSize(allocation.size));
  }
  live_.erase(it);
  if (freed_.size() >= kMaxRememberedFrees) freed_.clear();
  freed_[address] = tag;
  return {FreeResult::Freed, tag};
}

std::vector<PoolAllocation> PoolTracker::LiveLocked() const {
  std::vector<PoolAllocation> out;
  out.reserve(live_.size());
  for (const auto& [address, allocation] : live_) out.push_back(allocation);
  return out;
}

std::vector<PoolAllocation> PoolTracker::Outstanding() const {
  std::lock_guard lock(mutex_);
  return LiveLocked();
}

std::optional<std::vector<PoolAllocation>> PoolTracker::OutstandingWithin(std::chrono::milliseconds wait) const {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lock.try_lock_for(wait)) return std::nullopt;
  return LiveLocked();
}

std::optional<PoolAllocation> PoolTracker::Find(const void* p) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(reinterpret_cast<std::uint64_t>(p));
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

std::string PoolTagText(ULONG tag) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<unsigned char>((tag >> (8 * i)) & 0xFF);
    text.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '.');
  }
  return text;
}

}  // namespace ntbox::nt
