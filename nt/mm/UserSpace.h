// A machine process's user-mode address space: a slice of the range below MmUserProbeAddress
// that belongs to that process alone (all processes share the host's address space), managed as
// Windows' memory manager does: regions are reserved at 64 KiB granularity, their pages committed,
// decommitted and protected one by one (PAGE_* values), and every region knows its allocation
// base, its first protection and its type (private, image, mapped) for NtQueryVirtualMemory.
// Committed pages are zeroed; all of it goes when the space does.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nt/Types.h"
#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::nt::mm {

// Page protections and region states and types, as winnt.h numbers them.
namespace page {
constexpr ULONG kNoAccess = 0x01, kReadOnly = 0x02, kReadWrite = 0x04, kWriteCopy = 0x08;
constexpr ULONG kExecute = 0x10, kExecuteRead = 0x20, kExecuteReadWrite = 0x40, kExecuteWriteCopy = 0x80;
constexpr ULONG kGuard = 0x100, kNoCache = 0x200, kWriteCombine = 0x400;
}  // namespace page
namespace mem {
constexpr ULONG kCommit = 0x1000, kReserve = 0x2000, kDecommit = 0x4000, kRelease = 0x8000, kFree = 0x10000;
constexpr ULONG kPrivate = 0x20000, kMapped = 0x40000, kReset = 0x80000, kTopDown = 0x100000;
constexpr ULONG kImage = 0x1000000;
}  // namespace mem

// MEMORY_BASIC_INFORMATION (x64).
struct MEMORY_BASIC_INFORMATION {
  std::uint64_t BaseAddress;
  std::uint64_t AllocationBase;
  ULONG AllocationProtect;
  USHORT PartitionId;
  USHORT Reserved;
  std::uint64_t RegionSize;
  ULONG State;
  ULONG Protect;
  ULONG Type;
  ULONG Reserved2;
};
static_assert(sizeof(MEMORY_BASIC_INFORMATION) == 48);

class UserSpace {
 public:
  static constexpr std::uint64_t kSliceSize = 0x40'0000'0000ull;  // 256 GiB
  static constexpr std::uint64_t kGranularity = 0x10000;          // Windows' allocation granularity
  static Result<std::unique_ptr<UserSpace>> Create();
  // Slots in use in this host process (every machine's processes): for tests that boot many.
  static std::size_t SlotsTaken();
  ~UserSpace();
  UserSpace(const UserSpace&) = delete;
  UserSpace& operator=(const UserSpace&) = delete;

  std::uint64_t base() const { return base_; }
  std::uint64_t end() const { return base_ + kSliceSize; }
  // Where images go: the first GiB of the slice.
  std::uint64_t imageRegionEnd() const { return base_ + 0x4000'0000ull; }

  // The simple interface ntbox's own user-mode pieces use: committed, zeroed pages anywhere
  // above the image region (nullptr when the slice is full), released by their start.
  enum Protection { kReadWrite, kReadOnly, kNoAccess };
  void* Allocate(std::uint64_t size, Protection protection = kReadWrite);
  void* AllocateAt(std::uint64_t address, std::uint64_t size, Protection protection = kReadWrite);
  bool Free(void* address);
  bool Protect(void* address, std::uint64_t size, Protection protection);
  // Makes the block at address the kernel's (a thread's TEB, its KPCR while it is in the kernel):
  // the program's NtFreeVirtualMemory and NtProtectVirtualMemory refuse it; Free and Protect do not.
  void Pin(void* address);
  // Every page of [address, address+size) committed.
  bool IsCommitted(std::uint64_t address, std::uint64_t size) const;
  std::uint64_t committedBytes() const;

  // NtAllocateVirtualMemory: reserves (at 64 KiB granularity; address 0: anywhere, topDown from
  // the top) and/or commits [address, address+size); in and out are the rounded range.
  NTSTATUS AllocateVirtual(std::uint64_t& address, std::uint64_t& size, ULONG type, ULONG protect);
  // NtFreeVirtualMemory: MEM_RELEASE a whole region (size 0, address its base) or MEM_DECOMMIT pages.
  NTSTATUS FreeVirtual(std::uint64_t& address, std::uint64_t& size, ULONG type, bool bySystem = false);
  // NtProtectVirtualMemory: committed pages only; old is the first page's protection.
  NTSTATUS ProtectVirtual(std::uint64_t& address, std::uint64_t& size, ULONG protect, ULONG& old,
                          bool bySystem = false);
  // NtQueryVirtualMemory's MemoryBasicInformation: the run of pages like address's.
  std::optional<MEMORY_BASIC_INFORMATION> QueryVirtual(std::uint64_t address) const;
  // An image or view the space did not map itself (the PE loader's): a MEM_IMAGE / MEM_MAPPED
  // region of committed pages with the given protection, released with the space's others.
  void RecordMapping(std::uint64_t address, std::uint64_t size, ULONG type, ULONG protect);
  void ForgetMapping(std::uint64_t address);
  // A data view (NtMapViewOfSection of a file's data): committed pages the space owns, of type
  // MEM_MAPPED, released by ReleaseView rather than NtFreeVirtualMemory.
  NTSTATUS AllocateView(std::uint64_t& address, std::uint64_t size, ULONG protect);
  bool ReleaseView(std::uint64_t address);

 private:
  struct Region {
    std::uint64_t size = 0;
    ULONG allocationProtect = 0;
    ULONG type = mem::kPrivate;
    bool ownMapping = true;        // the space mmapped it (and unmaps it)
    bool pinned = false;           // the kernel's (Pin): the program may not free or re-protect it
    std::vector<ULONG> pages;      // per page: 0 reserved, else its PAGE_* protection
  };
  UserSpace(std::uint64_t base, int slot) : base_(base), slot_(slot), next_(base + 0x4000'0000ull) {}
  // The region containing address, or end.
  std::map<std::uint64_t, Region>::iterator RegionAt(std::uint64_t address);
  std::map<std::uint64_t, Region>::const_iterator RegionAt(std::uint64_t address) const;
  std::uint64_t FindFree(std::uint64_t size, bool topDown);
  NTSTATUS SetPages(std::uint64_t start, Region& r, std::uint64_t address, std::uint64_t size, ULONG protect);

  std::uint64_t base_;
  int slot_;
  mutable std::mutex mutex_;
  std::uint64_t next_;
  std::map<std::uint64_t, Region> regions_;  // by base
};

// The host protection (PROT_*) of a PAGE_* value; -1 for an invalid one.
int HostProtection(ULONG protect);

// SECTION_IMAGE_INFORMATION (x64, 0x40 bytes) of an image mapped at base (mm/Section.cpp):
// NtQuerySection's and NtQueryInformationProcess's ProcessImageInformation.
std::array<std::uint8_t, 0x40> ImageInformation(const pe::PeImage& image, std::uint64_t base);

// A host file's bytes as a read-only data view in the current process (mm/Section.cpp): what the
// kernel maps for programs on its own (NLS tables).
NTSTATUS MapHostFileView(const std::string& path, std::uint64_t& base, std::uint64_t& size);

}  // namespace ntbox::nt::mm
