/* Devices made with IoCreateDeviceSecure (the WDK's wdmsec, from the ntbox SDK) and the SDDL strings
   Microsoft documents, one per rule, each with a \DosDevices link; secdev_app.exe opens them. A
   malformed SDDL string makes no device. Prints "secure_device: NAME ok" or "... FAILED". */
#include <ntddk.h>
#include <wdmsec.h>

DRIVER_INITIALIZE DriverEntry;

static PDEVICE_OBJECT g_devices[4];
static const WCHAR *const kNames[4] = {L"SecKernelOnly", L"SecSysAll", L"SecAdmAll", L"SecAdmRx"};

static void Check(const char *name, int ok, ULONG_PTR detail) {
  if (ok) {
    DbgPrint("secure_device: %s ok\n", name);
  } else {
    DbgPrint("secure_device: %s FAILED 0x%Ix\n", name, detail);
  }
}

static NTSTATUS CreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static void Paths(int i, PUNICODE_STRING device, PUNICODE_STRING link, WCHAR *deviceBuffer, WCHAR *linkBuffer) {
  RtlInitEmptyUnicodeString(device, deviceBuffer, 64 * sizeof(WCHAR));
  RtlInitEmptyUnicodeString(link, linkBuffer, 64 * sizeof(WCHAR));
  RtlAppendUnicodeToString(device, L"\\Device\\");
  RtlAppendUnicodeToString(device, kNames[i]);
  RtlAppendUnicodeToString(link, L"\\DosDevices\\");
  RtlAppendUnicodeToString(link, kNames[i]);
}

static VOID Unload(PDRIVER_OBJECT driver) {
  int i;
  UNREFERENCED_PARAMETER(driver);
  for (i = 0; i < 4; ++i) {
    UNICODE_STRING device, link;
    WCHAR a[64], b[64];
    Paths(i, &device, &link, a, b);
    if (g_devices[i]) {
      IoDeleteSymbolicLink(&link);
      IoDeleteDevice(g_devices[i]);
    }
  }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  PCUNICODE_STRING sddl[4] = {&SDDL_DEVOBJ_KERNEL_ONLY, &SDDL_DEVOBJ_SYS_ALL, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL,
                              &SDDL_DEVOBJ_SYS_ALL_ADM_RX};
  UNICODE_STRING bad, name;
  PDEVICE_OBJECT none = NULL;
  NTSTATUS s;
  int i, made = 0;
  UNREFERENCED_PARAMETER(registryPath);
  for (i = 0; i < 4; ++i) {
    UNICODE_STRING device, link;
    WCHAR a[64], b[64];
    Paths(i, &device, &link, a, b);
    s = IoCreateDeviceSecure(driver, 0, &device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, sddl[i], NULL,
                             &g_devices[i]);
    if (!NT_SUCCESS(s)) break;
    g_devices[i]->Flags &= ~DO_DEVICE_INITIALIZING;
    IoCreateSymbolicLink(&link, &device);
    ++made;
  }
  Check("IoCreateDeviceSecure with the documented SDDL strings", made == 4, s);
  RtlInitUnicodeString(&bad, L"D:P(A;;ZZ;;;SY)");
  RtlInitUnicodeString(&name, L"\\Device\\SecBad");
  s = IoCreateDeviceSecure(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &bad, NULL, &none);
  Check("IoCreateDeviceSecure with malformed SDDL", s == STATUS_INVALID_PARAMETER && none == NULL, s);
  driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
  driver->DriverUnload = Unload;
  DbgPrint("secure_device: done\n");
  return STATUS_SUCCESS;
}
