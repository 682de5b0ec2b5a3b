// MDLs and probes. Every process shares the host address space, so a locked user buffer is
// already mapped at a kernel-reachable address: the "system address" of an MDL is its user
// address. What matters to drivers is kept: the probe rules, the flags and the PFN array.
#include <cstdlib>
#include <cstring>

#include "cpu/SafeCopy.h"
#include "nt/Status.h"
#include "nt/ex/PoolArena.h"
#include "nt/io/IoExports.h"
#include "nt/mm/AddressSpace.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ps/Process.h"
#include "nt/rtl/Raise.h"

namespace ntbox::nt {
namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr int IoReadAccess = 0;

std::uint64_t PagesSpanned(std::uint64_t va, std::uint64_t length) {
  if (length == 0) return 0;
  return ((va & (kPage - 1)) + length + kPage - 1) / kPage;
}

}  // namespace


SIZE_T NTAPI MmSizeOfMdl(PVOID Base, SIZE_T Length) {
  return sizeof(MDL) + PagesSpanned(reinterpret_cast<std::uint64_t>(Base), Length) * sizeof(std::uint64_t);
}

namespace {
constexpr std::size_t kMdlPrefix = 16;  // keeps the MDL 16-byte aligned
}  // namespace

MDL* NTAPI IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN, IRP* Irp) {
  const auto va = reinterpret_cast<std::uint64_t>(VirtualAddress);
  if (Length >= 0x80000000u) return nullptr;  // Windows' limit: under 2 GiB (4 GiB - page on newer)
  const SIZE_T size = MmSizeOfMdl(VirtualAddress, Length);
  // The block's size goes in front: drivers may rewrite the MDL's own fields.
  auto* block = static_cast<std::uint8_t*>(AllocateSystemBlock(kMdlPrefix + size));
  if (!block) return nullptr;
  *reinterpret_cast<std::uint64_t*>(block) = kMdlPrefix + size;
  auto* mdl = reinterpret_cast<MDL*>(block + kMdlPrefix);
  mdl->Size = static_cast<CSHORT>(size);
  mdl->StartVa = reinterpret_cast<PVOID>(va & ~(kPage - 1));
  mdl->ByteOffset = static_cast<ULONG>(va & (kPage - 1));
  mdl->ByteCount = Length;
  if (Irp) {
    if (SecondaryBuffer && Irp->MdlAddress) {
      MDL* last = Irp->MdlAddress;
      while (last->Next) last = last->Next;
      last->Next = mdl;
    } else if (!SecondaryBuffer) {
      Irp->MdlAddress = mdl;
    }
  }
  return mdl;
}

void NTAPI IoFreeMdl(MDL* Mdl) {
  if (!Mdl) return;
  auto* block = reinterpret_cast<std::uint8_t*>(Mdl) - kMdlPrefix;
  FreeSystemBlock(block, *reinterpret_cast<std::uint64_t*>(block));
}

void NTAPI MmProbeAndLockPages(MDL* Mdl, KPROCESSOR_MODE AccessMode, int Operation) {
  const auto va = reinterpret_cast<std::uint64_t>(Mdl->StartVa) + Mdl->ByteOffset;
  const bool write = Operation != IoReadAccess;
  if (AccessMode == UserMode && !mm::IsUserRange(va, Mdl->ByteCount)) RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
  if (!mm::LockPages(Mdl, write)) RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
}

void NTAPI MmUnlockPages(MDL* Mdl) {
  Mdl->MdlFlags &= static_cast<CSHORT>(~(MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA));
  Mdl->MappedSystemVa = nullptr;
}

PVOID NTAPI MmMapLockedPagesSpecifyCache(MDL* Mdl, KPROCESSOR_MODE AccessMode, int, PVOID, ULONG, ULONG) {
  PVOID va = static_cast<std::uint8_t*>(Mdl->StartVa) + Mdl->ByteOffset;
  if (AccessMode == KernelMode) {
    Mdl->MappedSystemVa = va;
    Mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
  }
  return va;
}

PVOID NTAPI MmMapLockedPages(MDL* Mdl, KPROCESSOR_MODE AccessMode) {
  return MmMapLockedPagesSpecifyCache(Mdl, AccessMode, 1, nullptr, 1, 16);
}

void NTAPI MmUnmapLockedPages(PVOID, MDL* Mdl) {
  Mdl->MdlFlags &= static_cast<CSHORT>(~MDL_MAPPED_TO_SYSTEM_VA);
}

void NTAPI MmBuildMdlForNonPagedPool(MDL* Mdl) {
  mm::FillPfns(Mdl);
  Mdl->MappedSystemVa = static_cast<std::uint8_t*>(Mdl->StartVa) + Mdl->ByteOffset;
  Mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}

BOOLEAN NTAPI MmIsAddressValid(PVOID VirtualAddress) {
  std::uint8_t byte;
  return cpu::SafeCopy(&byte, VirtualAddress, 1) ? TRUE : FALSE;
}

void NTAPI ProbeForRead(const volatile void* Address, SIZE_T Length, ULONG Alignment) {
  if (Length == 0) return;
  const auto va = reinterpret_cast<std::uint64_t>(Address);
  if (Alignment && (va & (Alignment - 1))) RtlRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
  if (!mm::IsUserRange(va, Length)) RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
}

void NTAPI ProbeForWrite(volatile void* Address, SIZE_T Length, ULONG Alignment) {
  if (Length == 0) return;
  const auto va = reinterpret_cast<std::uint64_t>(Address);
  if (Alignment && (va & (Alignment - 1))) RtlRaiseStatus(STATUS_DATATYPE_MISALIGNMENT);
  if (!mm::IsUserRange(va, Length)) RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
  if (!mm::TouchPages(va, Length, true)) RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
}

}  // namespace ntbox::nt

namespace ntbox::nt::mm {

namespace {

std::uint64_t* PfnArray(MDL* mdl) { return reinterpret_cast<std::uint64_t*>(mdl + 1); }

}  // namespace

void FillPfns(MDL* mdl) {
  const auto start = reinterpret_cast<std::uint64_t>(mdl->StartVa);
  const std::uint64_t pages = PagesSpanned(start + mdl->ByteOffset, mdl->ByteCount);
  for (std::uint64_t i = 0; i < pages; ++i) PfnArray(mdl)[i] = (start >> 12) + i;
}

bool IsUserRange(std::uint64_t va, std::uint64_t length) {
  return va + length >= va && va + length <= mm::kUserProbeAddress;
}

namespace {

bool CallerRange(const void* address, std::size_t size) {
  const ke::KernelThread* t = ke::CurrentThread();
  if (t && t->previousMode == UserMode) return IsUserRange(reinterpret_cast<std::uint64_t>(address), size);
  return true;
}

}  // namespace

bool ReadCaller(void* to, const void* from, std::size_t size) {
  return size == 0 || (CallerRange(from, size) && cpu::SafeCopy(to, from, size));
}

bool WriteCaller(void* to, const void* from, std::size_t size) {
  return size == 0 || (CallerRange(to, size) && cpu::SafeCopy(to, from, size));
}

// Touches every page of [va, va+length): reading, and for writes writing the byte back.
bool TouchPages(std::uint64_t va, std::uint64_t length, bool write) {
  if (length == 0) return true;
  // A byte of each page the range spans (its first in the range): protection is per page.
  for (std::uint64_t p = va; p < va + length; p = (p & ~(kPage - 1)) + kPage) {
    if (!cpu::SafeTouch(reinterpret_cast<const void*>(p), write)) return false;
  }
  return true;
}

bool LockPages(MDL* mdl, bool write) {
  const auto va = reinterpret_cast<std::uint64_t>(mdl->StartVa) + mdl->ByteOffset;
  if (!TouchPages(va, mdl->ByteCount, write)) return false;
  FillPfns(mdl);
  mdl->MdlFlags |= MDL_PAGES_LOCKED | (write ? MDL_WRITE_OPERATION : 0);
  mdl->Process = ps::CurrentProcess().object();
  return true;
}

}  // namespace ntbox::nt::mm
