// A machine process's user-mode address space: a slice of the range below MmUserProbeAddress
// that belongs to that process alone (all processes share the host's address space). Memory is
// committed in pages, zeroed, and all of it goes when the space does.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "support/Result.h"

namespace ntbox::nt::mm {

class UserSpace {
 public:
  static constexpr std::uint64_t kSliceSize = 0x40'0000'0000ull;  // 256 GiB
  static Result<std::unique_ptr<UserSpace>> Create();
  ~UserSpace();
  UserSpace(const UserSpace&) = delete;
  UserSpace& operator=(const UserSpace&) = delete;

  std::uint64_t base() const { return base_; }
  std::uint64_t end() const { return base_ + kSliceSize; }
  // Where images go: the first GiB of the slice.
  std::uint64_t imageRegionEnd() const { return base_ + 0x4000'0000ull; }

  enum Protection { kReadWrite, kReadOnly, kNoAccess };
  // Fresh zeroed pages anywhere above the image region; nullptr when the slice is full.
  void* Allocate(std::uint64_t size, Protection protection = kReadWrite);
  // At address (page-aligned, inside the slice); nullptr when any of it is taken.
  void* AllocateAt(std::uint64_t address, std::uint64_t size, Protection protection = kReadWrite);
  // Releases an allocation by its start address; false when there is none there.
  bool Free(void* address);
  bool Protect(void* address, std::uint64_t size, Protection protection);
  // The committed allocation containing [address, address+size), or false.
  bool IsCommitted(std::uint64_t address, std::uint64_t size) const;
  std::uint64_t committedBytes() const;

 private:
  UserSpace(std::uint64_t base, int slot) : base_(base), slot_(slot), next_(base + 0x4000'0000ull) {}
  std::uint64_t base_;
  int slot_;
  mutable std::mutex mutex_;
  std::uint64_t next_;
  std::map<std::uint64_t, std::uint64_t> allocations_;  // start → size
};

}  // namespace ntbox::nt::mm
