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

ULONG PageProtection(UserSpace::Protection p) {
  switch (p) {
    case UserSpace::kReadWrite: return page::kReadWrite;
    case UserSpace::kReadOnly: return page::kReadOnly;
    default: return page::kNoAccess;
  }
}

std::uint64_t PageRound(std::uint64_t size) { return (size + kPage - 1) & ~(kPage - 1); }

void* MapNone(std::uint64_t at, std::uint64_t size) {
  void* p = mmap(reinterpret_cast<void*>(at), size, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (p != reinterpret_cast<void*>(at)) {
    munmap(p, size);
    return nullptr;
  }
  return p;
}

}  // namespace

int HostProtection(ULONG protect) {
  switch (protect & 0xFF) {
    case page::kNoAccess: return PROT_NONE;
    case page::kReadOnly: return PROT_READ;
    case page::kReadWrite:
    case page::kWriteCopy: return PROT_READ | PROT_WRITE;
    case page::kExecute:
    case page::kExecuteRead: return PROT_READ | PROT_EXEC;
    case page::kExecuteReadWrite:
    case page::kExecuteWriteCopy: return PROT_READ | PROT_WRITE | PROT_EXEC;
    default: return -1;
  }
}

Result<std::unique_ptr<UserSpace>> UserSpace::Create() {
  for (int i = 1; i < kSlots; ++i) {
    bool expected = false;
    if (g_taken[i].compare_exchange_strong(expected, true)) {
      return std::unique_ptr<UserSpace>(new UserSpace(static_cast<std::uint64_t>(i) * kSliceSize, i));
    }
  }
  return Fail("too many processes: every user address space slot is taken", STATUS_INSUFFICIENT_RESOURCES, 1450);
}

std::size_t UserSpace::SlotsTaken() {
  std::size_t n = 0;
  for (const auto& t : g_taken) n += t.load() ? 1 : 0;
  return n;
}

UserSpace::~UserSpace() {
  for (const auto& [start, r] : regions_) {
    if (r.ownMapping) munmap(reinterpret_cast<void*>(start), r.size);
  }
  g_taken[slot_].store(false);
}

std::map<std::uint64_t, UserSpace::Region>::iterator UserSpace::RegionAt(std::uint64_t address) {
  auto it = regions_.upper_bound(address);
  if (it == regions_.begin()) return regions_.end();
  --it;
  return address < it->first + it->second.size ? it : regions_.end();
}

std::map<std::uint64_t, UserSpace::Region>::const_iterator UserSpace::RegionAt(std::uint64_t address) const {
  auto it = regions_.upper_bound(address);
  if (it == regions_.begin()) return regions_.end();
  --it;
  return address < it->first + it->second.size ? it : regions_.end();
}

NTSTATUS UserSpace::SetPages(std::uint64_t start, Region& r, std::uint64_t address, std::uint64_t size,
                             ULONG protect) {
  // A guard page is inaccessible until first touched (the fault that clears it is the exception
  // handler's business): the host maps it without access.
  const int host = (protect & page::kGuard) ? PROT_NONE : HostProtection(protect);
  if (host < 0) return STATUS_INVALID_PAGE_PROTECTION;
  if (mprotect(reinterpret_cast<void*>(address), size, host) != 0) return STATUS_NO_MEMORY;
  for (std::uint64_t p = address; p < address + size; p += kPage) r.pages[(p - start) / kPage] = protect;
  return STATUS_SUCCESS;
}

std::uint64_t UserSpace::FindFree(std::uint64_t size, bool topDown) {
  // Gaps between regions, at allocation granularity; a candidate the host already uses (an image
  // the loader mapped) is skipped when mmap refuses it.
  const std::uint64_t low = imageRegionEnd();
  if (topDown) {
    std::uint64_t limit = end();
    for (auto it = regions_.rbegin();; ++it) {
      const std::uint64_t floor = it == regions_.rend() ? low : std::max(low, it->first + it->second.size);
      for (std::uint64_t at = (limit - size) & ~(kGranularity - 1); at >= floor && at + size <= limit && at >= low;
           at -= kGranularity) {
        if (MapNone(at, size)) return at;
        if (at < kGranularity) break;
      }
      if (it == regions_.rend()) return 0;
      limit = std::min(limit, it->first);
    }
  }
  std::uint64_t at = (std::max(low, next_) + kGranularity - 1) & ~(kGranularity - 1);
  for (int pass = 0; pass < 2; ++pass) {
    while (at + size <= end()) {
      auto next = regions_.lower_bound(at);
      if (next != regions_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second.size > at) {
          at = (prev->first + prev->second.size + kGranularity - 1) & ~(kGranularity - 1);
          continue;
        }
      }
      if (next != regions_.end() && next->first < at + size) {
        at = (next->first + next->second.size + kGranularity - 1) & ~(kGranularity - 1);
        continue;
      }
      if (MapNone(at, size)) return at;
      at += kGranularity;
    }
    at = low;
  }
  return 0;
}

NTSTATUS UserSpace::AllocateVirtual(std::uint64_t& address, std::uint64_t& size, ULONG type, ULONG protect) {
  if (size == 0 || size > kSliceSize) return STATUS_INVALID_PARAMETER;
  if (!(type & (mem::kCommit | mem::kReserve | mem::kReset))) return STATUS_INVALID_PARAMETER;
  if ((type & mem::kReset) && (type & (mem::kCommit | mem::kReserve))) return STATUS_INVALID_PARAMETER;
  if (HostProtection(protect) < 0) return STATUS_INVALID_PAGE_PROTECTION;
  std::lock_guard lock(mutex_);
  if (type & mem::kReset) {
    const std::uint64_t from = address & ~(kPage - 1), to = PageRound(address + size);
    auto it = RegionAt(from);
    if (it == regions_.end() || to > it->first + it->second.size) return STATUS_CONFLICTING_ADDRESSES;
    madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    address = from;
    size = to - from;
    return STATUS_SUCCESS;
  }
  const bool reserve = (type & mem::kReserve) || address == 0;
  if (reserve) {
    std::uint64_t from, length;
    if (address) {
      from = address & ~(kGranularity - 1);
      length = PageRound(address + size) - from;
      if (from < base_ || from + length > end() || from + length < from) return STATUS_CONFLICTING_ADDRESSES;
      auto next = regions_.lower_bound(from);
      if ((next != regions_.end() && next->first < from + length) || RegionAt(from) != regions_.end()) {
        return STATUS_CONFLICTING_ADDRESSES;
      }
      if (!MapNone(from, length)) return STATUS_CONFLICTING_ADDRESSES;
    } else {
      length = PageRound(size);
      from = FindFree(length, (type & mem::kTopDown) != 0);
      if (!from) return STATUS_NO_MEMORY;
    }
    Region r;
    r.size = length;
    r.allocationProtect = protect;
    r.pages.assign(length / kPage, 0);
    auto [it, inserted] = regions_.emplace(from, std::move(r));
    if (type & mem::kCommit) {
      if (const NTSTATUS s = SetPages(from, it->second, from, length, protect); s != STATUS_SUCCESS) {
        munmap(reinterpret_cast<void*>(from), length);
        regions_.erase(it);
        return s;
      }
    }
    address = from;
    size = length;
    return STATUS_SUCCESS;
  }
  const std::uint64_t from = address & ~(kPage - 1), to = PageRound(address + size);
  auto it = RegionAt(from);
  if (it == regions_.end() || to > it->first + it->second.size || to <= from) return STATUS_CONFLICTING_ADDRESSES;
  if (const NTSTATUS s = SetPages(it->first, it->second, from, to - from, protect); s != STATUS_SUCCESS) return s;
  address = from;
  size = to - from;
  return STATUS_SUCCESS;
}

NTSTATUS UserSpace::FreeVirtual(std::uint64_t& address, std::uint64_t& size, ULONG type, bool bySystem) {
  if (type != mem::kRelease && type != mem::kDecommit) return STATUS_INVALID_PARAMETER;
  std::lock_guard lock(mutex_);
  auto it = RegionAt(address);
  if (it == regions_.end()) return STATUS_MEMORY_NOT_ALLOCATED;
  Region& r = it->second;
  if (r.pinned && !bySystem) return STATUS_UNABLE_TO_FREE_VM;
  if (type == mem::kRelease) {
    if (r.type != mem::kPrivate) return STATUS_UNABLE_TO_FREE_VM;
    if (address != it->first) return STATUS_FREE_VM_NOT_AT_BASE;
    if (size != 0 && PageRound(size) != r.size) return STATUS_INVALID_PARAMETER;
    address = it->first;
    size = r.size;
    if (r.ownMapping) munmap(reinterpret_cast<void*>(it->first), r.size);
    regions_.erase(it);
    return STATUS_SUCCESS;
  }
  const std::uint64_t from = address & ~(kPage - 1);
  const std::uint64_t to = size ? PageRound(address + size) : it->first + r.size;
  if (to > it->first + r.size || to <= from) return STATUS_INVALID_PARAMETER;
  if (r.type != mem::kPrivate) return STATUS_UNABLE_TO_FREE_VM;
  // Decommitted pages lose their contents: a fresh inaccessible mapping over them.
  if (mmap(reinterpret_cast<void*>(from), to - from, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
           -1, 0) == MAP_FAILED) {
    return STATUS_NO_MEMORY;
  }
  for (std::uint64_t p = from; p < to; p += kPage) r.pages[(p - it->first) / kPage] = 0;
  address = from;
  size = to - from;
  return STATUS_SUCCESS;
}

NTSTATUS UserSpace::ProtectVirtual(std::uint64_t& address, std::uint64_t& size, ULONG protect, ULONG& old,
                                   bool bySystem) {
  if (HostProtection(protect) < 0) return STATUS_INVALID_PAGE_PROTECTION;
  std::lock_guard lock(mutex_);
  const std::uint64_t from = address & ~(kPage - 1), to = PageRound(address + size);
  auto it = RegionAt(from);
  if (it == regions_.end() || to <= from) return STATUS_MEMORY_NOT_ALLOCATED;
  if (to > it->first + it->second.size) return STATUS_CONFLICTING_ADDRESSES;
  Region& r = it->second;
  if (r.pinned && !bySystem) return STATUS_INVALID_PAGE_PROTECTION;
  for (std::uint64_t p = from; p < to; p += kPage) {
    if (r.pages[(p - it->first) / kPage] == 0) return STATUS_NOT_COMMITTED;
  }
  old = r.pages[(from - it->first) / kPage];
  if (const NTSTATUS s = SetPages(it->first, r, from, to - from, protect); s != STATUS_SUCCESS) return s;
  address = from;
  size = to - from;
  return STATUS_SUCCESS;
}

std::optional<MEMORY_BASIC_INFORMATION> UserSpace::QueryVirtual(std::uint64_t address) const {
  if (address < base_ || address >= end()) return std::nullopt;
  std::lock_guard lock(mutex_);
  MEMORY_BASIC_INFORMATION info{};
  const std::uint64_t pageStart = address & ~(kPage - 1);
  info.BaseAddress = pageStart;
  auto it = RegionAt(pageStart);
  if (it == regions_.end()) {
    auto next = regions_.upper_bound(pageStart);
    info.RegionSize = (next == regions_.end() ? end() : next->first) - pageStart;
    info.State = mem::kFree;
    info.Protect = page::kNoAccess;
    return info;
  }
  const Region& r = it->second;
  std::size_t i = (pageStart - it->first) / kPage;
  const ULONG protect = r.pages[i];
  std::size_t n = i;
  while (n < r.pages.size() && r.pages[n] == protect) ++n;
  info.AllocationBase = it->first;
  info.AllocationProtect = r.allocationProtect;
  info.RegionSize = (n - i) * kPage;
  info.State = protect ? mem::kCommit : mem::kReserve;
  info.Protect = protect;
  info.Type = r.type;
  return info;
}

void UserSpace::RecordMapping(std::uint64_t address, std::uint64_t size, ULONG type, ULONG protect) {
  std::lock_guard lock(mutex_);
  Region r;
  r.size = PageRound(size);
  r.allocationProtect = protect;
  r.type = type;
  r.ownMapping = false;
  r.pages.assign(r.size / kPage, protect);
  regions_[address] = std::move(r);
}

NTSTATUS UserSpace::AllocateView(std::uint64_t& address, std::uint64_t size, ULONG protect) {
  address = 0;
  std::uint64_t length = size;
  if (const NTSTATUS s = AllocateVirtual(address, length, mem::kReserve | mem::kCommit, protect); s != STATUS_SUCCESS) {
    return s;
  }
  std::lock_guard lock(mutex_);
  regions_[address].type = mem::kMapped;
  return STATUS_SUCCESS;
}

bool UserSpace::ReleaseView(std::uint64_t address) {
  std::lock_guard lock(mutex_);
  auto it = regions_.find(address);
  if (it == regions_.end() || it->second.type != mem::kMapped || !it->second.ownMapping) return false;
  munmap(reinterpret_cast<void*>(it->first), it->second.size);
  regions_.erase(it);
  return true;
}

void UserSpace::ForgetMapping(std::uint64_t address) {
  std::lock_guard lock(mutex_);
  regions_.erase(address);
}

void* UserSpace::AllocateAt(std::uint64_t address, std::uint64_t size, Protection protection) {
  std::uint64_t at = address, length = size;
  if (address % kPage != 0 ||
      AllocateVirtual(at, length, mem::kReserve | mem::kCommit, PageProtection(protection)) != STATUS_SUCCESS) {
    return nullptr;
  }
  if (at != address) {
    std::uint64_t zero = 0;
    FreeVirtual(at, zero, mem::kRelease);
    return nullptr;
  }
  return reinterpret_cast<void*>(at);
}

void* UserSpace::Allocate(std::uint64_t size, Protection protection) {
  std::uint64_t at = 0, length = size;
  if (AllocateVirtual(at, length, mem::kReserve | mem::kCommit, PageProtection(protection)) != STATUS_SUCCESS) {
    return nullptr;
  }
  // Blocks lie apart (granularity leaves gaps), so an overrun faults as on Windows.
  std::lock_guard lock(mutex_);
  next_ = at + length + kPage;
  return reinterpret_cast<void*>(at);
}

bool UserSpace::Free(void* address) {
  std::uint64_t at = reinterpret_cast<std::uint64_t>(address), size = 0;
  return FreeVirtual(at, size, mem::kRelease, true) == STATUS_SUCCESS;
}

void UserSpace::Pin(void* address) {
  std::lock_guard lock(mutex_);
  if (auto it = RegionAt(reinterpret_cast<std::uint64_t>(address)); it != regions_.end()) it->second.pinned = true;
}

bool UserSpace::Protect(void* address, std::uint64_t size, Protection protection) {
  std::uint64_t at = reinterpret_cast<std::uint64_t>(address), length = size;
  ULONG old = 0;
  return ProtectVirtual(at, length, PageProtection(protection), old, true) == STATUS_SUCCESS;
}

bool UserSpace::IsCommitted(std::uint64_t address, std::uint64_t size) const {
  if (address + size < address) return false;
  std::lock_guard lock(mutex_);
  auto it = RegionAt(address);
  if (it == regions_.end() || address + size > it->first + it->second.size) return false;
  for (std::uint64_t p = address & ~(kPage - 1); p < address + size; p += kPage) {
    if (it->second.pages[(p - it->first) / kPage] == 0) return false;
  }
  return true;
}

std::uint64_t UserSpace::committedBytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [start, r] : regions_) {
    for (ULONG p : r.pages) total += p ? kPage : 0;
  }
  return total;
}

}  // namespace ntbox::nt::mm
