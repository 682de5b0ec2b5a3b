#include "nt/mm/Pageable.h"

#include <sys/mman.h>

#include "nt/vf/SpecialPool.h"

namespace ntbox::nt::mm {
namespace {
constexpr std::uint64_t kPage = 4096;

void* At(std::uint64_t address) { return reinterpret_cast<void*>(address); }
}  // namespace

void PageableMemory::Lock() {
  while (busy_.test_and_set(std::memory_order_acquire)) {
  }
}

bool PageableMemory::Add(const Range& range) {
  if (!enabled_ || range.end <= range.begin) return false;
  Lock();
  for (auto& slot : slots_) {
    if (slot.end.load() != 0) continue;
    slot.protection = range.protection;
    slot.special = range.special;
    slot.code = (range.protection & PROT_EXEC) != 0;
    slot.begin.store(range.begin);
    slot.end.store(range.end);
    resident_.store(true);  // a new range is resident until the next trim
    Unlock();
    return true;
  }
  Unlock();
  return false;
}

PageableMemory::Kind PageableMemory::KindAt(std::uint64_t address) const {
  for (const auto& slot : slots_) {
    const std::uint64_t end = slot.end.load();
    if (end && address >= slot.begin.load() && address < end) return slot.code ? Kind::kCode : Kind::kPool;
  }
  return Kind::kNone;
}

void PageableMemory::Remove(std::uint64_t begin) {
  Lock();
  for (auto& slot : slots_) {
    if (slot.end.load() == 0 || slot.begin.load() != begin) continue;
    // Resident again before its owner frees or reuses the memory.
    mprotect(At(slot.begin.load()), slot.end.load() - slot.begin.load(), slot.protection);
    slot.end.store(0);
    slot.begin.store(0);
  }
  Unlock();
}

void PageableMemory::Trim() {
  if (!enabled_ || !resident_.load(std::memory_order_acquire)) return;
  Lock();
  if (resident_.exchange(false)) {
    for (auto& slot : slots_) {
      const std::uint64_t end = slot.end.load();
      if (end) mprotect(At(slot.begin.load()), end - slot.begin.load(), PROT_NONE);
    }
    trims_.fetch_add(1, std::memory_order_relaxed);
  }
  Unlock();
}

bool PageableMemory::PageIn(std::uint64_t address) {
  if (!enabled_) return false;
  bool pagedIn = false;
  Lock();
  for (auto& slot : slots_) {
    const std::uint64_t begin = slot.begin.load();
    const std::uint64_t end = slot.end.load();
    if (!end || address < begin || address >= end) continue;
    if (slot.special) {
      // Only a live block's page; guard and freed pages are special pool's own faults.
      if (slot.special->IsLive(address)) {
        pagedIn = mprotect(At(address & ~(kPage - 1)), kPage, slot.protection) == 0;
      }
    } else {
      pagedIn = mprotect(At(begin), end - begin, slot.protection) == 0;
    }
    break;
  }
  if (pagedIn) {
    resident_.store(true);
    pageIns_.fetch_add(1, std::memory_order_relaxed);
  }
  Unlock();
  return pagedIn;
}

}  // namespace ntbox::nt::mm
