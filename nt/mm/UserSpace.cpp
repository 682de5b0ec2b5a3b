#include "nt/mm/UserSpace.h"

#include <sys/mman.h>

#include <array>
#include <atomic>

#include "nt/Status.h"
#include "nt/mm/AddressSpace.h"

namespace ntbox::nt::mm {
namespace {

constexpr std::uint64_t kPage = 0x1000;
// Slot i covers [i * kSliceSize, (i + 1) * kSliceSize); slot 0 holds the null page and images
// that must sit at their preferred base (0x140000000), so processes start at slot 1.
constexpr int kSlots = static_cast<int>(kUserProbeAddress / UserSpace::kSliceSize);
std::array<std::atomic<bool>, kSlots> g_taken{};

int ProtFlags(UserSpace::Protection p) {
  switch (p) {
    case UserSpace::kReadWrite: return PROT_READ | PROT_WRITE;
    case UserSpace::kReadOnly: return PROT_READ;
    default: return PROT_NONE;
  }
}

std::uint64_t PageRound(std::uint64_t size) { return (size + kPage - 1) & ~(kPage - 1); }

}  // namespace

Result<std::unique_ptr<UserSpace>> UserSpace::Create() {
  for (int i = 1; i < kSlots; ++i) {
    bool expected = false;
    if (g_taken[i].compare_exchange_strong(expected, true)) {
      return std::unique_ptr<UserSpace>(new UserSpace(static_cast<std::uint64_t>(i) * kSliceSize, i));
    }
  }
  return Fail("too many processes: every user address space slot is taken", STATUS_INSUFFICIENT_RESOURCES, 1450);
}

UserSpace::~UserSpace() {
  for (const auto& [start, size] : allocations_) munmap(reinterpret_cast<void*>(start), size);
  g_taken[slot_].store(false);
}

void* UserSpace::AllocateAt(std::uint64_t address, std::uint64_t size, Protection protection) {
  size = PageRound(size);
  if (size == 0 || address % kPage != 0 || address < base_ || address + size > end()) return nullptr;
  std::lock_guard lock(mutex_);
  void* p = mmap(reinterpret_cast<void*>(address), size, ProtFlags(protection),
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (p != reinterpret_cast<void*>(address)) {
    munmap(p, size);
    return nullptr;
  }
  allocations_[address] = size;
  return p;
}

void* UserSpace::Allocate(std::uint64_t size, Protection protection) {
  size = PageRound(size);
  if (size == 0) return nullptr;
  std::lock_guard lock(mutex_);
  // Bump allocation with a guard page between blocks, so an overrun faults as on Windows
  // (allocation granularity leaves gaps there too). Wrap once to reuse freed ranges.
  for (int pass = 0; pass < 2; ++pass) {
    while (next_ + size <= end()) {
      const std::uint64_t at = next_;
      void* p = mmap(reinterpret_cast<void*>(at), size, ProtFlags(protection),
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
      if (p != MAP_FAILED && p == reinterpret_cast<void*>(at)) {
        allocations_[at] = size;
        next_ = at + size + kPage;
        return p;
      }
      if (p != MAP_FAILED) munmap(p, size);
      next_ = at + 0x10000;
    }
    next_ = imageRegionEnd();
  }
  return nullptr;
}

bool UserSpace::Free(void* address) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.find(reinterpret_cast<std::uint64_t>(address));
  if (it == allocations_.end()) return false;
  munmap(address, it->second);
  allocations_.erase(it);
  return true;
}

bool UserSpace::Protect(void* address, std::uint64_t size, Protection protection) {
  if (!IsCommitted(reinterpret_cast<std::uint64_t>(address), size)) return false;
  return mprotect(address, PageRound(size), ProtFlags(protection)) == 0;
}

bool UserSpace::IsCommitted(std::uint64_t address, std::uint64_t size) const {
  std::lock_guard lock(mutex_);
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin()) return false;
  --it;
  return address >= it->first && address + size <= it->first + it->second && address + size >= address;
}

std::uint64_t UserSpace::committedBytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [start, size] : allocations_) total += size;
  return total;
}

}  // namespace ntbox::nt::mm
