/* System and process information through Wine's ntdll, as Windows answers it, and refusals.
   The exit code is the number of the first check that failed, 42 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>

NTSTATUS NTAPI NtQuerySystemInformation(ULONG, void *, ULONG, ULONG *);
NTSTATUS NTAPI NtQueryInformationProcess(HANDLE, ULONG, void *, ULONG, ULONG *);
NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);
NTSTATUS NTAPI NtDuplicateObject(HANDLE, HANDLE, HANDLE, HANDLE *, ACCESS_MASK, ULONG, ULONG);
NTSTATUS NTAPI NtQueryObject(HANDLE, ULONG, void *, ULONG, ULONG *);
NTSTATUS NTAPI NtOpenProcess(HANDLE *, ACCESS_MASK, void *, void *);
NTSTATUS NTAPI NtCreateUserProcess(HANDLE *, HANDLE *, ACCESS_MASK, ACCESS_MASK, void *, void *, ULONG, ULONG, void *,
                                   void *, void *);
NTSTATUS NTAPI NtClose(HANDLE);
void __stdcall NtProcessStartup(void *peb);

#define SELF ((HANDLE)(LONG_PTR)-1)

static int Run(void *peb)
{
    BYTE basic[0x40], cpu[0xc], process[0x30], image[0x40];
    ULONG got = 0;
    if (NtQuerySystemInformation(0, basic, sizeof basic, &got) || got != 0x40) return 1;
    if (*(ULONG *)(basic + 8) != 0x1000 || *(ULONG *)(basic + 0x18) != 0x10000 || basic[0x38] < 1) return 2;
    if (NtQuerySystemInformation(1, cpu, sizeof cpu, NULL) || *(USHORT *)cpu != 9) return 3;
    if (NtQuerySystemInformation(0, basic, 8, &got) != STATUS_INFO_LENGTH_MISMATCH || got != 0x40) return 4;
    if (NtQuerySystemInformation(9999, basic, sizeof basic, NULL) != STATUS_INVALID_INFO_CLASS) return 5;
    if (NtQuerySystemInformation(0, (void *)(ULONG_PTR)0x10, 0x40, NULL) != STATUS_ACCESS_VIOLATION) return 6;

    if (NtQueryInformationProcess(SELF, 0, process, sizeof process, &got) || got != 0x30) return 7;
    if (*(void **)(process + 8) != peb || *(ULONG_PTR *)(process + 0x20) == 0) return 8;
    if (NtQueryInformationProcess(SELF, 46, image, sizeof image, NULL)) return 9;
    if (*(void **)image != (void *)NtProcessStartup || *(USHORT *)(image + 0x30) != IMAGE_FILE_MACHINE_AMD64) return 10;
    if (NtQueryInformationProcess(SELF, 46, image, 8, NULL) != STATUS_INFO_LENGTH_MISMATCH) return 11;
    if (NtQueryInformationProcess((HANDLE)(ULONG_PTR)0x1230, 0, process, sizeof process, NULL) != STATUS_INVALID_HANDLE)
        return 12;
    if (NtQueryInformationProcess(SELF, 0, (void *)(ULONG_PTR)0xfffff80000001000ull, 0x30, NULL) !=
        STATUS_ACCESS_VIOLATION) return 13;

    /* Handles to the process itself, and bad pointers to the handle and process services. */
    HANDLE self = NULL, opened = NULL;
    BYTE flags[2];
    ULONG_PTR id[2] = {0, 0};
    struct {
        ULONG Length;
        HANDLE RootDirectory;
        void *ObjectName;
        ULONG Attributes;
        void *SecurityDescriptor, *SecurityQualityOfService;
    } oa = {sizeof oa};
    if (NtDuplicateObject(SELF, SELF, SELF, &self, 0, 0, 2 /* DUPLICATE_SAME_ACCESS */) || !self) return 14;
    if (NtQueryInformationProcess(self, 0, process, sizeof process, NULL) || *(void **)(process + 8) != peb) return 15;
    id[0] = *(ULONG_PTR *)(process + 0x20);
    if (NtOpenProcess(&opened, 0x1000, &oa, id) || !opened || NtClose(opened)) return 16;
    if (NtDuplicateObject(SELF, SELF, SELF, (HANDLE *)(ULONG_PTR)0x10, 0, 0, 2) != STATUS_ACCESS_VIOLATION) return 17;
    if (NtQueryObject(self, 4, (void *)(ULONG_PTR)0x10, sizeof flags, NULL) != STATUS_ACCESS_VIOLATION) return 18;
    if (NtOpenProcess(&opened, 0x1000, &oa, (void *)(ULONG_PTR)0x10) != STATUS_ACCESS_VIOLATION) return 19;
    if (NtCreateUserProcess((HANDLE *)(ULONG_PTR)0x10, &opened, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL) !=
        STATUS_ACCESS_VIOLATION) return 20;
    if (NtQueryObject(self, 4, flags, sizeof flags, NULL) || flags[0] || flags[1] || NtClose(self)) return 21;
    return 42;
}

void __stdcall NtProcessStartup(void *peb)
{
    NtTerminateProcess(SELF, Run(peb));
}
