/* Opening files through Wine's ntdll: the system DLLs under C:\windows\system32 (any case,
   read-only), the host's root as Z:, what does not exist, host devices, and bad pointers. The exit
   code is the number of the first check that failed, 42 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <winternl.h>

NTSTATUS NTAPI NtOpenFile(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, ULONG, ULONG);
NTSTATUS NTAPI NtClose(HANDLE);
NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);
void NTAPI RtlInitUnicodeString(UNICODE_STRING *, const WCHAR *);

#define KERNEL_ADDRESS ((void *)(ULONG_PTR)0xfffff80000001000ull)

static NTSTATUS Open(const WCHAR *name, ACCESS_MASK access, ULONG options, HANDLE *handle)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK io;
    RtlInitUnicodeString(&u, name);
    InitializeObjectAttributes(&attributes, &u, OBJ_CASE_INSENSITIVE, NULL, NULL);
    *handle = NULL;
    return NtOpenFile(handle, access, &attributes, &io, FILE_SHARE_READ, options);
}

static int Run(void)
{
    HANDLE h;
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK io;

    if (Open(L"\\??\\C:\\windows\\system32\\kernel32.dll", GENERIC_READ, FILE_NON_DIRECTORY_FILE, &h) ||
        !h || NtClose(h)) return 1;
    if (Open(L"\\??\\c:\\WINDOWS\\System32\\NTDLL.DLL", GENERIC_READ, 0, &h) || NtClose(h)) return 2;
    if (Open(L"\\??\\C:\\windows\\system32\\kernel32.dll", GENERIC_WRITE, 0, &h) != STATUS_ACCESS_DENIED) return 3;
    if (Open(L"\\??\\C:\\windows\\system32\\nosuch.dll", GENERIC_READ, 0, &h) != STATUS_OBJECT_NAME_NOT_FOUND) return 4;
    if (Open(L"\\??\\C:\\nosuchdir\\x.dll", GENERIC_READ, 0, &h) != STATUS_OBJECT_PATH_NOT_FOUND) return 5;
    if (Open(L"\\??\\Z:\\", GENERIC_READ, FILE_DIRECTORY_FILE, &h) || NtClose(h)) return 6;
    if (Open(L"\\??\\Z:\\", GENERIC_READ, FILE_NON_DIRECTORY_FILE, &h) != STATUS_FILE_IS_A_DIRECTORY) return 7;
    if (Open(L"\\??\\Z:\\dev\\null", GENERIC_READ, 0, &h) != STATUS_ACCESS_DENIED) return 8;
    if (Open(L"\\??\\Z:\\..\\etc", GENERIC_READ, 0, &h) != STATUS_OBJECT_NAME_INVALID) return 9;
    if (Open(L"\\??\\Q:\\x", GENERIC_READ, 0, &h) != STATUS_OBJECT_PATH_NOT_FOUND) return 10;

    /* Bad pointers: the attributes, the name, its buffer, the handle. */
    if (NtOpenFile(&h, GENERIC_READ, KERNEL_ADDRESS, &io, 0, 0) != STATUS_ACCESS_VIOLATION) return 11;
    InitializeObjectAttributes(&attributes, (UNICODE_STRING *)KERNEL_ADDRESS, 0, NULL, NULL);
    if (NtOpenFile(&h, GENERIC_READ, &attributes, &io, 0, 0) != STATUS_ACCESS_VIOLATION) return 12;
    u.Length = u.MaximumLength = 8;
    u.Buffer = KERNEL_ADDRESS;
    InitializeObjectAttributes(&attributes, &u, 0, NULL, NULL);
    if (NtOpenFile(&h, GENERIC_READ, &attributes, &io, 0, 0) != STATUS_ACCESS_VIOLATION) return 13;
    RtlInitUnicodeString(&u, L"\\??\\Z:\\");
    if (NtOpenFile(KERNEL_ADDRESS, GENERIC_READ, &attributes, &io, 0, FILE_DIRECTORY_FILE) != STATUS_ACCESS_VIOLATION)
        return 14;
    return 42;
}

void __stdcall NtProcessStartup(void *peb)
{
    (void)peb;
    NtTerminateProcess((HANDLE)(LONG_PTR)-1, Run());
}
