// The virtual memory services (NtAllocateVirtualMemory & co.) on a process's UserSpace: their
// arguments captured from the caller as Windows does (in-out pointers read and written without
// faulting; a bad one is STATUS_ACCESS_VIOLATION, never a stop).
#include "nt/mm/MmExports.h"
#include "nt/mm/Probe.h"
#include "nt/mm/UserSpace.h"
#include "nt/ps/Process.h"
#include "nt/Status.h"

namespace ntbox::nt {
namespace {

// The user space of the process a handle names.
mm::UserSpace* SpaceOf(HANDLE process, NTSTATUS& status, ACCESS_MASK access) {
  ps::Process* p = ps::ProcessOfHandle(process, access);
  if (!p) {
    status = STATUS_INVALID_HANDLE;
    return nullptr;
  }
  mm::UserSpace* space = p->space();
  if (!space) status = STATUS_INVALID_PARAMETER;  // the System process has no user space
  return space;
}

// Reads the in-out address and size pair.
bool ReadRange(PVOID* BaseAddress, SIZE_T* RegionSize, std::uint64_t& address, std::uint64_t& size) {
  const auto a = mm::ReadCaller(BaseAddress);
  const auto s = mm::ReadCaller(RegionSize);
  if (!a || !s) return false;
  address = reinterpret_cast<std::uint64_t>(*a);
  size = *s;
  return true;
}

NTSTATUS WriteRange(PVOID* BaseAddress, SIZE_T* RegionSize, std::uint64_t address, std::uint64_t size) {
  if (!mm::WriteCaller(BaseAddress, reinterpret_cast<PVOID>(address)) || !mm::WriteCaller(RegionSize, size)) {
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                       SIZE_T* RegionSize, ULONG AllocationType, ULONG Protect) {
  NTSTATUS status = STATUS_SUCCESS;
  mm::UserSpace* space = SpaceOf(ProcessHandle, status, ps::PROCESS_VM_OPERATION);
  if (!space) return status;
  std::uint64_t address, size;
  if (!ReadRange(BaseAddress, RegionSize, address, size)) return STATUS_ACCESS_VIOLATION;
  (void)ZeroBits;  // every user address of a machine process is below 2^45
  if (address && (address < space->base() || address >= space->end())) return STATUS_CONFLICTING_ADDRESSES;
  status = space->AllocateVirtual(address, size, AllocationType, Protect);
  if (status != STATUS_SUCCESS) return status;
  return WriteRange(BaseAddress, RegionSize, address, size);
}

NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, SIZE_T* RegionSize, ULONG FreeType) {
  NTSTATUS status = STATUS_SUCCESS;
  mm::UserSpace* space = SpaceOf(ProcessHandle, status, ps::PROCESS_VM_OPERATION);
  if (!space) return status;
  std::uint64_t address, size;
  if (!ReadRange(BaseAddress, RegionSize, address, size)) return STATUS_ACCESS_VIOLATION;
  status = space->FreeVirtual(address, size, FreeType);
  if (status != STATUS_SUCCESS) return status;
  return WriteRange(BaseAddress, RegionSize, address, size);
}

NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, SIZE_T* RegionSize,
                                      ULONG NewProtect, ULONG* OldProtect) {
  NTSTATUS status = STATUS_SUCCESS;
  mm::UserSpace* space = SpaceOf(ProcessHandle, status, ps::PROCESS_VM_OPERATION);
  if (!space) return status;
  std::uint64_t address, size;
  if (!ReadRange(BaseAddress, RegionSize, address, size)) return STATUS_ACCESS_VIOLATION;
  if (!mm::ReadCaller(OldProtect)) return STATUS_ACCESS_VIOLATION;
  ULONG old = 0;
  status = space->ProtectVirtual(address, size, NewProtect, old);
  if (status != STATUS_SUCCESS) return status;
  if (!mm::WriteCaller(OldProtect, old)) return STATUS_ACCESS_VIOLATION;
  return WriteRange(BaseAddress, RegionSize, address, size);
}

NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE ProcessHandle, PVOID BaseAddress, ULONG MemoryInformationClass,
                                    PVOID MemoryInformation, SIZE_T MemoryInformationLength, SIZE_T* ReturnLength) {
  constexpr ULONG kMemoryBasicInformation = 0;
  NTSTATUS status = STATUS_SUCCESS;
  mm::UserSpace* space = SpaceOf(ProcessHandle, status, ps::PROCESS_QUERY_INFORMATION);
  if (!space) return status;
  if (MemoryInformationClass != kMemoryBasicInformation) return STATUS_INVALID_INFO_CLASS;
  if (MemoryInformationLength < sizeof(mm::MEMORY_BASIC_INFORMATION)) return STATUS_INFO_LENGTH_MISMATCH;
  const auto info = space->QueryVirtual(reinterpret_cast<std::uint64_t>(BaseAddress));
  if (!info) return STATUS_INVALID_PARAMETER;
  if (!mm::WriteCaller(static_cast<mm::MEMORY_BASIC_INFORMATION*>(MemoryInformation), *info)) {
    return STATUS_ACCESS_VIOLATION;
  }
  if (ReturnLength && !mm::WriteCaller(ReturnLength, static_cast<SIZE_T>(sizeof *info))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
