/* Named objects from a driver, as Microsoft documents them: an object directory of its own with a
   mutant, a semaphore and a timer in it (created, opened by name, used), ZwDuplicateObject,
   ZwQueryObject's name, ObReferenceObjectByName and ObQueryNameString on the driver object, and
   ZwQueryInformationProcess. Each check prints "object_api: NAME ok" or "object_api: NAME FAILED ...". */
#include <ntifs.h>

#ifndef MUTANT_ALL_ACCESS
#define MUTANT_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1)
#endif
#ifndef TIMER_ALL_ACCESS
#define TIMER_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x3)
#endif
#ifndef DIRECTORY_ALL_ACCESS
#define DIRECTORY_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | 0xF)
#endif

NTSYSAPI NTSTATUS NTAPI ZwCreateMutant(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES, BOOLEAN);
NTSYSAPI NTSTATUS NTAPI ZwOpenMutant(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
NTSYSAPI NTSTATUS NTAPI ZwReleaseMutant(HANDLE, PLONG);
NTSYSAPI NTSTATUS NTAPI ZwCreateSemaphore(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES, LONG, LONG);
NTSYSAPI NTSTATUS NTAPI ZwOpenSemaphore(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
NTSYSAPI NTSTATUS NTAPI ZwReleaseSemaphore(HANDLE, LONG, PLONG);
NTSYSAPI NTSTATUS NTAPI ZwCreateDirectoryObject(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
NTSYSAPI NTSTATUS NTAPI ZwOpenDirectoryObject(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
__declspec(dllimport) extern POBJECT_TYPE *IoDriverObjectType;  /* exported data, undeclared by ntifs.h */
NTSYSAPI NTSTATUS NTAPI ObReferenceObjectByName(PUNICODE_STRING, ULONG, PACCESS_STATE, ACCESS_MASK, POBJECT_TYPE,
                                                KPROCESSOR_MODE, PVOID, PVOID *);

static void Check(const char *name, int ok, ULONG detail)
{
    if (ok) {
        DbgPrint("object_api: %s ok\n", name);
    } else {
        DbgPrint("object_api: %s FAILED 0x%08lx\n", name, detail);
    }
}

static NTSTATUS Named(const WCHAR *name, HANDLE root, POBJECT_ATTRIBUTES a, PUNICODE_STRING u)
{
    RtlInitUnicodeString(u, name);
    InitializeObjectAttributes(a, u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return STATUS_SUCCESS;
}

static int SameName(PUNICODE_STRING got, const WCHAR *expected)
{
    UNICODE_STRING e;
    RtlInitUnicodeString(&e, expected);
    return RtlEqualUnicodeString(got, &e, TRUE);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    OBJECT_ATTRIBUTES a;
    UNICODE_STRING u;
    HANDLE directory = NULL, opened = NULL, mutant = NULL, mutant2 = NULL, semaphore = NULL, semaphore2 = NULL,
           timer = NULL, timer2 = NULL, duplicate = NULL;
    LONG previous = -1;
    BOOLEAN state = TRUE;
    LARGE_INTEGER due;
    PVOID object = NULL;
    UCHAR buffer[256];
    POBJECT_NAME_INFORMATION info = (POBJECT_NAME_INFORMATION)buffer;
    ULONG got = 0;
    PROCESS_BASIC_INFORMATION basic;
    NTSTATUS s;
    (void)registryPath;

    Named(L"\\ObjectApi", NULL, &a, &u);
    s = ZwCreateDirectoryObject(&directory, DIRECTORY_ALL_ACCESS, &a);
    Check("ZwCreateDirectoryObject", NT_SUCCESS(s), s);
    s = ZwOpenDirectoryObject(&opened, DIRECTORY_ALL_ACCESS, &a);
    Check("ZwOpenDirectoryObject", NT_SUCCESS(s), s);

    /* A mutant created owned, in the directory (relative to its handle), opened by its full name. */
    Named(L"Mutant", directory, &a, &u);
    s = ZwCreateMutant(&mutant, MUTANT_ALL_ACCESS, &a, TRUE);
    Check("ZwCreateMutant", NT_SUCCESS(s), s);
    Named(L"\\ObjectApi\\Mutant", NULL, &a, &u);
    s = ZwOpenMutant(&mutant2, MUTANT_ALL_ACCESS, &a);
    Check("ZwOpenMutant", NT_SUCCESS(s), s);
    s = ZwReleaseMutant(mutant2, &previous);
    Check("ZwReleaseMutant", NT_SUCCESS(s) && previous == 0, previous);

    Named(L"\\ObjectApi\\Semaphore", NULL, &a, &u);
    s = ZwCreateSemaphore(&semaphore, SEMAPHORE_ALL_ACCESS, &a, 1, 2);
    Check("ZwCreateSemaphore", NT_SUCCESS(s), s);
    s = ZwOpenSemaphore(&semaphore2, SEMAPHORE_ALL_ACCESS, &a);
    Check("ZwOpenSemaphore", NT_SUCCESS(s), s);
    s = ZwReleaseSemaphore(semaphore2, 1, &previous);
    Check("ZwReleaseSemaphore", NT_SUCCESS(s) && previous == 1, previous);
    s = ZwReleaseSemaphore(semaphore2, 1, &previous);
    Check("ZwReleaseSemaphore past its maximum", s == STATUS_SEMAPHORE_LIMIT_EXCEEDED, s);

    Named(L"\\ObjectApi\\Timer", NULL, &a, &u);
    s = ZwCreateTimer(&timer, TIMER_ALL_ACCESS, &a, NotificationTimer);
    Check("ZwCreateTimer", NT_SUCCESS(s), s);
    s = ZwOpenTimer(&timer2, TIMER_ALL_ACCESS, &a);
    Check("ZwOpenTimer", NT_SUCCESS(s), s);
    due.QuadPart = -10000;  /* 1 ms from now */
    s = ZwSetTimer(timer2, &due, NULL, NULL, FALSE, 0, &state);
    Check("ZwSetTimer", NT_SUCCESS(s) && state == FALSE, s);
    s = ZwWaitForSingleObject(timer, FALSE, NULL);
    Check("the timer signals", s == STATUS_SUCCESS, s);
    s = ZwCancelTimer(timer, &state);
    Check("ZwCancelTimer", NT_SUCCESS(s), s);

    s = ZwDuplicateObject(NtCurrentProcess(), mutant, NtCurrentProcess(), &duplicate, 0, OBJ_KERNEL_HANDLE,
                          DUPLICATE_SAME_ACCESS);
    Check("ZwDuplicateObject", NT_SUCCESS(s) && duplicate && duplicate != mutant, s);
    s = ZwQueryObject(duplicate, ObjectNameInformation, buffer, sizeof buffer, &got);
    Check("ZwQueryObject's name", NT_SUCCESS(s) && SameName(&info->Name, L"\\ObjectApi\\Mutant"), s);

    /* The driver object by its name, and its name back. */
    RtlInitUnicodeString(&u, L"\\Driver\\object_api");
    s = ObReferenceObjectByName(&u, OBJ_CASE_INSENSITIVE, NULL, 0, *IoDriverObjectType, KernelMode, NULL, &object);
    Check("ObReferenceObjectByName", NT_SUCCESS(s) && object == driver, s);
    if (NT_SUCCESS(s)) ObDereferenceObject(object);
    s = ObReferenceObjectByName(&u, OBJ_CASE_INSENSITIVE, NULL, 0, *PsProcessType, KernelMode, NULL, &object);
    Check("ObReferenceObjectByName of another type", s == STATUS_OBJECT_TYPE_MISMATCH, s);
    RtlInitUnicodeString(&u, L"\\Driver\\no_such_driver");
    s = ObReferenceObjectByName(&u, OBJ_CASE_INSENSITIVE, NULL, 0, NULL, KernelMode, NULL, &object);
    Check("ObReferenceObjectByName of nothing", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    s = ObQueryNameString(driver, info, sizeof buffer, &got);
    Check("ObQueryNameString", NT_SUCCESS(s) && SameName(&info->Name, L"\\Driver\\object_api"), s);
    s = ObQueryNameString(driver, info, sizeof(OBJECT_NAME_INFORMATION), &got);
    Check("ObQueryNameString into too little", s == STATUS_INFO_LENGTH_MISMATCH && got > sizeof(OBJECT_NAME_INFORMATION), s);

    s = ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, &basic, sizeof basic, &got);
    Check("ZwQueryInformationProcess", NT_SUCCESS(s) && basic.UniqueProcessId == 4, s);

    {
        /* OBJ_PERMANENT: the name stays without handles, until ZwMakeTemporaryObject. */
        HANDLE permanent = NULL, again = NULL;
        Named(L"\\ObjectApi\\Permanent", NULL, &a, &u);
        a.Attributes |= OBJ_PERMANENT;
        s = ZwCreateEvent(&permanent, EVENT_ALL_ACCESS, &a, NotificationEvent, FALSE);
        Check("ZwCreateEvent with OBJ_PERMANENT", NT_SUCCESS(s), s);
        if (permanent) ZwClose(permanent);
        Named(L"\\ObjectApi\\Permanent", NULL, &a, &u);
        s = ZwOpenEvent(&again, EVENT_ALL_ACCESS, &a);
        Check("a permanent name outlives its handles", NT_SUCCESS(s), s);
        if (NT_SUCCESS(s)) {
            s = ZwMakeTemporaryObject(again);
            Check("ZwMakeTemporaryObject", NT_SUCCESS(s), s);
            ZwClose(again);
        }
        s = ZwOpenEvent(&again, EVENT_ALL_ACCESS, &a);
        Check("a temporary name goes with its last handle", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    }

    if (duplicate) ZwClose(duplicate);
    if (timer2) ZwClose(timer2);
    if (timer) ZwClose(timer);
    if (semaphore2) ZwClose(semaphore2);
    if (semaphore) ZwClose(semaphore);
    if (mutant2) ZwClose(mutant2);
    if (mutant) ZwClose(mutant);
    if (opened) ZwClose(opened);
    if (directory) ZwClose(directory);
    {
        UNICODE_STRING routine;
        RtlInitUnicodeString(&routine, L"ZwCreateMutant");
        Check("MmGetSystemRoutineAddress", MmGetSystemRoutineAddress(&routine) != NULL, 0);
    }
    DbgPrint("object_api: done\n");
    return STATUS_SUCCESS;
}
