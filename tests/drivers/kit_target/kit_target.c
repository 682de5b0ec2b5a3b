/* The test kit's own target (tests/kit): a device whose requests leave work behind them (a timer,
   its DPC, a work item, a system thread), leak pool or stop the machine after the request returned. */
#include <ntddk.h>

#include "kit_target_shared.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD KitUnload;
static DRIVER_DISPATCH KitCreateClose;
static DRIVER_DISPATCH KitDeviceControl;
static KDEFERRED_ROUTINE KitTimerDpc;
static KSTART_ROUTINE KitThread;

static KTIMER g_timer;
static KDPC g_dpc;
static LONG g_action;
static WORK_QUEUE_ITEM g_work;
static KEVENT g_workDone;  /* no work item queued or running */
static KEVENT g_stop;      /* the thread may end */
static PVOID g_thread;
static LONG g_poll;

static VOID KitWork(PVOID context) {
  UNREFERENCED_PARAMETER(context);
  DbgPrint("kit_target: work item done at IRQL %u\n", (unsigned)KeGetCurrentIrql());
  KeSetEvent(&g_workDone, 0, FALSE);
}

static VOID KitTimerDpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(arg1);
  UNREFERENCED_PARAMETER(arg2);
  if (g_action != KIT_LATER_PERIODIC) DbgPrint("kit_target: timer fired\n");
  if (g_action == KIT_LATER_WORK) {
    ExInitializeWorkItem(&g_work, KitWork, NULL);
    ExQueueWorkItem(&g_work, DelayedWorkQueue);
  } else if (g_action == KIT_LATER_BUGCHECK) {
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE file;
    RtlInitUnicodeString(&name, L"\\??\\C:\\kit.txt");
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    if (NT_SUCCESS(ZwCreateFile(&file, GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OVERWRITE_IF,
                                FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0))) {
      ZwClose(file);
    }
  }
}

static VOID KitThread(PVOID context) {
  LARGE_INTEGER interval;
  UNREFERENCED_PARAMETER(context);
  interval.QuadPart = -20 * 10000LL;
  KeDelayExecutionThread(KernelMode, FALSE, &interval);
  DbgPrint("kit_target: thread worked\n");
  if (g_poll) {
    interval.QuadPart = -10 * 10000LL;
    while (KeWaitForSingleObject(&g_stop, Executive, KernelMode, FALSE, &interval) == STATUS_TIMEOUT) {
    }
  }
  KeWaitForSingleObject(&g_stop, Executive, KernelMode, FALSE, NULL);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static NTSTATUS KitCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS KitDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
  ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
  ULONG outLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
  PUCHAR buffer = (PUCHAR)irp->AssociatedIrp.SystemBuffer;
  NTSTATUS status = STATUS_SUCCESS;
  ULONG i;
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Information = 0;
  switch (stack->Parameters.DeviceIoControl.IoControlCode) {
  case IOCTL_KIT_REVERSE:
    if (outLength < inLength) {
      status = STATUS_BUFFER_TOO_SMALL;
      break;
    }
    for (i = 0; i < inLength / 2; ++i) {
      UCHAR c = buffer[i];
      buffer[i] = buffer[inLength - 1 - i];
      buffer[inLength - 1 - i] = c;
    }
    irp->IoStatus.Information = inLength;
    break;
  case IOCTL_KIT_LATER: {
    LARGE_INTEGER due;
    if (inLength < sizeof(LONG)) {
      status = STATUS_INVALID_PARAMETER;
      break;
    }
    g_action = *(LONG*)buffer;
    KeClearEvent(&g_workDone);
    due.QuadPart = -20 * 10000LL;
    KeSetTimerEx(&g_timer, due, g_action == KIT_LATER_PERIODIC ? 10 : 0, &g_dpc);
    break;
  }
  case IOCTL_KIT_LEAK:
    if (!ExAllocatePoolWithTag(NonPagedPool, 48, 'kaeL')) status = STATUS_INSUFFICIENT_RESOURCES;
    break;
  case IOCTL_KIT_THREAD: {
    HANDLE handle;
    if (g_thread) {
      status = STATUS_DEVICE_BUSY;
      break;
    }
    g_poll = inLength >= sizeof(LONG) && *(LONG*)buffer == 1;
    status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, KitThread, NULL);
    if (NT_SUCCESS(status)) {
      ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, NULL, KernelMode, &g_thread, NULL);
      ZwClose(handle);
    }
    break;
  }
  default:
    status = STATUS_INVALID_DEVICE_REQUEST;
  }
  irp->IoStatus.Status = status;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static VOID KitUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  KeCancelTimer(&g_timer);
  KeFlushQueuedDpcs();
  if (g_action == KIT_LATER_WORK) KeWaitForSingleObject(&g_workDone, Executive, KernelMode, FALSE, NULL);
  if (g_thread) {
    KeSetEvent(&g_stop, 0, FALSE);
    KeWaitForSingleObject(g_thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(g_thread);
  }
  RtlInitUnicodeString(&link, L"\\DosDevices\\KitTarget");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(driver->DeviceObject);
  DbgPrint("kit_target: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING name, link;
  PDEVICE_OBJECT device;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registryPath);
  RtlInitUnicodeString(&name, L"\\Device\\KitTarget");
  RtlInitUnicodeString(&link, L"\\DosDevices\\KitTarget");
  status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(device);
    return status;
  }
  KeInitializeTimer(&g_timer);
  KeInitializeDpc(&g_dpc, KitTimerDpc, NULL);
  KeInitializeEvent(&g_workDone, NotificationEvent, TRUE);
  KeInitializeEvent(&g_stop, NotificationEvent, FALSE);
  driver->MajorFunction[IRP_MJ_CREATE] = KitCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = KitCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = KitDeviceControl;
  driver->DriverUnload = KitUnload;
  DbgPrint("kit_target: loaded\n");
  return STATUS_SUCCESS;
}
