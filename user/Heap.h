// A program's heap (malloc, HeapAlloc): blocks in its process's user range, so the buffers a
// program hands to a driver pass the I/O manager's probes as on Windows. Small blocks come from
// 64 MiB arenas (committed as they are touched) with per-size free lists; large ones get their
// own pages with a guard gap after them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "nt/mm/UserSpace.h"

namespace ntbox::user {

class Heap {
 public:
  explicit Heap(nt::mm::UserSpace& space) : space_(space) {}
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // 16-byte aligned; nullptr when the user range is full.
  void* Allocate(std::size_t size, bool zero = false);
  // False (and nothing done) for a pointer this heap did not hand out.
  bool Free(void* block);
  // realloc semantics; nullptr (block untouched) when it cannot grow.
  void* Reallocate(void* block, std::size_t size);
  // The usable size of a block, or SIZE_MAX for a foreign pointer.
  std::size_t SizeOf(const void* block) const;

 private:
  struct Header {
    std::uint64_t size;   // usable bytes
    std::uint64_t check;  // marks a live block of this heap
  };
  static constexpr std::size_t kLargeThreshold = 1 << 20;
  static int ClassOf(std::size_t size);
  static std::size_t ClassSize(int cls);
  const Header* HeaderOf(const void* block) const;

  nt::mm::UserSpace& space_;
  mutable std::mutex mutex_;
  std::uint64_t arenaNext_ = 0, arenaEnd_ = 0;
  std::vector<void*> freeLists_[64];
};

}  // namespace ntbox::user
