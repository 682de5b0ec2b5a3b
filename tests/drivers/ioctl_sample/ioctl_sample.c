/* An IOCTL driver equivalent to seed 002's sioctl.sys: a named device with a DOS link,
   create/close, one IOCTL per transfer method, and unload. Built twice: with gcc, and with clang
   (-fms-extensions) where the user buffers of METHOD_NEITHER and the MDL locking sit in
   __try/__except as the WDK sample has them. */
#include <ntddk.h>

#include "ioctl_shared.h"

#if defined(__clang__)
#define TRY __try
#define EXCEPT(status_var) __except (EXCEPTION_EXECUTE_HANDLER) { status_var = GetExceptionCode(); }
#define HAS_SEH 1
#else
#define TRY if (1)
#define EXCEPT(status_var) else {}
#define HAS_SEH 0
#endif

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SampleUnload;
static DRIVER_DISPATCH SampleCreateClose;
static DRIVER_DISPATCH SampleDeviceControl;

static void PrintChars(const char* label, const char* buffer, size_t length) {
  size_t shown = 0;
  while (shown < length && buffer[shown]) ++shown;  /* up to the first NUL */
  DbgPrint("ioctl_sample: %s (%u bytes): \"%.*s\"\n", label, (unsigned)length, (int)shown, buffer);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING ntName, dosName;
  PDEVICE_OBJECT device = NULL;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);

  RtlInitUnicodeString(&ntName, SIOCTL_NT_DEVICE_NAME);
  status = IoCreateDevice(DriverObject, 0, &ntName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
  if (!NT_SUCCESS(status)) {
    DbgPrint("ioctl_sample: IoCreateDevice failed %08X\n", status);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = SampleCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = SampleCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SampleDeviceControl;
  DriverObject->DriverUnload = SampleUnload;

  RtlInitUnicodeString(&dosName, SIOCTL_DOS_DEVICE_NAME);
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (!NT_SUCCESS(status)) {
    DbgPrint("ioctl_sample: IoCreateSymbolicLink failed %08X\n", status);
    IoDeleteDevice(device);
    return status;
  }
  DbgPrint("ioctl_sample: loaded (%s build), device %wZ, link %wZ\n", HAS_SEH ? "clang/SEH" : "gcc", &ntName,
           &dosName);
  return STATUS_SUCCESS;
}

static NTSTATUS SampleCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
  UNREFERENCED_PARAMETER(DeviceObject);
  PAGED_CODE();
  DbgPrint("ioctl_sample: %s\n", sl->MajorFunction == IRP_MJ_CREATE ? "IRP_MJ_CREATE" : "IRP_MJ_CLOSE");
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = 0;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

/* Writes the reply into out (capacity bytes); returns how many bytes it wrote. */
static ULONG Reply(char* out, ULONG capacity) {
  static const char reply[] = SIOCTL_REPLY;
  ULONG n = sizeof reply < capacity ? (ULONG)sizeof reply : capacity;
  RtlCopyMemory(out, reply, n);
  return n;
}

static NTSTATUS SampleDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
  ULONG inLength = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG outLength = sl->Parameters.DeviceIoControl.OutputBufferLength;
  NTSTATUS status = STATUS_SUCCESS;
  ULONG_PTR information = 0;
  char* in;
  char* out;
  UNREFERENCED_PARAMETER(DeviceObject);
  PAGED_CODE();

  if (!inLength || !outLength) {
    status = STATUS_INVALID_PARAMETER;
    goto done;
  }
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SIOCTL_METHOD_BUFFERED:
      DbgPrint("ioctl_sample: METHOD_BUFFERED\n");
      in = Irp->AssociatedIrp.SystemBuffer;
      PrintChars("input", in, inLength);
      information = Reply(Irp->AssociatedIrp.SystemBuffer, outLength);
      PrintChars("output", Irp->AssociatedIrp.SystemBuffer, information);
      break;

    case IOCTL_SIOCTL_METHOD_NEITHER: {
      PMDL mdl = NULL;
      DbgPrint("ioctl_sample: METHOD_NEITHER\n");
      in = sl->Parameters.DeviceIoControl.Type3InputBuffer;
      out = Irp->UserBuffer;
      TRY {
        if (Irp->RequestorMode != KernelMode) {
          ProbeForRead(in, inLength, sizeof(UCHAR));
          ProbeForWrite(out, outLength, sizeof(UCHAR));
        }
        PrintChars("input", in, inLength);
        mdl = IoAllocateMdl(out, outLength, FALSE, TRUE, NULL);
        if (!mdl) {
          status = STATUS_INSUFFICIENT_RESOURCES;
        } else {
          MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);
          char* system = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
          if (!system) {
            status = STATUS_INSUFFICIENT_RESOURCES;
          } else {
            information = Reply(system, outLength);
            PrintChars("output", system, information);
          }
          MmUnlockPages(mdl);
        }
      }
      EXCEPT(status)
      if (mdl) IoFreeMdl(mdl);
      if (!NT_SUCCESS(status)) {
        DbgPrint("ioctl_sample: METHOD_NEITHER buffers rejected: %08X\n", status);
        information = 0;
      }
      break;
    }

    case IOCTL_SIOCTL_METHOD_IN_DIRECT:
    case IOCTL_SIOCTL_METHOD_OUT_DIRECT: {
      BOOLEAN inDirect = sl->Parameters.DeviceIoControl.IoControlCode == IOCTL_SIOCTL_METHOD_IN_DIRECT;
      DbgPrint("ioctl_sample: %s\n", inDirect ? "METHOD_IN_DIRECT" : "METHOD_OUT_DIRECT");
      in = Irp->AssociatedIrp.SystemBuffer;
      PrintChars("input", in, inLength);
      out = Irp->MdlAddress ? MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority)
                            : NULL;
      if (!out) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        break;
      }
      if (inDirect) {
        /* IN_DIRECT: the MDL describes a second input buffer the driver reads. */
        PrintChars("second input", out, MmGetMdlByteCount(Irp->MdlAddress));
        information = MmGetMdlByteCount(Irp->MdlAddress);
      } else {
        information = Reply(out, outLength);
        PrintChars("output", out, information);
      }
      break;
    }

    case IOCTL_SIOCTL_FAULT: {
      volatile ULONG* nowhere = NULL;
      DbgPrint("ioctl_sample: about to touch a NULL pointer\n");
      *nowhere = 0xDEAD;
      break;
    }

    default:
      status = STATUS_INVALID_DEVICE_REQUEST;
      DbgPrint("ioctl_sample: unknown IOCTL %08X\n", sl->Parameters.DeviceIoControl.IoControlCode);
      break;
  }
done:
  Irp->IoStatus.Status = status;
  Irp->IoStatus.Information = information;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return status;
}

static VOID SampleUnload(PDRIVER_OBJECT DriverObject) {
  UNICODE_STRING dosName;
  PAGED_CODE();
  RtlInitUnicodeString(&dosName, SIOCTL_DOS_DEVICE_NAME);
  IoDeleteSymbolicLink(&dosName);
  if (DriverObject->DeviceObject) IoDeleteDevice(DriverObject->DeviceObject);
  DbgPrint("ioctl_sample: unloaded\n");
}
