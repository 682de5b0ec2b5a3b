/* A driver that shares named events with programs: it creates \BaseNamedObjects\NtboxDriverEvent with
   IoCreateNotificationEvent and signals it on request, and opens the event a program created as
   Global\NtboxProgramEvent (ZwOpenEvent) to signal that. */
#include <ntddk.h>

#include "named_objects.h"

/* In the WDK's wdm.h; mingw-w64's headers lack it. */
NTSYSAPI NTSTATUS NTAPI ZwSetEvent(HANDLE EventHandle, PLONG PreviousState);

static PKEVENT g_event;
static HANDLE g_eventHandle;
static PDEVICE_OBJECT g_device;
static HANDLE g_section;
static PVOID g_sectionObject, g_view;

static NTSTATUS Complete(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS CreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    return Complete(irp, STATUS_SUCCESS);
}

static NTSTATUS Control(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    (void)device;
    switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SIGNAL_DRIVER_EVENT:
        KeSetEvent(g_event, IO_NO_INCREMENT, FALSE);
        return Complete(irp, STATUS_SUCCESS);
    case IOCTL_SIGNAL_PROGRAM_EVENT: {
        UNICODE_STRING name;
        OBJECT_ATTRIBUTES a;
        HANDLE event;
        NTSTATUS s;
        RtlInitUnicodeString(&name, PROGRAM_EVENT);
        InitializeObjectAttributes(&a, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
        s = ZwOpenEvent(&event, EVENT_MODIFY_STATE, &a);
        DbgPrint("named_objects: ZwOpenEvent(%wZ) 0x%08lx\n", &name, (ULONG)s);
        if (NT_SUCCESS(s)) {
            s = ZwSetEvent(event, NULL);
            ZwClose(event);
        }
        return Complete(irp, s);
    }
    case IOCTL_READ_SHARED: {
        /* What the program wrote into the shared memory, as the driver's view has it. */
        const char *text = (const char *)g_view + PROGRAM_TEXT_AT;
        ULONG room = sl->Parameters.DeviceIoControl.OutputBufferLength, n = 0;
        while (n + 1 < room && n < 200 && text[n]) ++n;
        if (room) {
            RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, text, n);
            ((char *)irp->AssociatedIrp.SystemBuffer)[n] = 0;
        }
        DbgPrint("named_objects: the shared memory says \"%s\"\n", text);
        irp->IoStatus.Status = STATUS_SUCCESS;
        irp->IoStatus.Information = room ? n + 1 : 0;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    }
    default:
        return Complete(irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

static void Unload(PDRIVER_OBJECT driver)
{
    UNICODE_STRING link;
    (void)driver;
    RtlInitUnicodeString(&link, NAMED_LINK);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(g_device);
    ZwClose(g_eventHandle);
    MmUnmapViewInSystemSpace(g_view);
    ObDereferenceObject(g_sectionObject);
    ZwClose(g_section);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    UNICODE_STRING name, link, eventName;
    NTSTATUS s;
    (void)registryPath;
    RtlInitUnicodeString(&eventName, DRIVER_EVENT);
    g_event = IoCreateNotificationEvent(&eventName, &g_eventHandle);
    if (!g_event) return STATUS_INSUFFICIENT_RESOURCES;
    KeClearEvent(g_event); /* created signaled */
    {
        UNICODE_STRING sectionName;
        OBJECT_ATTRIBUTES a;
        LARGE_INTEGER size;
        SIZE_T viewSize = 0;
        static const char hello[] = "written by the driver";
        RtlInitUnicodeString(&sectionName, SHARED_SECTION);
        InitializeObjectAttributes(&a, &sectionName, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
        size.QuadPart = SHARED_SIZE;
        s = ZwCreateSection(&g_section, SECTION_ALL_ACCESS, &a, &size, PAGE_READWRITE, SEC_COMMIT, NULL);
        if (NT_SUCCESS(s)) s = ObReferenceObjectByHandle(g_section, SECTION_MAP_READ | SECTION_MAP_WRITE, NULL,
                                                         KernelMode, &g_sectionObject, NULL);
        if (NT_SUCCESS(s)) s = MmMapViewInSystemSpace(g_sectionObject, &g_view, &viewSize);
        DbgPrint("named_objects: shared memory 0x%08lx, %Iu bytes\n", (ULONG)s, viewSize);
        if (!NT_SUCCESS(s)) {
            ZwClose(g_eventHandle);
            return s;
        }
        RtlCopyMemory(g_view, hello, sizeof hello);
    }
    RtlInitUnicodeString(&name, NAMED_DEVICE);
    s = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
    if (!NT_SUCCESS(s)) {
        ZwClose(g_eventHandle);
        return s;
    }
    RtlInitUnicodeString(&link, NAMED_LINK);
    IoCreateSymbolicLink(&link, &name);
    driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = Control;
    driver->DriverUnload = Unload;
    DbgPrint("named_objects: %wZ ready\n", &eventName);
    return STATUS_SUCCESS;
}
