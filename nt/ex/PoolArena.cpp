#include "nt/ex/PoolArena.h"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>

namespace ntbox::nt {
namespace {
constexpr std::size_t kPage = 4096;
constexpr std::size_t kReleaseAbove = 64 * 1024;  // freed runs this big give their memory back
}  // namespace

Reservation::Reservation(std::uint64_t hint, std::size_t bytes, int prot) : size_(bytes) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  void* p = mmap(reinterpret_cast<void*>(hint), bytes, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
  // Taken (another region, an old kernel's leftovers): anywhere the host puts it is still above
  // the user range.
  if (p == MAP_FAILED) p = mmap(nullptr, bytes, prot, flags, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("cannot reserve pool address space");
  base_ = reinterpret_cast<std::uint64_t>(p);
}

Reservation::~Reservation() { munmap(reinterpret_cast<void*>(base_), size_); }

PoolArena::PoolArena(std::uint64_t hint, std::size_t reserve, bool executable)
    : region_(hint, reserve, PROT_READ | PROT_WRITE | (executable ? PROT_EXEC : 0)) {}

std::size_t PoolArena::BlockSize(std::size_t bytes) {
  if (bytes == 0) return kGranule;  // Windows hands out a real block even for zero bytes
  if (bytes <= kSmallLimit) return (bytes + kGranule - 1) & ~(kGranule - 1);
  return (bytes + kPage - 1) & ~(kPage - 1);
}

void* PoolArena::Allocate(std::size_t blockSize, bool* fresh) {
  if (fresh) *fresh = false;
  if (blockSize <= kSmallLimit) {
    auto& list = small_[blockSize / kGranule];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      return p;
    }
  } else if (auto it = large_.find(blockSize); it != large_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    return p;
  }
  std::size_t start = used_;
  if (blockSize > kSmallLimit) start = (start + kPage - 1) & ~(kPage - 1);
  if (blockSize > region_.size() || start > region_.size() - blockSize) return nullptr;
  used_ = start + blockSize;
  if (fresh) *fresh = true;
  return reinterpret_cast<void*>(region_.base() + start);
}

void PoolArena::Free(void* block, std::size_t blockSize) {
  if (blockSize <= kSmallLimit) {
    small_[blockSize / kGranule].push_back(block);
    return;
  }
  if (blockSize >= kReleaseAbove) madvise(block, blockSize, MADV_DONTNEED);
  large_[blockSize].push_back(block);
}

namespace {

struct SystemArena {
  static constexpr std::uint64_t kHint = 0x0000240000000000ull;
  std::mutex mutex;
  PoolArena arena{kHint, std::size_t{16} << 30};
};

SystemArena& TheSystemArena() {
  static auto* arena = new SystemArena;  // never destroyed: objects may outlive any kernel
  return *arena;
}

}  // namespace

void* AllocateSystemBlock(std::size_t bytes) {
  SystemArena& s = TheSystemArena();
  const std::size_t size = PoolArena::BlockSize(bytes);
  void* p;
  bool fresh = false;
  {
    std::lock_guard lock(s.mutex);
    p = s.arena.Allocate(size, &fresh);
  }
  // Untouched memory is zero already: no need to commit pages by writing them.
  if (p && !fresh) std::memset(p, 0, size);
  return p;
}

void FreeSystemBlock(void* block, std::size_t bytes) {
  SystemArena& s = TheSystemArena();
  std::lock_guard lock(s.mutex);
  s.arena.Free(block, PoolArena::BlockSize(bytes));
}

}  // namespace ntbox::nt
