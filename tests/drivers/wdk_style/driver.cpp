// A driver written the way the WDK's samples and templates write one, compiled unmodified:
// role types and SAL annotations, wdmsec's IoCreateDeviceSecure, ntstrsafe in two files,
// RTL_CONSTANT_STRING at file scope, ExAllocatePool2, a switch on CTL_CODE(0x8000, ...) values,
// PAGED_CODE with #pragma alloc_text, dontuse.h and suppress.h.
#include "driver.h"

#include "../common/service_name.h"

extern "C" DRIVER_INITIALIZE DriverEntry;

_Dispatch_type_(IRP_MJ_CREATE)
_Dispatch_type_(IRP_MJ_CLOSE)
DRIVER_DISPATCH WdkStyleCreateClose;

_Dispatch_type_(IRP_MJ_DEVICE_CONTROL)
DRIVER_DISPATCH WdkStyleDeviceControl;

DRIVER_UNLOAD WdkStyleUnload;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, WdkStyleCreateClose)
#pragma alloc_text(PAGE, WdkStyleUnload)
#endif

static UNICODE_STRING g_DeviceName = RTL_CONSTANT_STRING(L"\\Device\\WdkStyle");
static UNICODE_STRING g_LinkName = RTL_CONSTANT_STRING(L"\\DosDevices\\WdkStyle");
// {5C4A3A0E-2F1B-4D8E-9C61-6A2B1E0F7D11}
static const GUID g_DeviceClass = {0x5c4a3a0e, 0x2f1b, 0x4d8e, {0x9c, 0x61, 0x6a, 0x2b, 0x1e, 0x0f, 0x7d, 0x11}};

_Use_decl_annotations_
NTSTATUS
WdkStyleCreateClose(
    PDEVICE_OBJECT DeviceObject,
    PIRP Irp
    )
{
    UNREFERENCED_PARAMETER(DeviceObject);
    PAGED_CODE();

    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS
WdkStyleDeviceControl(
    PDEVICE_OBJECT DeviceObject,
    PIRP Irp
    )
{
    PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(Irp);
    PDEVICE_EXTENSION extension = static_cast<PDEVICE_EXTENSION>(DeviceObject->DeviceExtension);
    ULONG inLength = irpSp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = irpSp->Parameters.DeviceIoControl.OutputBufferLength;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;

    extension->Requests++;

    switch (irpSp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_WDKSTYLE_REVERSE:
        if (inLength > outLength) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        ReverseBuffer(static_cast<PUCHAR>(Irp->AssociatedIrp.SystemBuffer), inLength);
        information = inLength;
        break;

    case IOCTL_WDKSTYLE_DESCRIBE:
        status = DescribeDevice(extension, extension->Requests);
        if (!NT_SUCCESS(status)) {
            break;
        }
        if (outLength < extension->Description.Length) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, extension->Description.Buffer, extension->Description.Length);
        information = extension->Description.Length;
        break;

    default:
#pragma warning(suppress: 28175)
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }

    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

_Use_decl_annotations_
VOID
WdkStyleUnload(
    PDRIVER_OBJECT DriverObject
    )
{
    PAGED_CODE();

    IoDeleteSymbolicLink(&g_LinkName);
    if (DriverObject->DeviceObject != nullptr) {
        IoDeleteDevice(DriverObject->DeviceObject);
    }
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "WdkStyle: unloaded\n");
}

_Use_decl_annotations_
NTSTATUS
DriverEntry(
    PDRIVER_OBJECT DriverObject,
    PUNICODE_STRING RegistryPath
    )
{
    UNREFERENCED_PARAMETER(RegistryPath);

    if (Is(RegistryPath, L"fault")) {
        ReverseBuffer(nullptr, 2);  // a stop inside a C++ function: its report names it demangled
    }

    PDEVICE_OBJECT deviceObject = nullptr;
    NTSTATUS status = IoCreateDeviceSecure(DriverObject, sizeof(DEVICE_EXTENSION), &g_DeviceName,
                                           FILE_DEVICE_WDKSTYLE, FILE_DEVICE_SECURE_OPEN, FALSE,
                                           &SDDL_DEVOBJ_SYS_ALL_ADM_ALL, &g_DeviceClass, &deviceObject);
    if (!NT_SUCCESS(status)) {
        DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "WdkStyle: IoCreateDeviceSecure failed %08X\n", status);
        return status;
    }

    status = IoCreateSymbolicLink(&g_LinkName, &g_DeviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(deviceObject);
        return status;
    }

    DriverObject->MajorFunction[IRP_MJ_CREATE] = WdkStyleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = WdkStyleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WdkStyleDeviceControl;
    DriverObject->DriverUnload = WdkStyleUnload;

    PDEVICE_EXTENSION extension = static_cast<PDEVICE_EXTENSION>(deviceObject->DeviceExtension);
    status = DescribeDevice(extension, 0);

    PUCHAR scratch = static_cast<PUCHAR>(AllocateScratch(16));
    if (scratch != nullptr) {
        RtlCopyMemory(scratch, "ntbox", 6);
        ReverseBuffer(scratch, 5);
        DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "WdkStyle: %wZ, reversed %s, IOCTL %08X\n",
                   &extension->Description, scratch, IOCTL_WDKSTYLE_REVERSE);
        ExFreePoolWithTag(scratch, WDKSTYLE_TAG);
    }
    return status;
}
