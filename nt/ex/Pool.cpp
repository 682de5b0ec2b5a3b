#include "nt/ex/Pool.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace ntbox::nt {
namespace {
constexpr std::size_t kPoolAlignment = 16;  // MEMORY_ALLOCATION_ALIGNMENT on x64
constexpr std::size_t kMaxRememberedFrees = 4096;
}  // namespace

PoolTracker::~PoolTracker() {
  for (auto& [address, allocation] : live_) std::free(reinterpret_cast<void*>(address));
}

void* PoolTracker::Allocate(int type, SIZE_T size, ULONG tag, std::uint64_t caller, bool zero) {
  // Windows hands out a real block even for zero bytes.
  const std::size_t bytes = size ? (size + kPoolAlignment - 1) & ~(kPoolAlignment - 1) : kPoolAlignment;
  if (size > (std::uint64_t{1} << 40)) return nullptr;
  void* p = std::aligned_alloc(kPoolAlignment, bytes);
  if (!p) return nullptr;
  if (zero) std::memset(p, 0, bytes);
  const auto address = reinterpret_cast<std::uint64_t>(p);
  std::lock_guard lock(mutex_);
  freed_.erase(address);
  live_[address] = PoolAllocation{address, size, tag, type, caller};
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
  const ULONG tag = it->second.tag;
  // Windows compares tags without the PROTECTED_POOL bit.
  if (expectedTag && ((*expectedTag ^ tag) & 0x7FFFFFFF) != 0) return {FreeResult::WrongTag, tag};
  live_.erase(it);
  if (freed_.size() >= kMaxRememberedFrees) freed_.clear();
  freed_[address] = tag;
  std::free(p);
  return {FreeResult::Freed, tag};
}

std::vector<PoolAllocation> PoolTracker::Outstanding() const {
  std::lock_guard lock(mutex_);
  std::vector<PoolAllocation> out;
  out.reserve(live_.size());
  for (const auto& [address, allocation] : live_) out.push_back(allocation);
  return out;
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
