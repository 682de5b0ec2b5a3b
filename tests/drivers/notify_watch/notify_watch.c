/* Process, thread and image notify routines: each event is one DbgPrint line the tests read back.
 * The Ex process routine refuses a process whose command line asks for it ("deny-me"). The
 * service notify_forget unloads without removing its routines (the verifier's 0xCE). */
#include <ntddk.h>

/* In ntifs.h, which mingw-w64's DDK lacks. */
NTSYSAPI NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout);

static BOOLEAN g_remove = TRUE;
static BOOLEAN g_extended;

static BOOLEAN EndsWith(PCUNICODE_STRING s, PCWSTR suffix)
{
    UNICODE_STRING tail;
    RtlInitUnicodeString(&tail, suffix);
    if (s->Length < tail.Length) return FALSE;
    return wcsncmp(s->Buffer + (s->Length - tail.Length) / sizeof(WCHAR), tail.Buffer,
                   tail.Length / sizeof(WCHAR)) == 0;
}

static BOOLEAN Contains(PCUNICODE_STRING s, PCWSTR needle)
{
    size_t n = wcslen(needle);
    USHORT count = s->Length / sizeof(WCHAR);
    for (USHORT i = 0; i + n <= count; ++i) {
        if (wcsncmp(s->Buffer + i, needle, n) == 0) return TRUE;
    }
    return FALSE;
}

static VOID NTAPI OnProcess(HANDLE parent, HANDLE process, BOOLEAN create)
{
    DbgPrint("notify: process %s pid=%Iu parent=%Iu irql=%u\n", create ? "create" : "exit", (ULONG_PTR)process,
             (ULONG_PTR)parent, (unsigned)KeGetCurrentIrql());
}

static VOID NTAPI OnProcessEx(PEPROCESS process, HANDLE id, PPS_CREATE_NOTIFY_INFO info)
{
    if (!info) {
        DbgPrint("notify: process-ex exit pid=%Iu same=%u\n", (ULONG_PTR)id, PsGetProcessId(process) == id);
        return;
    }
    DbgPrint("notify: process-ex create pid=%Iu image=%wZ cmd=%wZ\n", (ULONG_PTR)id, info->ImageFileName,
             info->CommandLine);
    if (info->CommandLine && Contains(info->CommandLine, L"deny-me")) info->CreationStatus = STATUS_ACCESS_DENIED;
}

static VOID NTAPI OnThread(HANDLE process, HANDLE thread, BOOLEAN create)
{
    DbgPrint("notify: thread %s pid=%Iu tid=%Iu system=%u\n", create ? "create" : "exit", (ULONG_PTR)process,
             (ULONG_PTR)thread, PsGetCurrentProcessId() == (HANDLE)4);
}

static VOID NTAPI OnImage(PUNICODE_STRING name, HANDLE process, PIMAGE_INFO info)
{
    DbgPrint("notify: image %wZ pid=%Iu system=%u size_ok=%u\n", name, (ULONG_PTR)process,
             info->SystemModeImage, info->ImageSize > 0);
}

static VOID NTAPI ShortThread(PVOID context)
{
    UNREFERENCED_PARAMETER(context);
}

static VOID Unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    if (!g_remove) return;
    PsSetCreateProcessNotifyRoutine(OnProcess, TRUE);
    if (g_extended) PsSetCreateProcessNotifyRoutineEx(OnProcessEx, TRUE);
    PsRemoveCreateThreadNotifyRoutine(OnThread);
    PsRemoveLoadImageNotifyRoutine(OnImage);
    DbgPrint("notify: removed; again=0x%08X\n", PsRemoveLoadImageNotifyRoutine(OnImage));
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    NTSTATUS status;
    HANDLE thread;
    driver->DriverUnload = Unload;
    g_remove = !EndsWith(registryPath, L"notify_forget");
    status = PsSetLoadImageNotifyRoutine(OnImage);
    if (!NT_SUCCESS(status)) return status;
    PsSetCreateProcessNotifyRoutine(OnProcess, FALSE);
    status = PsSetCreateProcessNotifyRoutineEx(OnProcessEx, FALSE);
    g_extended = NT_SUCCESS(status);
    DbgPrint("notify: Ex registration 0x%08X\n", status);
    DbgPrint("notify: watching on %u processors\n", KeQueryActiveProcessorCount(NULL));
    PsSetCreateThreadNotifyRoutine(OnThread);
    /* A system thread of our own: its create and exit reach OnThread too. */
    if (NT_SUCCESS(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, ShortThread, NULL))) {
        ZwWaitForSingleObject(thread, FALSE, NULL);
        ZwClose(thread);
    }
    return STATUS_SUCCESS;
}
