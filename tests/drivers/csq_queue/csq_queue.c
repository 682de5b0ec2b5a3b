/* A cancel-safe queue served by a system thread. CSQ_IOCTL_HOLD requests wait in the queue
   (pending); CSQ_IOCTL_RELEASE counts a semaphore up and the worker thread completes that many of
   the oldest; the app cancels others (CancelIoEx, or by exiting) and the queue completes them as
   cancelled. Unload stops the worker and finds the queue empty. */
#include <ntddk.h>

#include "csq_shared.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD CsqUnload;
static DRIVER_DISPATCH CsqCreateClose;
static DRIVER_DISPATCH CsqDeviceControl;

static PDEVICE_OBJECT g_device;
static IO_CSQ g_csq;
static LIST_ENTRY g_queue;
static KSPIN_LOCK g_queueLock;
static KSEMAPHORE g_work;    /* one count per request to complete */
static KEVENT g_stop;
static PVOID g_worker;       /* the worker's thread object */
static volatile LONG g_inserted, g_completed, g_cancelled, g_pending, g_sequence;

static VOID CsqInsert(PIO_CSQ csq, PIRP irp) {
  UNREFERENCED_PARAMETER(csq);
  InsertTailList(&g_queue, &irp->Tail.Overlay.ListEntry);
  InterlockedIncrement(&g_pending);
}

static VOID CsqRemove(PIO_CSQ csq, PIRP irp) {
  UNREFERENCED_PARAMETER(csq);
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
  InterlockedDecrement(&g_pending);
}

static PIRP CsqPeekNext(PIO_CSQ csq, PIRP irp, PVOID context) {
  PLIST_ENTRY next = irp ? irp->Tail.Overlay.ListEntry.Flink : g_queue.Flink;
  UNREFERENCED_PARAMETER(csq);
  UNREFERENCED_PARAMETER(context);
  return next == &g_queue ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}

static VOID CsqAcquireLock(PIO_CSQ csq, PKIRQL irql) {
  UNREFERENCED_PARAMETER(csq);
  KeAcquireSpinLock(&g_queueLock, irql);
}

static VOID CsqReleaseLock(PIO_CSQ csq, KIRQL irql) {
  UNREFERENCED_PARAMETER(csq);
  KeReleaseSpinLock(&g_queueLock, irql);
}

static VOID CsqCompleteCanceled(PIO_CSQ csq, PIRP irp) {
  UNREFERENCED_PARAMETER(csq);
  InterlockedIncrement(&g_cancelled);
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* Completes one queued request per semaphore count until the stop event. */
static VOID Worker(PVOID context) {
  PVOID objects[2];
  UNREFERENCED_PARAMETER(context);
  objects[0] = &g_stop;
  objects[1] = &g_work;
  for (;;) {
    NTSTATUS status = KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
    PIRP irp;
    if (status == STATUS_WAIT_0) break;
    irp = IoCsqRemoveNextIrp(&g_csq, NULL);
    if (!irp) continue; /* cancelled meanwhile */
    *(ULONG *)irp->AssociatedIrp.SystemBuffer = (ULONG)InterlockedIncrement(&g_sequence);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = sizeof(ULONG);
    InterlockedIncrement(&g_completed);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static NTSTATUS Complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS CsqDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  const ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
  const ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case CSQ_IOCTL_HOLD:
      if (out < sizeof(ULONG)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      InterlockedIncrement(&g_inserted);
      IoCsqInsertIrp(&g_csq, irp, NULL);
      return STATUS_PENDING;
    case CSQ_IOCTL_RELEASE: {
      LONG n;
      if (in < sizeof(ULONG)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      n = *(LONG *)irp->AssociatedIrp.SystemBuffer;
      if (n > 0) KeReleaseSemaphore(&g_work, IO_NO_INCREMENT, n, FALSE);
      return Complete(irp, STATUS_SUCCESS, 0);
    }
    case CSQ_IOCTL_STATS: {
      CSQ_STATS *stats = (CSQ_STATS *)irp->AssociatedIrp.SystemBuffer;
      if (out < sizeof(CSQ_STATS)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      stats->Inserted = (unsigned)g_inserted;
      stats->Completed = (unsigned)g_completed;
      stats->Cancelled = (unsigned)g_cancelled;
      stats->Pending = (unsigned)g_pending;
      return Complete(irp, STATUS_SUCCESS, sizeof(CSQ_STATS));
    }
  }
  return Complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

/* A read is held like CSQ_IOCTL_HOLD (ReadFileEx's completion routine runs when the worker or a
   cancel completes it). */
static NTSTATUS CsqRead(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.Read.Length < sizeof(ULONG)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  InterlockedIncrement(&g_inserted);
  IoCsqInsertIrp(&g_csq, irp, NULL);
  return STATUS_PENDING;
}

static NTSTATUS CsqCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return Complete(irp, STATUS_SUCCESS, 0);
}

static VOID CsqUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING dosName;
  UNREFERENCED_PARAMETER(driver);
  KeSetEvent(&g_stop, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(g_worker, Executive, KernelMode, FALSE, NULL);
  ObDereferenceObject(g_worker);
  DbgPrint("csq_queue: unloaded; inserted %ld completed %ld cancelled %ld pending %ld\n", g_inserted, g_completed,
           g_cancelled, g_pending);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\CsqQueue");
  IoDeleteSymbolicLink(&dosName);
  IoDeleteDevice(g_device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING ntName, dosName;
  HANDLE thread;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registryPath);
  InitializeListHead(&g_queue);
  KeInitializeSpinLock(&g_queueLock);
  KeInitializeSemaphore(&g_work, 0, MAXLONG);
  KeInitializeEvent(&g_stop, NotificationEvent, FALSE);
  IoCsqInitialize(&g_csq, CsqInsert, CsqRemove, CsqPeekNext, CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceled);
  RtlInitUnicodeString(&ntName, L"\\Device\\CsqQueue");
  status = IoCreateDevice(driver, 0, &ntName, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  g_device->Flags |= DO_BUFFERED_IO; /* reads get a system buffer, as the worker writes one */
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\CsqQueue");
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (NT_SUCCESS(status)) {
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, Worker, NULL);
    if (NT_SUCCESS(status)) {
      status = ObReferenceObjectByHandle(thread, SYNCHRONIZE, *PsThreadType, KernelMode, &g_worker, NULL);
      ZwClose(thread);
    }
    if (!NT_SUCCESS(status)) IoDeleteSymbolicLink(&dosName);
  }
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = CsqCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CsqCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CsqDeviceControl;
  driver->MajorFunction[IRP_MJ_READ] = CsqRead;
  driver->DriverUnload = CsqUnload;
  return STATUS_SUCCESS;
}
