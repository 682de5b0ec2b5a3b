/* Sections through Wine's ntdll: a DLL's image section queried, mapped (relocated if it must be)
   and unmapped; the same file's data as a view; refusals. The exit code is the number of the first
   check that failed, 42 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <winternl.h>

NTSTATUS NTAPI NtOpenFile(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, ULONG, ULONG);
NTSTATUS NTAPI NtCreateSection(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE);
NTSTATUS NTAPI NtQuerySection(HANDLE, int, void *, SIZE_T, SIZE_T *);
NTSTATUS NTAPI NtMapViewOfSection(HANDLE, HANDLE, void **, ULONG_PTR, SIZE_T, LARGE_INTEGER *, SIZE_T *, int, ULONG, ULONG);
NTSTATUS NTAPI NtUnmapViewOfSection(HANDLE, void *);
NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE, PVOID, ULONG, PVOID, SIZE_T, SIZE_T *);
NTSTATUS NTAPI NtClose(HANDLE);
NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);
void NTAPI RtlInitUnicodeString(UNICODE_STRING *, const WCHAR *);

#define SELF ((HANDLE)(LONG_PTR)-1)
#define SEC_IMAGE_ 0x1000000
#define STATUS_IMAGE_NOT_AT_BASE_ ((NTSTATUS)0x40000003)

typedef struct {
    void *TransferAddress;
    ULONG ZeroBits;
    SIZE_T MaximumStackSize, CommittedStackSize;
    ULONG SubSystemType;
    USHORT MinorSubsystemVersion, MajorSubsystemVersion, MajorOs, MinorOs;
    USHORT ImageCharacteristics, DllCharacteristics, Machine;
    BOOLEAN ImageContainsCode;
    UCHAR ImageFlags;
    ULONG LoaderFlags, ImageFileSize, CheckSum;
} IMAGE_INFO;

static int Run(void)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK io;
    HANDLE file, image, data;
    IMAGE_INFO info;
    SIZE_T got = 0, size = 0;
    void *base = NULL, *view = NULL;
    MEMORY_BASIC_INFORMATION mbi;
    NTSTATUS status;
    LARGE_INTEGER offset;

    RtlInitUnicodeString(&u, L"\\??\\C:\\windows\\system32\\version.dll");
    InitializeObjectAttributes(&attributes, &u, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (NtOpenFile(&file, GENERIC_READ | SYNCHRONIZE, &attributes, &io, FILE_SHARE_READ, 0x20 | 0x40)) return 1;
    if (NtCreateSection(&image, SECTION_QUERY | SECTION_MAP_READ | SECTION_MAP_EXECUTE, NULL, NULL, PAGE_EXECUTE_READ,
                        SEC_IMAGE_, file)) return 2;
    if (NtQuerySection(image, 1, &info, sizeof info, &got) || got != 0x40) return 3;
    if (info.Machine != IMAGE_FILE_MACHINE_AMD64 || !(info.ImageCharacteristics & IMAGE_FILE_DLL) ||
        !info.TransferAddress || !info.ImageContainsCode) return 4;
    status = NtMapViewOfSection(image, SELF, &base, 0, 0, NULL, &size, 1, 0, PAGE_EXECUTE_READ);
    if ((status != STATUS_SUCCESS && status != STATUS_IMAGE_NOT_AT_BASE_) || !base || !size) return 5;
    if (*(const WORD *)base != IMAGE_DOS_SIGNATURE) return 6;
    {
        const IMAGE_NT_HEADERS64 *nt = (const IMAGE_NT_HEADERS64 *)((const char *)base + ((const IMAGE_DOS_HEADER *)base)->e_lfanew);
        if (nt->OptionalHeader.ImageBase != (ULONG_PTR)base) return 7; /* the header says where it is */
    }
    if (NtQueryVirtualMemory(SELF, base, 0, &mbi, sizeof mbi, NULL) || mbi.Type != MEM_IMAGE ||
        mbi.AllocationBase != base) return 8;
    if (NtUnmapViewOfSection(SELF, base)) return 9;
    if (NtUnmapViewOfSection(SELF, base) != STATUS_NOT_MAPPED_VIEW) return 10;
    if (NtQuerySection(image, 7, &info, sizeof info, NULL) != STATUS_INVALID_INFO_CLASS) return 11;
    NtClose(image);

    /* The same file's bytes as data: from offset 0x3c, the PE header's offset. */
    if (NtCreateSection(&data, SECTION_MAP_READ, NULL, NULL, PAGE_READONLY, SEC_COMMIT, file)) return 12;
    if (NtQuerySection(data, 1, &info, sizeof info, NULL) != STATUS_SECTION_NOT_IMAGE) return 13;
    offset.QuadPart = 0x3c;
    size = 4;
    if (NtMapViewOfSection(data, SELF, &view, 0, 0, &offset, &size, 1, 0, PAGE_READONLY) || size != 4) return 14;
    if (*(const DWORD *)view == 0 || *(const DWORD *)view > 0x1000) return 15;
    if (NtUnmapViewOfSection(SELF, view)) return 16;
    NtClose(data);

    /* A file that is no image; bad pointers. */
    if (NtCreateSection(&image, SECTION_QUERY, NULL, NULL, PAGE_READONLY, SEC_IMAGE_, (HANDLE)(ULONG_PTR)0x1230) !=
        STATUS_INVALID_HANDLE) return 17;
    if (NtCreateSection((HANDLE *)(ULONG_PTR)0xfffff80000001000ull, SECTION_QUERY, NULL, NULL, PAGE_READONLY,
                        SEC_IMAGE_, file) != STATUS_ACCESS_VIOLATION) return 18;
    NtClose(file);
    return 42;
}

void __stdcall NtProcessStartup(void *peb)
{
    (void)peb;
    NtTerminateProcess(SELF, Run());
}
