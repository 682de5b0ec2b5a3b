/* A driver for the debugger's tests: a periodic timer whose DPC counts ticks (a frozen machine's
   counter stands still), a global the IOCTL below writes (a hardware write breakpoint's target),
   IOCTLs that break into the debugger (DbgBreakPoint), that dereference NULL (a bugcheck the
   debugger sees first) and that spin at DISPATCH_LEVEL until released (a break-in stops it). \Device\KdTarget, \??\KdTarget. */
#include <ntddk.h>

#define KD_TARGET_IOCTL_WRITE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define KD_TARGET_IOCTL_BREAK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define KD_TARGET_IOCTL_FAULT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define KD_TARGET_IOCTL_SPIN CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD KdTargetUnload;
static DRIVER_DISPATCH KdTargetCreateClose;
static DRIVER_DISPATCH KdTargetDeviceControl;
static KDEFERRED_ROUTINE KdTargetTick;

static KTIMER g_timer;
static KDPC g_dpc;
volatile LONG g_ticks;   /* one more every timer period */
volatile LONG g_watched; /* written by KD_TARGET_IOCTL_WRITE */
volatile LONG g_release; /* KD_TARGET_IOCTL_SPIN spins at DISPATCH_LEVEL until it is set */

static VOID KdTargetTick(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(arg1);
  UNREFERENCED_PARAMETER(arg2);
  InterlockedIncrement(&g_ticks);
}

static LONG WriteWatched(LONG value) {
  g_watched = value;
  return g_watched;
}

static NTSTATUS KdTargetCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS KdTargetDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  NTSTATUS status = STATUS_SUCCESS;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case KD_TARGET_IOCTL_WRITE:
      DbgPrint("kd_target: wrote %ld\n", WriteWatched(g_watched + 1));
      break;
    case KD_TARGET_IOCTL_BREAK:
      DbgPrint("kd_target: breaking in\n");
      DbgBreakPoint();
      DbgPrint("kd_target: back from the break\n");
      break;
    case KD_TARGET_IOCTL_FAULT: {
      volatile LONG* nowhere = NULL;
      *nowhere = 1;
      break;
    }
    case KD_TARGET_IOCTL_SPIN: {
      KIRQL old;
      DbgPrint("kd_target: spinning at DISPATCH_LEVEL until g_release is set\n");
      KeRaiseIrql(DISPATCH_LEVEL, &old);
      while (!g_release) {
      }
      KeLowerIrql(old);
      DbgPrint("kd_target: released\n");
      break;
    }
    default:
      status = STATUS_INVALID_DEVICE_REQUEST;
      break;
  }
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static VOID KdTargetUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  KeCancelTimer(&g_timer);
  KeFlushQueuedDpcs();
  RtlInitUnicodeString(&link, L"\\??\\KdTarget");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING name, link;
  PDEVICE_OBJECT device;
  LARGE_INTEGER due;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registryPath);
  RtlInitUnicodeString(&name, L"\\Device\\KdTarget");
  status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&link, L"\\??\\KdTarget");
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = KdTargetCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = KdTargetCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = KdTargetDeviceControl;
  driver->DriverUnload = KdTargetUnload;
  KeInitializeDpc(&g_dpc, KdTargetTick, NULL);
  KeInitializeTimer(&g_timer);
  due.QuadPart = -10 * 1000 * 5; /* 5 ms, then every 5 ms */
  KeSetTimerEx(&g_timer, due, 5, &g_dpc);
  return STATUS_SUCCESS;
}
