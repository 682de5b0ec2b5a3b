#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

PVOID NTAPI MmGetSystemRoutineAddress(UNICODE_STRING* SystemRoutineName);

// Virtual memory services (mm/VirtualMemory.cpp).
NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                       SIZE_T* RegionSize, ULONG AllocationType, ULONG Protect);
NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, SIZE_T* RegionSize, ULONG FreeType);
NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE ProcessHandle, PVOID* BaseAddress, SIZE_T* RegionSize,
                                      ULONG NewProtect, ULONG* OldProtect);
NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE ProcessHandle, PVOID BaseAddress, ULONG MemoryInformationClass,
                                    PVOID MemoryInformation, SIZE_T MemoryInformationLength, SIZE_T* ReturnLength);

}  // namespace ntbox::nt
