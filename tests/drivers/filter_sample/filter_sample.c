/* A filter attached above ioctl_sample's \Device\SIOCTL: device stacks and completion routines.
   - METHOD_BUFFERED: forwarded and waited for (completion routine + event +
     STATUS_MORE_PROCESSING_REQUIRED), then the reply is upper-cased and completed again.
   - METHOD_OUT_DIRECT: forwarded with a completion routine that logs what came back.
   - everything else passes through untouched (IoSkipCurrentIrpStackLocation). */
#include <ntddk.h>

#include "../ioctl_sample/ioctl_shared.h"

typedef struct {
  PDEVICE_OBJECT lower;
  PFILE_OBJECT lowerFile;
} FILTER_EXTENSION;

static PDEVICE_OBJECT g_filter;

static NTSTATUS PassThrough(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  FILTER_EXTENSION* ext = DeviceObject->DeviceExtension;
  IoSkipCurrentIrpStackLocation(Irp);
  return IoCallDriver(ext->lower, Irp);
}

static NTSTATUS SignalEvent(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS LogCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(Context);
  if (Irp->PendingReturned) IoMarkIrpPending(Irp);
  DbgPrint("filter_sample: completion on %s device: status %08X, %u bytes\n",
           DeviceObject == g_filter ? "the filter" : "another", Irp->IoStatus.Status,
           (unsigned)Irp->IoStatus.Information);
  return STATUS_SUCCESS;
}

static NTSTATUS FilterDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  FILTER_EXTENSION* ext = DeviceObject->DeviceExtension;
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
  ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
  if (code == IOCTL_SIOCTL_METHOD_BUFFERED) {
    KEVENT done;
    NTSTATUS status;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, SignalEvent, &done, TRUE, TRUE, TRUE);
    status = IoCallDriver(ext->lower, Irp);
    if (status == STATUS_PENDING) KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status)) {
      char* reply = Irp->AssociatedIrp.SystemBuffer;
      for (ULONG_PTR i = 0; i < Irp->IoStatus.Information; ++i) {
        if (reply[i] >= 'a' && reply[i] <= 'z') reply[i] = (char)(reply[i] - 32);
      }
      DbgPrint("filter_sample: upper-cased %u bytes of the reply\n", (unsigned)Irp->IoStatus.Information);
    }
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
  }
  if (code == IOCTL_SIOCTL_METHOD_OUT_DIRECT) {
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, LogCompletion, NULL, TRUE, TRUE, TRUE);
    return IoCallDriver(ext->lower, Irp);
  }
  return PassThrough(DeviceObject, Irp);
}

static VOID FilterUnload(PDRIVER_OBJECT DriverObject) {
  FILTER_EXTENSION* ext = g_filter->DeviceExtension;
  UNREFERENCED_PARAMETER(DriverObject);
  IoDetachDevice(ext->lower);
  ObDereferenceObject(ext->lowerFile);
  IoDeleteDevice(g_filter);
  DbgPrint("filter_sample: detached and unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING target;
  PFILE_OBJECT file;
  PDEVICE_OBJECT lower, below;
  FILTER_EXTENSION* ext;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);

  RtlInitUnicodeString(&target, SIOCTL_NT_DEVICE_NAME);
  status = IoGetDeviceObjectPointer(&target, FILE_READ_DATA, &file, &lower);
  if (!NT_SUCCESS(status)) {
    DbgPrint("filter_sample: %wZ is not there (%08X)\n", &target, status);
    return status;
  }
  status = IoCreateDevice(DriverObject, sizeof(FILTER_EXTENSION), NULL, lower->DeviceType, 0, FALSE, &g_filter);
  if (!NT_SUCCESS(status)) {
    ObDereferenceObject(file);
    return status;
  }
  for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) DriverObject->MajorFunction[i] = PassThrough;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FilterDeviceControl;
  DriverObject->DriverUnload = FilterUnload;
  g_filter->Flags |= lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
  below = IoAttachDeviceToDeviceStack(g_filter, lower);
  if (!below) {
    IoDeleteDevice(g_filter);
    ObDereferenceObject(file);
    return STATUS_NO_SUCH_DEVICE;
  }
  ext = g_filter->DeviceExtension;
  ext->lower = below;
  ext->lowerFile = file;
  g_filter->Flags &= ~DO_DEVICE_INITIALIZING;
  DbgPrint("filter_sample: attached above %wZ (stack size %d)\n", &target, g_filter->StackSize);
  return STATUS_SUCCESS;
}
