/* Seed 003: a periodic timer whose DPC runs at DISPATCH_LEVEL and must log to a file.
   Built twice. TIMER_LOG_IN_DPC: the DPC opens the file itself (ZwCreateFile at DISPATCH_LEVEL:
   the machine stops with IRQL_NOT_LESS_OR_EQUAL). Otherwise the fix from the seed: the DPC queues
   ExQueueWorkItem(..., DelayedWorkQueue) and the work item writes the line at PASSIVE_LEVEL.
   \Device\TimerLog answers TIMER_LOG_IOCTL_WAIT once TIMER_LOG_TICKS lines are written. */
#include <ntddk.h>
#include <stdio.h>

#include "timer_log_shared.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD TimerLogUnload;
static DRIVER_DISPATCH TimerLogCreateClose;
static DRIVER_DISPATCH TimerLogDeviceControl;
static KDEFERRED_ROUTINE TimerLogDpc;

static KTIMER g_timer;
static KDPC g_dpc;
static KEVENT g_done;       /* the ticks are written */
static KEVENT g_idle;       /* no work item is queued or running */
static LONG g_queuedTicks;  /* work items queued so far */
static LONG g_pending;      /* work items not finished */
static LONG g_written;
static KIRQL g_dpcIrql, g_workerIrql;
static NTSTATUS g_writeStatus;
static PDEVICE_OBJECT g_device;

static const WCHAR kLogName[] = L"\\??\\C:\\timer_log.txt";

typedef struct TICK_ITEM {
  WORK_QUEUE_ITEM Item;
  LONG Tick;
} TICK_ITEM;

static NTSTATUS AppendLine(LONG tick) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES attributes;
  IO_STATUS_BLOCK iosb;
  HANDLE file;
  LARGE_INTEGER end;
  CHAR line[64];
  NTSTATUS status;
  RtlInitUnicodeString(&name, kLogName);
  InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
  status = ZwCreateFile(&file, FILE_APPEND_DATA | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                        FILE_SHARE_READ, FILE_OPEN_IF, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
  if (!NT_SUCCESS(status)) return status;
  _snprintf(line, sizeof line, "tick %ld at IRQL %u\r\n", tick, (unsigned)KeGetCurrentIrql());
  end.HighPart = -1;
  end.LowPart = FILE_WRITE_TO_END_OF_FILE;
  status = ZwWriteFile(file, NULL, NULL, NULL, &iosb, line, (ULONG)strlen(line), &end, NULL);
  ZwClose(file);
  return status;
}

/* PASSIVE_LEVEL, in a system worker thread: file I/O is allowed here. */
static VOID LogTick(PVOID parameter) {
  TICK_ITEM* tick = (TICK_ITEM*)parameter;
  g_workerIrql = KeGetCurrentIrql();
  g_writeStatus = AppendLine(tick->Tick);
  DbgPrint("timer_log: tick %ld written at IRQL %u (status %08X)\n", tick->Tick, (unsigned)g_workerIrql,
           g_writeStatus);
  if (NT_SUCCESS(g_writeStatus) && InterlockedIncrement(&g_written) == TIMER_LOG_TICKS) KeSetEvent(&g_done, 0, FALSE);
  ExFreePoolWithTag(tick, 'gLmT');
  if (InterlockedDecrement(&g_pending) == 0) KeSetEvent(&g_idle, 0, FALSE);
}

/* DISPATCH_LEVEL: no file I/O, no waiting. */
static VOID TimerLogDpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2) {
  LONG tick;
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(arg1);
  UNREFERENCED_PARAMETER(arg2);
  g_dpcIrql = KeGetCurrentIrql();
#ifdef TIMER_LOG_IN_DPC
  /* The mistake the seed describes: ZwCreateFile is for PASSIVE_LEVEL only. */
  (void)AppendLine(0);
#endif
  tick = InterlockedIncrement(&g_queuedTicks);
  if (tick > TIMER_LOG_TICKS) {
    KeCancelTimer(&g_timer);
    return;
  }
  {
    TICK_ITEM* item = (TICK_ITEM*)ExAllocatePoolWithTag(NonPagedPool, sizeof(TICK_ITEM), 'gLmT');
    if (!item) return;
    item->Tick = tick;
    InterlockedIncrement(&g_pending);
    KeClearEvent(&g_idle);
    ExInitializeWorkItem(&item->Item, LogTick, item);
    ExQueueWorkItem(&item->Item, DelayedWorkQueue);
  }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING ntName, dosName;
  LARGE_INTEGER due;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  RtlInitUnicodeString(&ntName, L"\\Device\\TimerLog");
  status = IoCreateDevice(DriverObject, 0, &ntName, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\TimerLog");
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = TimerLogCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = TimerLogCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TimerLogDeviceControl;
  DriverObject->DriverUnload = TimerLogUnload;

  KeInitializeEvent(&g_done, NotificationEvent, FALSE);
  KeInitializeEvent(&g_idle, NotificationEvent, TRUE);
  KeInitializeDpc(&g_dpc, TimerLogDpc, NULL);
  KeInitializeTimer(&g_timer);
  due.QuadPart = -10 * 1000 * 20; /* 20 ms, then every 20 ms */
  KeSetTimerEx(&g_timer, due, 20, &g_dpc);
  DbgPrint("timer_log: timer set (%s)\n",
#ifdef TIMER_LOG_IN_DPC
           "the DPC writes the file itself"
#else
           "the DPC queues a work item"
#endif
  );
  return STATUS_SUCCESS;
}

static NTSTATUS TimerLogCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  UNREFERENCED_PARAMETER(DeviceObject);
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS TimerLogDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  ULONG_PTR information = 0;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (sl->Parameters.DeviceIoControl.IoControlCode == TIMER_LOG_IOCTL_WAIT) {
    if (sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(TIMER_LOG_RESULT)) {
      status = STATUS_BUFFER_TOO_SMALL;
    } else {
      /* Waits at PASSIVE_LEVEL while the DPC and the work items run on other threads. */
      LARGE_INTEGER timeout;
      timeout.QuadPart = -10LL * 1000 * 1000 * 10; /* 10 s */
      status = KeWaitForSingleObject(&g_done, Executive, KernelMode, FALSE, &timeout);
      if (status == STATUS_SUCCESS) {
        TIMER_LOG_RESULT* r = (TIMER_LOG_RESULT*)Irp->AssociatedIrp.SystemBuffer;
        r->Ticks = (unsigned long)g_written;
        r->DpcIrql = g_dpcIrql;
        r->WorkerIrql = g_workerIrql;
        r->WriteStatus = (unsigned long)g_writeStatus;
        information = sizeof(TIMER_LOG_RESULT);
      }
    }
  }
  Irp->IoStatus.Status = status;
  Irp->IoStatus.Information = information;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

static VOID TimerLogUnload(PDRIVER_OBJECT DriverObject) {
  UNICODE_STRING dosName;
  /* Nothing of ours may run after unload: the timer, a queued DPC, a queued work item. */
  KeCancelTimer(&g_timer);
  KeFlushQueuedDpcs();
  KeWaitForSingleObject(&g_idle, Executive, KernelMode, FALSE, NULL);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\TimerLog");
  IoDeleteSymbolicLink(&dosName);
  IoDeleteDevice(DriverObject->DeviceObject);
  DbgPrint("timer_log: unloaded\n");
}
