/* The example driver: \Device\ExampleHello, whose one IOCTL reverses the bytes it is sent. With
   the service name "crash" it stops the machine on purpose (its test expects that stop). */
#include <ntddk.h>

#include "hello.h"

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\ExampleHello");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\ExampleHello");

static NTSTATUS NTAPI CreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI DeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    ULONG length = stack->Parameters.DeviceIoControl.InputBufferLength;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Information = 0;
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_HELLO_REVERSE) {
        PUCHAR buffer = irp->AssociatedIrp.SystemBuffer;
        status = STATUS_BUFFER_TOO_SMALL;
        if (stack->Parameters.DeviceIoControl.OutputBufferLength >= length) {
            for (ULONG i = 0; i < length / 2; ++i) {
                UCHAR t = buffer[i];
                buffer[i] = buffer[length - 1 - i];
                buffer[length - 1 - i] = t;
            }
            irp->IoStatus.Information = length;
            status = STATUS_SUCCESS;
        }
    }
    irp->IoStatus.Status = status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID Unload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
    DbgPrint("hello: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    UNICODE_STRING crash = RTL_CONSTANT_STRING(L"crash");
    UNICODE_STRING name = *registryPath;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    /* The service key's last component. */
    for (USHORT i = registryPath->Length / sizeof(WCHAR); i > 0; --i) {
        if (registryPath->Buffer[i - 1] == L'\\') {
            name.Buffer = registryPath->Buffer + i;
            name.Length = (USHORT)(registryPath->Length - i * sizeof(WCHAR));
            break;
        }
    }
    if (RtlEqualUnicodeString(&name, &crash, TRUE)) {
        KeBugCheckEx(MANUALLY_INITIATED_CRASH, 1, 2, 3, 4);
    }

    status = IoCreateDevice(driver, 0, &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
    driver->DriverUnload = Unload;
    DbgPrint("hello from the example driver\n");
    return STATUS_SUCCESS;
}
