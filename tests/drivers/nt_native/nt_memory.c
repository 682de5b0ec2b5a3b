/* Virtual memory through Wine's ntdll thunks: reserve, commit, protect, query, decommit and
   release as Windows does them, and bad pointers refused with STATUS_ACCESS_VIOLATION. The exit
   code is the number of the first check that failed, 42 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>

NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE, PVOID *, ULONG_PTR, SIZE_T *, ULONG, ULONG);
NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE, PVOID *, SIZE_T *, ULONG);
NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE, PVOID *, SIZE_T *, ULONG, ULONG *);
NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE, PVOID, ULONG, PVOID, SIZE_T, SIZE_T *);
NTSTATUS NTAPI NtClose(HANDLE);
NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);

#define SELF ((HANDLE)(LONG_PTR)-1)
#define KERNEL_ADDRESS ((void *)(ULONG_PTR)0xfffff80000001000ull)

static MEMORY_BASIC_INFORMATION Query(void *at)
{
    MEMORY_BASIC_INFORMATION info = {0};
    SIZE_T got = 0;
    if (NtQueryVirtualMemory(SELF, at, 0, &info, sizeof info, &got) != STATUS_SUCCESS || got != sizeof info)
        info.State = 0;
    return info;
}

static int Run(void)
{
    PVOID base = 0, at;
    SIZE_T size = 0x12345, length;
    ULONG old = 0;
    MEMORY_BASIC_INFORMATION info;

    if (NtAllocateVirtualMemory(SELF, &base, 0, &size, MEM_RESERVE, PAGE_READWRITE) != STATUS_SUCCESS) return 1;
    if (((ULONG_PTR)base & 0xFFFF) || size != 0x13000) return 2;
    info = Query((char *)base + 0x5000);
    if (info.State != MEM_RESERVE || info.AllocationBase != base || info.Type != MEM_PRIVATE ||
        info.BaseAddress != (char *)base + 0x5000 || info.RegionSize != 0xE000 ||
        info.AllocationProtect != PAGE_READWRITE) return 3;

    at = (char *)base + 0x1000;
    length = 0x1800;
    if (NtAllocateVirtualMemory(SELF, &at, 0, &length, MEM_COMMIT, PAGE_READWRITE) != STATUS_SUCCESS) return 4;
    if (at != (char *)base + 0x1000 || length != 0x2000) return 5;
    ((volatile char *)at)[0x1fff] = 7;
    info = Query(at);
    if (info.State != MEM_COMMIT || info.Protect != PAGE_READWRITE || info.RegionSize != 0x2000) return 6;
    info = Query(base);
    if (info.State != MEM_RESERVE || info.RegionSize != 0x1000) return 7;

    length = 0x1000;
    if (NtProtectVirtualMemory(SELF, &at, &length, PAGE_READONLY, &old) != STATUS_SUCCESS || old != PAGE_READWRITE)
        return 8;
    info = Query(at);
    if (info.Protect != PAGE_READONLY || info.RegionSize != 0x1000) return 9;
    at = base;
    length = 0x1000;
    if (NtProtectVirtualMemory(SELF, &at, &length, PAGE_READONLY, &old) != STATUS_NOT_COMMITTED) return 10;
    if (NtAllocateVirtualMemory(SELF, &at, 0, &length, MEM_COMMIT, 3) != STATUS_INVALID_PAGE_PROTECTION) return 11;

    at = (char *)base + 0x1000;
    length = 0x2000;
    if (NtFreeVirtualMemory(SELF, &at, &length, MEM_DECOMMIT) != STATUS_SUCCESS) return 12;
    if (Query(at).State != MEM_RESERVE) return 13;
    at = (char *)base + 0x1000;
    length = 0;
    if (NtFreeVirtualMemory(SELF, &at, &length, MEM_RELEASE) != STATUS_FREE_VM_NOT_AT_BASE) return 14;
    at = base;
    if (NtFreeVirtualMemory(SELF, &at, &length, MEM_RELEASE) != STATUS_SUCCESS || length != 0x13000) return 15;
    if (Query(base).State != MEM_FREE) return 16;
    at = base;
    length = 0;
    if (NtFreeVirtualMemory(SELF, &at, &length, MEM_RELEASE) != STATUS_MEMORY_NOT_ALLOCATED) return 17;

    /* Reserve and commit at once, at a chosen address; a second reservation there conflicts. */
    at = base;
    length = 0x3000;
    if (NtAllocateVirtualMemory(SELF, &at, 0, &length, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) != STATUS_SUCCESS ||
        at != base) return 18;
    if (NtAllocateVirtualMemory(SELF, &at, 0, &length, MEM_RESERVE, PAGE_READWRITE) != STATUS_CONFLICTING_ADDRESSES)
        return 19;

    /* The images are MEM_IMAGE regions whose allocation base is the image's header. */
    info = Query((void *)NtClose);
    if (info.Type != MEM_IMAGE || *(const WORD *)info.AllocationBase != 0x5A4D) return 20;

    /* Bad pointers from the program: an access violation returned, never a stop. */
    if (NtAllocateVirtualMemory(SELF, (PVOID *)KERNEL_ADDRESS, 0, &size, MEM_RESERVE, PAGE_READWRITE) !=
        STATUS_ACCESS_VIOLATION) return 21;
    base = 0;
    if (NtAllocateVirtualMemory(SELF, &base, 0, NULL, MEM_RESERVE, PAGE_READWRITE) != STATUS_ACCESS_VIOLATION)
        return 22;
    if (NtQueryVirtualMemory(SELF, at, 0, KERNEL_ADDRESS, sizeof info, NULL) != STATUS_ACCESS_VIOLATION) return 23;
    if (NtQueryVirtualMemory(SELF, at, 0, (void *)(ULONG_PTR)0x10, sizeof info, NULL) != STATUS_ACCESS_VIOLATION)
        return 24;
    if (NtQueryVirtualMemory(SELF, KERNEL_ADDRESS, 0, &info, sizeof info, NULL) != STATUS_INVALID_PARAMETER)
        return 25;
    if (NtClose((HANDLE)(LONG_PTR)(LONG)0x80000004) != STATUS_INVALID_HANDLE) return 26; /* a kernel handle */

    /* The thread's TEB is the kernel's too (its KPCR while the thread is in the kernel): it cannot be
       released, decommitted or re-protected, and system calls go on working. */
    {
        PVOID teb = NtCurrentTeb();
        SIZE_T page = 0;
        at = teb;
        if (NtFreeVirtualMemory(SELF, &at, &page, MEM_RELEASE) == STATUS_SUCCESS) return 27;
        at = teb;
        page = 0x1000;
        if (NtFreeVirtualMemory(SELF, &at, &page, MEM_DECOMMIT) == STATUS_SUCCESS) return 28;
        at = teb;
        page = 0x1000;
        if (NtProtectVirtualMemory(SELF, &at, &page, PAGE_NOACCESS, &old) == STATUS_SUCCESS) return 29;
        info = Query(teb);
        if (info.State != MEM_COMMIT || info.Protect != PAGE_READWRITE) return 30;
    }
    return 42;
}

void __stdcall NtProcessStartup(void *peb)
{
    (void)peb;
    NtTerminateProcess(SELF, Run());
}
