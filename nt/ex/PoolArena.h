// Where pool memory lives: one reserved region of the address space, apart from the host's heap,
// so a driver that overruns or reuses a block corrupts other pool, never ntbox's own allocator.
// Blocks are 16-byte aligned (MEMORY_ALLOCATION_ALIGNMENT); small sizes come from per-size free
// lists, larger ones are whole pages. Not thread-safe: the pool tracker serializes.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace ntbox::nt {

// A reserved, lazily committed mapping, placed at hint when that is free. Unmapped on destruction.
class Reservation {
 public:
  // prot: PROT_NONE (committed page by page later) or the arena's data protection.
  Reservation(std::uint64_t hint, std::size_t bytes, int prot);
  ~Reservation();
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  std::uint64_t base() const { return base_; }
  std::size_t size() const { return size_; }
  bool Contains(std::uint64_t address) const { return address - base_ < size_; }

 private:
  std::uint64_t base_ = 0;
  std::size_t size_ = 0;
};

class PoolArena {
 public:
  static constexpr std::uint64_t kHint = 0x0000220000000000ull;
  static constexpr std::uint64_t kPagedHint = 0x0000224000000000ull;  // paged pool's own region
  // NonPagedPool(Execute): executable, as on Windows; NonPagedPoolNx and paged pool are not.
  static constexpr std::uint64_t kExecutableHint = 0x0000228000000000ull;
  static constexpr std::size_t kReserve = std::size_t{64} << 30;

  explicit PoolArena(std::uint64_t hint = kHint, std::size_t reserve = kReserve, bool executable = false);

  // The size the block really gets (what Allocate and Free are given).
  static std::size_t BlockSize(std::size_t bytes);
  // nullptr when the region is exhausted. Fresh memory is zero (then *fresh is set); reused
  // memory is not.
  void* Allocate(std::size_t blockSize, bool* fresh = nullptr);
  void Free(void* block, std::size_t blockSize);
  bool Contains(std::uint64_t address) const { return region_.Contains(address); }
  std::uint64_t base() const { return region_.base(); }
  std::size_t size() const { return region_.size(); }

 private:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kSmallLimit = 4096;
  Reservation region_;
  std::size_t used_ = 0;
  std::array<std::vector<void*>, kSmallLimit / kGranule + 1> small_;
  std::map<std::size_t, std::vector<void*>> large_;  // by size in bytes
};

// The kernel's own blocks that drivers write into (objects with their device extensions, IRPs with
// their system buffers, MDLs): one process-wide arena, thread-safe, that outlives every kernel, so
// an overrun damages kernel memory, never the host heap. Blocks are zero-filled.
void* AllocateSystemBlock(std::size_t bytes);
void FreeSystemBlock(void* block, std::size_t bytes);

}  // namespace ntbox::nt
