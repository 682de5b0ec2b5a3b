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

// Sections (mm/Section.cpp).
NTSTATUS NTAPI NtCreateSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                               LARGE_INTEGER* MaximumSize, ULONG SectionPageProtection, ULONG AllocationAttributes,
                               HANDLE FileHandle);
NTSTATUS NTAPI NtQuerySection(HANDLE SectionHandle, ULONG SectionInformationClass, PVOID SectionInformation,
                              SIZE_T Length, SIZE_T* ResultLength);
NTSTATUS NTAPI NtMapViewOfSection(HANDLE SectionHandle, HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                  SIZE_T CommitSize, LARGE_INTEGER* SectionOffset, SIZE_T* ViewSize,
                                  ULONG InheritDisposition, ULONG AllocationType, ULONG Win32Protect);
NTSTATUS NTAPI NtUnmapViewOfSection(HANDLE ProcessHandle, PVOID BaseAddress);
// Named sections, shared memory (no file: the paging file's on Windows) with programs and drivers.
NTSTATUS NTAPI NtOpenSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI ZwCreateSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                               LARGE_INTEGER* MaximumSize, ULONG SectionPageProtection, ULONG AllocationAttributes,
                               HANDLE FileHandle);
NTSTATUS NTAPI ZwOpenSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI ZwMapViewOfSection(HANDLE SectionHandle, HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                  SIZE_T CommitSize, LARGE_INTEGER* SectionOffset, SIZE_T* ViewSize,
                                  ULONG InheritDisposition, ULONG AllocationType, ULONG Win32Protect);
NTSTATUS NTAPI ZwUnmapViewOfSection(HANDLE ProcessHandle, PVOID BaseAddress);
// A memory section's view in system space, for any thread of any process (a driver's shared buffer).
NTSTATUS NTAPI MmMapViewInSystemSpace(PVOID Section, PVOID* MappedBase, SIZE_T* ViewSize);
NTSTATUS NTAPI MmUnmapViewInSystemSpace(PVOID MappedBase);

}  // namespace ntbox::nt
