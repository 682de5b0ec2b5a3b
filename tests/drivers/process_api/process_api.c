/* Drivers' view of processes, as Microsoft documents it: a program's request (IOCTL 0x222000, its
   input a struct Request) is checked in the program's own context (IoGetRequestorProcess(Id),
   PsGetThreadProcessId, PsLookupProcessByProcessId, PsGetProcessImageFileName,
   PsGetProcessSectionBaseAddress, PsGetProcessInheritedFromUniqueProcessId, ZwOpenProcess,
   PsInitialSystemProcess), then pended to a work item in the System process, which attaches to the
   program (KeStackAttachProcess) to read its buffer and completes the request with what it read.
   Each check prints "process_api: NAME ok" or "process_api: NAME FAILED ...". */
#include <ntifs.h>

#define IOCTL_PROCESS_API CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct Request {
    ULONG processId;       /* the program's own, as it sees it */
    ULONG length;          /* of the text at address */
    ULONG64 imageBase;     /* GetModuleHandle(NULL) */
    ULONG64 address;       /* text in the program's memory, read from the System process */
};

typedef struct {
    WORK_QUEUE_ITEM item;
    PIRP irp;
    PEPROCESS process;
    struct Request request;
} AttachWork;

/* Exported by ntoskrnl, undocumented in the WDK's headers. */
NTKERNELAPI PCHAR NTAPI PsGetProcessImageFileName(PEPROCESS Process);
NTKERNELAPI PVOID NTAPI PsGetProcessSectionBaseAddress(PEPROCESS Process);
NTKERNELAPI HANDLE NTAPI PsGetProcessInheritedFromUniqueProcessId(PEPROCESS Process);

static void Check(const char *name, int ok, ULONG64 detail)
{
    if (ok) {
        DbgPrint("process_api: %s ok\n", name);
    } else {
        DbgPrint("process_api: %s FAILED 0x%llx\n", name, detail);
    }
}

static int SameText(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* In the System process: attach to the program, read its text, detach, complete the request. */
static VOID NTAPI ReadFromTheProgram(PVOID context)
{
    AttachWork *work = (AttachWork *)context;
    PIRP irp = work->irp;
    KAPC_STATE state;
    ULONG length = work->request.length;
    ULONG out = IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.OutputBufferLength;
    Check("work item in System", PsGetCurrentProcessId() == (HANDLE)4, (ULONG64)PsGetCurrentProcessId());
    KeStackAttachProcess((PKPROCESS)work->process, &state);
    Check("attached", PsGetCurrentProcessId() == (HANDLE)(ULONG_PTR)work->request.processId,
          (ULONG64)PsGetCurrentProcessId());
    if (length > out) length = out;
    RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, (const void *)(ULONG_PTR)work->request.address, length);
    KeUnstackDetachProcess(&state);
    Check("detached", PsGetCurrentProcessId() == (HANDLE)4, (ULONG64)PsGetCurrentProcessId());
    ObDereferenceObject(work->process);
    ExFreePoolWithTag(work, 'ipAP');
    DbgPrint("process_api: done\n");
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = length;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS Complete(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    return Complete(irp, STATUS_SUCCESS);
}

static NTSTATUS DispatchControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct Request request;
    PEPROCESS process = NULL, opened = NULL;
    HANDLE handle = NULL, pid;
    OBJECT_ATTRIBUTES attributes;
    CLIENT_ID client;
    AttachWork *work;
    NTSTATUS s;
    (void)device;
    if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_PROCESS_API ||
        sl->Parameters.DeviceIoControl.InputBufferLength < sizeof request) {
        return Complete(irp, STATUS_INVALID_DEVICE_REQUEST);
    }
    RtlCopyMemory(&request, irp->AssociatedIrp.SystemBuffer, sizeof request);
    pid = (HANDLE)(ULONG_PTR)request.processId;

    Check("PsGetCurrentProcessId", PsGetCurrentProcessId() == pid, (ULONG64)PsGetCurrentProcessId());
    Check("IoGetRequestorProcessId", IoGetRequestorProcessId(irp) == request.processId, IoGetRequestorProcessId(irp));
    Check("IoGetRequestorProcess", IoGetRequestorProcess(irp) == PsGetCurrentProcess(), 0);
    Check("PsGetThreadProcessId", PsGetThreadProcessId(PsGetCurrentThread()) == pid,
          (ULONG64)PsGetThreadProcessId(PsGetCurrentThread()));
    s = PsLookupProcessByProcessId(pid, &process);
    Check("PsLookupProcessByProcessId", NT_SUCCESS(s) && process == PsGetCurrentProcess(), (ULONG)s);
    if (!NT_SUCCESS(s)) return Complete(irp, s);
    Check("PsGetProcessId", PsGetProcessId(process) == pid, (ULONG64)PsGetProcessId(process));
    Check("PsGetProcessImageFileName", SameText(PsGetProcessImageFileName(process), "procapi_app.ex"), 0);
    Check("PsGetProcessSectionBaseAddress", (ULONG64)PsGetProcessSectionBaseAddress(process) == request.imageBase,
          (ULONG64)PsGetProcessSectionBaseAddress(process));
    Check("PsGetProcessInheritedFromUniqueProcessId", PsGetProcessInheritedFromUniqueProcessId(process) != NULL, 0);
    s = PsLookupProcessByProcessId((HANDLE)(ULONG_PTR)0x7FFFFFF0, &opened);
    Check("PsLookupProcessByProcessId of no process", s == STATUS_INVALID_PARAMETER && opened == NULL, (ULONG)s);
    Check("PsInitialSystemProcess", PsGetProcessId(PsInitialSystemProcess) == (HANDLE)4 &&
                                         SameText(PsGetProcessImageFileName(PsInitialSystemProcess), "System"),
          (ULONG64)PsGetProcessId(PsInitialSystemProcess));

    client.UniqueProcess = pid;
    client.UniqueThread = NULL;
    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    s = ZwOpenProcess(&handle, PROCESS_ALL_ACCESS, &attributes, &client);
    Check("ZwOpenProcess", NT_SUCCESS(s), (ULONG)s);
    if (NT_SUCCESS(s)) {
        s = ObReferenceObjectByHandle(handle, 0, *PsProcessType, KernelMode, (PVOID *)&opened, NULL);
        Check("ObReferenceObjectByHandle of it", NT_SUCCESS(s) && opened == process, (ULONG)s);
        if (NT_SUCCESS(s)) ObDereferenceObject(opened);
        ZwClose(handle);
    }

    work = (AttachWork *)ExAllocatePoolWithTag(NonPagedPool, sizeof *work, 'ipAP');
    if (!work) {
        ObDereferenceObject(process);
        return Complete(irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    work->irp = irp;
    work->process = process;  /* the lookup's reference, released by the work item */
    work->request = request;
    ExInitializeWorkItem(&work->item, ReadFromTheProgram, work);
    IoMarkIrpPending(irp);
    ExQueueWorkItem(&work->item, DelayedWorkQueue);
    return STATUS_PENDING;
}

static void DriverUnload(PDRIVER_OBJECT driver)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\ProcessApi");
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS s;
    (void)registryPath;
    RtlInitUnicodeString(&name, L"\\Device\\ProcessApi");
    RtlInitUnicodeString(&link, L"\\DosDevices\\ProcessApi");
    s = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(s)) return s;
    s = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(s)) {
        IoDeleteDevice(device);
        return s;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
    driver->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}
