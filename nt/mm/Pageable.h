// Pageable memory and Driver Verifier's IRQL checking (flag 0x2): whenever a thread raises to
// DISPATCH_LEVEL or above, or starts a DPC, every pageable range (verified drivers' PAGE sections,
// paged pool) is made inaccessible, as Windows trims pageable memory then. A touch below
// DISPATCH_LEVEL faults and brings it back (page it in); a touch at DISPATCH_LEVEL or above stays a
// fault, which the trap handler reports as Windows does: 0xD1 from a driver, 0xA from the kernel.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ntbox::nt::vf {
class SpecialPool;
}

namespace ntbox::nt::mm {

class PageableMemory {
 public:
  // A pageable range and its protection while resident. A special-pool region pages in one live
  // page at a time (its other pages stay guard and freed pages); other ranges page in whole.
  struct Range {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    int protection = 0;
    const vf::SpecialPool* special = nullptr;
  };

  explicit PageableMemory(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }

  // Ranges come and go with images; false when the table is full (the range stays resident).
  bool Add(const Range& range);
  void Remove(std::uint64_t begin);

  // Makes everything inaccessible, if anything was paged in since the last trim.
  void Trim();
  // Something became accessible without a page-in (special pool's new block): the next trim
  // must not be skipped.
  void MarkResident() { resident_.store(true, std::memory_order_release); }
  // The trap handler, for a fault below DISPATCH_LEVEL: brings the page at address back when it
  // is pageable memory; false otherwise (a real fault). Async-signal-safe.
  bool PageIn(std::uint64_t address);
  // Whether address lies in pageable memory, and whether that is paged pool (lock-free).
  enum class Kind { kNone, kCode, kPool };
  Kind KindAt(std::uint64_t address) const;
  // How often pageable memory was trimmed and paged in (figures for the benchmark).
  std::uint64_t trims() const { return trims_.load(std::memory_order_relaxed); }
  std::uint64_t pageIns() const { return pageIns_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kMaxRanges = 64;
  struct Slot {
    std::atomic<std::uint64_t> begin{0};
    std::atomic<std::uint64_t> end{0};
    int protection = 0;
    const vf::SpecialPool* special = nullptr;
    bool code = false;
  };
  // A spin lock, not a mutex: the trap handler takes it.
  void Lock();
  void Unlock() { busy_.clear(std::memory_order_release); }

  const bool enabled_;
  std::array<Slot, kMaxRanges> slots_;
  std::atomic_flag busy_;
  std::atomic<bool> resident_{true};
  std::atomic<std::uint64_t> trims_{0};
  std::atomic<std::uint64_t> pageIns_{0};
};

// The running kernel's Trim (nt/Kernel.cpp): what raising to DISPATCH_LEVEL and starting a DPC do.
void TrimPageableMemory();

}  // namespace ntbox::nt::mm
