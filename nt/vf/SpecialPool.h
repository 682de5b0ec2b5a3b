// Driver Verifier's special pool: each allocation gets pages of its own, ends where its last page
// ends, and is followed by an inaccessible guard page, so a read or write past its end faults at
// once. Freed pages become inaccessible and their addresses are not handed out again until the
// region wraps, so a use after free faults too. The bytes between the page start and the block,
// and the alignment slack after it, hold a pattern checked when the block is freed.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "nt/ex/PoolArena.h"

namespace ntbox::nt::vf {

class SpecialPool {
 public:
  static constexpr std::uint64_t kHint = 0x0000230000000000ull;
  static constexpr std::size_t kPages = std::size_t{1} << 21;  // 8 GiB of addresses
  static constexpr std::size_t kMaxLive = 16384;  // keeps the host's mapping count in bounds

  static constexpr std::uint64_t kPagedHint = 0x0000231000000000ull;  // paged pool's own region
  static constexpr std::uint64_t kExecutableHint = 0x0000232000000000ull;  // NonPagedPoolExecute's

  explicit SpecialPool(std::uint64_t hint = kHint, bool executable = false);

  // nullptr when full (the caller falls back to normal pool, as Windows does).
  void* Allocate(std::size_t bytes);
  // Where the pattern around the block at p (of bytes) was overwritten; 0 when intact.
  struct Damage {
    std::uint64_t address = 0;
    bool afterEnd = false;
  };
  Damage Check(const void* p, std::size_t bytes) const;
  void Free(void* p, std::size_t bytes);
  bool Contains(std::uint64_t address) const { return region_.Contains(address); }
  std::uint64_t base() const { return region_.base(); }
  std::size_t size() const { return region_.size(); }
  // Whether address lies in a live block's pages (lock-free).
  bool IsLive(std::uint64_t address) const;

  // What a faulting address is, for the trap handler (lock-free).
  enum class Fault { kNone, kFreed, kBeyondEnd };
  Fault Classify(std::uint64_t address) const;

 private:
  enum PageState : std::uint8_t { kUnused, kLive, kGuard, kFreed };
  Reservation region_;
  int dataProtection_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> pages_;
  std::size_t cursor_ = 0;
  std::size_t live_ = 0;
};

}  // namespace ntbox::nt::vf
