/* A driver with a StartIo routine, written as Microsoft's documentation describes system-queued
   I/O: the dispatch routine marks a request pending and hands it to IoStartPacket with a cancel
   routine; StartIo starts the "hardware"; the device's DPC (IoRequestDpc, fired here by an IOCTL
   standing for the interrupt) completes DeviceObject->CurrentIrp and calls IoStartNextPacket(ByKey).
   The cancel routine takes a queued IRP out with KeRemoveEntryDeviceQueue. DriverEntry checks the
   Ke device-queue routines alone first; each check prints "start_io: NAME ok" or "... FAILED". */
#include <ntddk.h>

#include "start_io_shared.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD StartIoUnload;
static DRIVER_DISPATCH StartIoCreateClose;
static DRIVER_DISPATCH StartIoDeviceControl;
static DRIVER_STARTIO StartIoRoutine;
static DRIVER_CANCEL StartIoCancel;
static IO_DPC_ROUTINE StartIoDpc;

static PDEVICE_OBJECT g_device;
static ULONG g_order, g_depth, g_nextKey;
static START_IO_STATS g_stats;

static void Check(const char *name, int ok, ULONG_PTR detail) {
  if (ok) {
    DbgPrint("start_io: %s ok\n", name);
  } else {
    DbgPrint("start_io: %s FAILED 0x%Ix\n", name, detail);
  }
}

static void Complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* The answer a finished WORK request carries. */
static void Finish(PIRP irp) {
  START_IO_WORK *work = irp->AssociatedIrp.SystemBuffer;
  START_IO_DONE *done = irp->AssociatedIrp.SystemBuffer;
  ULONG key = work->Key;
  done->Key = key;
  done->Order = ++g_order;
  Complete(irp, STATUS_SUCCESS, sizeof *done);
}

static VOID StartIoRoutine(PDEVICE_OBJECT device, PIRP irp) {
  START_IO_WORK *work = irp->AssociatedIrp.SystemBuffer;
  ++g_stats.Started;
  if (++g_depth > g_stats.MaxDepth) g_stats.MaxDepth = g_depth;
  if (KeGetCurrentIrql() != DISPATCH_LEVEL) ++g_stats.WrongIrql;
  if (device->CurrentIrp != irp) ++g_stats.NotCurrent;
  if (work->Immediate) {
    KIRQL irql;
    PDRIVER_CANCEL cancel;
    IoAcquireCancelSpinLock(&irql);
    cancel = IoSetCancelRoutine(irp, NULL);
    IoReleaseCancelSpinLock(irql);
    if (cancel) {
      Finish(irp);
      IoStartNextPacket(device, TRUE);
    }
  }
  /* Otherwise the "hardware" works until the interrupt (FIRE). */
  --g_depth;
}

static VOID StartIoDpc(PKDPC dpc, PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  KIRQL irql;
  PDRIVER_CANCEL cancel;
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  if (!irp || irp != device->CurrentIrp) return;
  IoAcquireCancelSpinLock(&irql);
  cancel = IoSetCancelRoutine(irp, NULL);
  IoReleaseCancelSpinLock(irql);
  if (!cancel) return; /* being cancelled: the cancel routine completes it and starts the next */
  Finish(irp);
  if (g_nextKey) {
    IoStartNextPacketByKey(device, TRUE, g_nextKey);
  } else {
    IoStartNextPacket(device, TRUE);
  }
}

/* Called with the cancel spin lock held. */
static VOID StartIoCancel(PDEVICE_OBJECT device, PIRP irp) {
  if (irp == device->CurrentIrp) {
    IoReleaseCancelSpinLock(irp->CancelIrql);
    IoStartNextPacket(device, TRUE);
  } else {
    KeRemoveEntryDeviceQueue(&device->DeviceQueue, &irp->Tail.Overlay.DeviceQueueEntry);
    IoReleaseCancelSpinLock(irp->CancelIrql);
  }
  ++g_stats.Cancelled;
  Complete(irp, STATUS_CANCELLED, 0);
}

static NTSTATUS StartIoCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  Complete(irp, STATUS_SUCCESS, 0);
  return STATUS_SUCCESS;
}

static NTSTATUS StartIoDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
  case START_IO_IOCTL_WORK: {
    ULONG key;
    if (in < sizeof(START_IO_WORK) || out < sizeof(START_IO_DONE)) break;
    key = ((START_IO_WORK *)buffer)->Key;
    IoMarkIrpPending(irp);
    IoStartPacket(device, irp, key ? &key : NULL, StartIoCancel);
    return STATUS_PENDING;
  }
  case START_IO_IOCTL_FIRE: {
    PIRP current = device->CurrentIrp;
    if (in < sizeof(ULONG)) break;
    if (!current) {
      Complete(irp, STATUS_DEVICE_NOT_READY, 0);
      return STATUS_DEVICE_NOT_READY;
    }
    g_nextKey = *(ULONG *)buffer;
    IoRequestDpc(device, current, NULL);
    Complete(irp, STATUS_SUCCESS, 0);
    return STATUS_SUCCESS;
  }
  case START_IO_IOCTL_STATS:
    if (out < sizeof g_stats) break;
    RtlCopyMemory(buffer, &g_stats, sizeof g_stats);
    Complete(irp, STATUS_SUCCESS, sizeof g_stats);
    return STATUS_SUCCESS;
  }
  Complete(irp, STATUS_INVALID_PARAMETER, 0);
  return STATUS_INVALID_PARAMETER;
}

static VOID StartIoUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING dosName;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\StartIo");
  IoDeleteSymbolicLink(&dosName);
  IoDeleteDevice(g_device);
}

/* The Ke routines alone, at DISPATCH_LEVEL as they require. */
static void CheckDeviceQueue(void) {
  KDEVICE_QUEUE q;
  KDEVICE_QUEUE_ENTRY e[5];
  PKDEVICE_QUEUE_ENTRY r1, r2, r3;
  KIRQL irql;
  BOOLEAN first, second;
  KeInitializeDeviceQueue(&q);
  Check("KeInitializeDeviceQueue", q.Size == sizeof q && !q.Busy && IsListEmpty(&q.DeviceListHead), q.Size);
  KeRaiseIrql(DISPATCH_LEVEL, &irql);
  first = KeInsertDeviceQueue(&q, &e[0]);
  Check("KeInsertDeviceQueue into an idle queue starts at once", !first && q.Busy && !e[0].Inserted, first);
  first = KeInsertDeviceQueue(&q, &e[1]);
  second = KeInsertDeviceQueue(&q, &e[2]);
  KeInsertDeviceQueue(&q, &e[3]);
  Check("KeInsertDeviceQueue into a busy queue", first && second && e[1].Inserted, first);
  Check("KeRemoveEntryDeviceQueue", KeRemoveEntryDeviceQueue(&q, &e[2]) && !e[2].Inserted, 0);
  Check("KeRemoveEntryDeviceQueue of an entry not queued", !KeRemoveEntryDeviceQueue(&q, &e[2]), 0);
  r1 = KeRemoveDeviceQueue(&q);
  r2 = KeRemoveDeviceQueue(&q);
  r3 = KeRemoveDeviceQueue(&q);
  Check("KeRemoveDeviceQueue in order", r1 == &e[1] && r2 == &e[3] && !e[1].Inserted, (ULONG_PTR)r1);
  Check("KeRemoveDeviceQueue of an empty queue idles it", r3 == NULL && !q.Busy, (ULONG_PTR)r3);
  Check("KeRemoveByKeyDeviceQueueIfBusy of an idle queue", KeRemoveByKeyDeviceQueueIfBusy(&q, 0) == NULL && !q.Busy, 0);
  KeInsertByKeyDeviceQueue(&q, &e[0], 50);
  KeInsertByKeyDeviceQueue(&q, &e[1], 30);
  KeInsertByKeyDeviceQueue(&q, &e[2], 10);
  KeInsertByKeyDeviceQueue(&q, &e[3], 30);
  KeInsertByKeyDeviceQueue(&q, &e[4], 20);
  /* Queued: 10 (e2), 20 (e4), 30 (e1), 30 (e3). */
  r1 = KeRemoveByKeyDeviceQueue(&q, 25);
  r2 = KeRemoveByKeyDeviceQueue(&q, 99);
  r3 = KeRemoveDeviceQueue(&q);
  Check("KeRemoveByKeyDeviceQueue: the first key at least the one asked", r1 == &e[1], (ULONG_PTR)r1);
  Check("KeRemoveByKeyDeviceQueue: none that large, the first", r2 == &e[2], (ULONG_PTR)r2);
  Check("KeInsertByKeyDeviceQueue: ascending, equal keys in arrival order", r3 == &e[4] && KeRemoveDeviceQueue(&q) == &e[3],
        (ULONG_PTR)r3);
  Check("KeRemoveByKeyDeviceQueueIfBusy of an empty busy queue", KeRemoveByKeyDeviceQueueIfBusy(&q, 0) == NULL && !q.Busy, 0);
  KeLowerIrql(irql);
}

static void CheckExports(void) {
  static const WCHAR *names[] = {L"KeInitializeDeviceQueue", L"KeInsertDeviceQueue", L"KeInsertByKeyDeviceQueue",
                                 L"KeRemoveDeviceQueue", L"KeRemoveByKeyDeviceQueue", L"KeRemoveByKeyDeviceQueueIfBusy",
                                 L"KeRemoveEntryDeviceQueue", L"IoStartPacket", L"IoStartNextPacket",
                                 L"IoStartNextPacketByKey", L"IoSetStartIoAttributes"};
  ULONG i, found = 0;
  for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, names[i]);
    if (MmGetSystemRoutineAddress(&name)) ++found;
  }
  Check("MmGetSystemRoutineAddress", found == sizeof names / sizeof names[0], found);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING ntName, dosName;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registryPath);
  CheckDeviceQueue();
  CheckExports();
  driver->DriverUnload = StartIoUnload;
  driver->DriverStartIo = StartIoRoutine;
  driver->MajorFunction[IRP_MJ_CREATE] = StartIoCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = StartIoCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = StartIoDeviceControl;
  RtlInitUnicodeString(&ntName, L"\\Device\\StartIo");
  status = IoCreateDevice(driver, 0, &ntName, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  g_device->Flags |= DO_BUFFERED_IO;
  Check("IoCreateDevice initializes the device queue", !g_device->DeviceQueue.Busy &&
        IsListEmpty(&g_device->DeviceQueue.DeviceListHead) && g_device->DeviceQueue.Size == sizeof(KDEVICE_QUEUE), 0);
  IoInitializeDpcRequest(g_device, StartIoDpc);
  /* A StartIo that starts the next IRP itself does not recurse. */
  IoSetStartIoAttributes(g_device, TRUE, FALSE);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\StartIo");
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  g_device->Flags &= ~DO_DEVICE_INITIALIZING;
  DbgPrint("start_io: done\n");
  return STATUS_SUCCESS;
}
