#include "nt/vf/SpecialPool.h"

#include <sys/mman.h>

#include <cstring>

namespace ntbox::nt::vf {
namespace {
constexpr std::size_t kPage = 4096;
constexpr std::size_t kAlign = 16;
constexpr std::uint8_t kPattern = 0xA5;  // no driver writes it by chance often

std::size_t Rounded(std::size_t bytes) { return bytes ? (bytes + kAlign - 1) & ~(kAlign - 1) : kAlign; }
std::size_t PagesFor(std::size_t bytes) { return (Rounded(bytes) + kPage - 1) / kPage; }
}  // namespace

SpecialPool::SpecialPool(std::uint64_t hint, bool executable)
    : region_(hint, kPages * kPage, PROT_NONE),
      dataProtection_(PROT_READ | PROT_WRITE | (executable ? PROT_EXEC : 0)),
      pages_(new std::atomic<std::uint8_t>[kPages]) {
  for (std::size_t i = 0; i < kPages; ++i) pages_[i].store(kUnused, std::memory_order_relaxed);
}

void* SpecialPool::Allocate(std::size_t bytes) {
  const std::size_t n = PagesFor(bytes);
  if (live_ >= kMaxLive || n + 1 > kPages / 64) return nullptr;
  // From the cursor on, the first run of n data pages and a guard page that nothing live uses.
  std::size_t start = cursor_, run = 0, scanned = 0;
  while (run < n + 1) {
    if (scanned++ > kPages + n) return nullptr;
    std::size_t i = start + run;
    if (i >= kPages) {
      start = 0;
      run = 0;
      continue;
    }
    const auto s = pages_[i].load(std::memory_order_relaxed);
    if (s == kLive || s == kGuard) {
      start = i + 1;
      run = 0;
    } else {
      ++run;
    }
  }
  const std::uint64_t first = region_.base() + start * kPage;
  if (mprotect(reinterpret_cast<void*>(first), n * kPage, dataProtection_) != 0) return nullptr;
  for (std::size_t i = 0; i < n; ++i) pages_[start + i].store(kLive, std::memory_order_release);
  pages_[start + n].store(kGuard, std::memory_order_release);
  cursor_ = start + n + 1;
  ++live_;
  // The block ends at the guard page; everything else on its pages is the pattern.
  auto* page = reinterpret_cast<std::uint8_t*>(first);
  const std::size_t offset = n * kPage - Rounded(bytes);
  std::memset(page, kPattern, offset);
  std::memset(page + offset + bytes, kPattern, Rounded(bytes) - bytes);
  return page + offset;
}

SpecialPool::Damage SpecialPool::Check(const void* p, std::size_t bytes) const {
  const auto* block = static_cast<const std::uint8_t*>(p);
  const auto* page = reinterpret_cast<const std::uint8_t*>(reinterpret_cast<std::uint64_t>(p) & ~(kPage - 1));
  for (const auto* q = page; q < block; ++q) {
    if (*q != kPattern) return {reinterpret_cast<std::uint64_t>(q), false};
  }
  for (const auto* q = block + bytes; q < block + Rounded(bytes); ++q) {
    if (*q != kPattern) return {reinterpret_cast<std::uint64_t>(q), true};
  }
  return {};
}

void SpecialPool::Free(void* p, std::size_t bytes) {
  const std::uint64_t first = reinterpret_cast<std::uint64_t>(p) & ~(kPage - 1);
  const std::size_t n = PagesFor(bytes);
  const std::size_t index = (first - region_.base()) / kPage;
  for (std::size_t i = 0; i <= n; ++i) pages_[index + i].store(kFreed, std::memory_order_release);
  mprotect(reinterpret_cast<void*>(first), n * kPage, PROT_NONE);
  madvise(reinterpret_cast<void*>(first), n * kPage, MADV_DONTNEED);
  --live_;
}

bool SpecialPool::IsLive(std::uint64_t address) const {
  return Contains(address) &&
         pages_[(address - region_.base()) / kPage].load(std::memory_order_acquire) == kLive;
}

SpecialPool::Fault SpecialPool::Classify(std::uint64_t address) const {
  if (!Contains(address)) return Fault::kNone;
  switch (pages_[(address - region_.base()) / kPage].load(std::memory_order_acquire)) {
    case kFreed:
      return Fault::kFreed;
    case kGuard:
      return Fault::kBeyondEnd;
    default:
      return Fault::kNone;
  }
}

}  // namespace ntbox::nt::vf
