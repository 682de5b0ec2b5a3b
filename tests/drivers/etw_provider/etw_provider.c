/* An ETW provider and a WPP (classic) provider, written as Microsoft documents them and as
   tracewpp's kernel-mode output does by hand (mingw has no tracewpp): EtwRegister with an enable
   callback and the provider's name in its traits, EtwEventEnabled before each EtwWrite,
   EtwWriteString, and EtwRegisterClassicProvider whose callback gets the logger handle for
   WmiTraceMessage. IOCTL 0x223004 (ETW_IOCTL_FIRE) writes the events; the enable callbacks print
   what a session asked for. */
#include <ntddk.h>

#define ETW_IOCTL_FIRE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC01, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* 0x223008: 3000 events of 32 KiB each, more than a session keeps. */
#define ETW_IOCTL_FLOOD CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC02, METHOD_BUFFERED, FILE_ANY_ACCESS)

NTKERNELAPI NTSTATUS NTAPI EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                             ULONG InformationLength);
/* evntrace.h's TRACE_ENABLE_CONTEXT: what a classic provider's callback is handed. */
typedef struct {
  USHORT LoggerId;
  UCHAR Level;
  UCHAR InternalFlag;
  ULONG EnableFlags;
} TRACE_ENABLE_CONTEXT, *PTRACE_ENABLE_CONTEXT;
typedef VOID (NTAPI *CLASSIC_CALLBACK)(LPCGUID Guid, UCHAR ControlCode, PVOID EnableContext, PVOID CallbackContext);
NTKERNELAPI NTSTATUS NTAPI EtwRegisterClassicProvider(LPCGUID ProviderGuid, ULONG Type, CLASSIC_CALLBACK EnableCallback,
                                                      PVOID CallbackContext, PREGHANDLE RegHandle);
NTKERNELAPI NTSTATUS __cdecl WmiTraceMessage(ULONG64 LoggerHandle, ULONG MessageFlags, LPCGUID MessageGuid,
                                             USHORT MessageNumber, ...);

/* {8E9F5A3C-1B2D-4C6E-9F01-23456789ABCD}: the manifest provider. */
static const GUID kProvider = {0x8e9f5a3c, 0x1b2d, 0x4c6e, {0x9f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd}};
/* {5B0E7C11-2A3B-4D5E-8F90-A1B2C3D4E5F6}: the WPP control GUID; its messages' GUID below. */
static const GUID kWppControl = {0x5b0e7c11, 0x2a3b, 0x4d5e, {0x8f, 0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}};
static const GUID kWppMessages = {0x0d1e2f30, 0x4152, 0x6374, {0x85, 0x96, 0xa7, 0xb8, 0xc9, 0xda, 0xeb, 0xfc}};

static PDEVICE_OBJECT g_device;
static REGHANDLE g_provider, g_wpp;
/* What WPP's generated code keeps per control GUID. */
static struct {
  ULONG64 Logger;
  UCHAR Level;
  ULONG Flags;
} g_wppControl;

static VOID NTAPI EnableCallback(LPCGUID source, ULONG code, UCHAR level, ULONGLONG any, ULONGLONG all,
                                 PEVENT_FILTER_DESCRIPTOR filter,
                                 PVOID context) {
  UNREFERENCED_PARAMETER(source);
  UNREFERENCED_PARAMETER(filter);
  UNREFERENCED_PARAMETER(context);
  if (code == 1) {
    DbgPrint("etw_provider: enabled level %u keywords 0x%I64x all 0x%I64x\n", level, any, all);
  } else {
    DbgPrint("etw_provider: disabled\n");
  }
}

static VOID NTAPI ClassicCallback(LPCGUID guid, UCHAR code, PVOID enableContext, PVOID context) {
  UNREFERENCED_PARAMETER(guid);
  UNREFERENCED_PARAMETER(context);
  if (code == 4 /* WMI_ENABLE_EVENTS */) {
    PTRACE_ENABLE_CONTEXT c = enableContext;
    g_wppControl.Logger = *(ULONG64 *)enableContext;
    g_wppControl.Level = c->Level;
    g_wppControl.Flags = c->EnableFlags;
    DbgPrint("etw_provider: WPP enabled logger %u level %u flags 0x%lx\n", c->LoggerId, c->Level, c->EnableFlags);
  } else {
    g_wppControl.Logger = 0;
    DbgPrint("etw_provider: WPP disabled\n");
  }
}

static void Fire(void) {
  EVENT_DESCRIPTOR info, verbose, other;
  EVENT_DATA_DESCRIPTOR data[2];
  ULONG answer = 42;
  static const WCHAR hello[] = L"hello";
  ULONG written = 0;
  RtlZeroMemory(&info, sizeof info);
  info.Id = 1;
  info.Level = 4; /* TRACE_LEVEL_INFORMATION */
  info.Keyword = 0x1;
  verbose = info;
  verbose.Id = 2;
  verbose.Level = 5;
  other = info;
  other.Id = 3;
  other.Keyword = 0x2;
  EventDataDescCreate(&data[0], &answer, sizeof answer);
  EventDataDescCreate(&data[1], hello, sizeof hello);
  if (EtwEventEnabled(g_provider, &info)) {
    EtwWrite(g_provider, &info, NULL, 2, data);
    ++written;
  }
  if (EtwEventEnabled(g_provider, &verbose)) {
    EtwWrite(g_provider, &verbose, NULL, 2, data);
    ++written;
  }
  if (EtwEventEnabled(g_provider, &other)) {
    EtwWrite(g_provider, &other, NULL, 2, data);
    ++written;
  }
  /* Written whatever was enabled: ETW drops what no session wants. */
  EtwWrite(g_provider, &verbose, NULL, 1, data);
  EtwWriteString(g_provider, 4, 0x1, NULL, L"a plain string");
  /* DoTraceMessage(FLAG_ONE, "answer %d %s", answer, "text"), as tracewpp expands it. */
  if (g_wppControl.Logger && (g_wppControl.Flags & 0x1)) {
    WmiTraceMessage(g_wppControl.Logger, 0x3 /* TRACE_MESSAGE_SEQUENCE | TRACE_MESSAGE_GUID */, &kWppMessages, 10,
                    &answer, sizeof answer, "text", (SIZE_T)5, NULL);
  }
  DbgPrint("etw_provider: fired, %lu enabled\n", written);
}

static void Flood(void) {
  EVENT_DESCRIPTOR d;
  EVENT_DATA_DESCRIPTOR data;
  PVOID payload = ExAllocatePoolWithTag(NonPagedPoolNx, 32 * 1024, 'dolF');
  ULONG i;
  if (!payload) return;
  RtlFillMemory(payload, 32 * 1024, 0xAB);
  RtlZeroMemory(&d, sizeof d);
  d.Id = 9;
  d.Level = 4;
  d.Keyword = 0x1;
  EventDataDescCreate(&data, payload, 32 * 1024);
  for (i = 0; i < 3000; ++i) EtwWrite(g_provider, &d, NULL, 1, &data);
  ExFreePoolWithTag(payload, 'dolF');
}

static NTSTATUS Complete(PIRP irp, NTSTATUS status) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS CreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return Complete(irp, STATUS_SUCCESS);
}

static NTSTATUS DeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  ULONG code = IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.IoControlCode;
  UNREFERENCED_PARAMETER(device);
  if (code == ETW_IOCTL_FIRE) {
    Fire();
  } else if (code == ETW_IOCTL_FLOOD) {
    Flood();
  } else {
    return Complete(irp, STATUS_INVALID_DEVICE_REQUEST);
  }
  return Complete(irp, STATUS_SUCCESS);
}

static VOID Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  EtwUnregister(g_provider);
  EtwUnregister(g_wpp);
  RtlInitUnicodeString(&link, L"\\DosDevices\\EtwProvider");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  /* Traits: their size, then the provider's name (UTF-8, NUL-terminated). */
  static const struct {
    USHORT Size;
    char Name[13];
  } traits = {sizeof traits, "NtboxEtwTest"};
  UNICODE_STRING name, link;
  NTSTATUS s;
  UNREFERENCED_PARAMETER(registryPath);
  s = EtwRegister(&kProvider, EnableCallback, NULL, &g_provider);
  if (!NT_SUCCESS(s)) return s;
  EtwSetInformation(g_provider, 2 /* EventProviderSetTraits */, (PVOID)&traits, sizeof traits);
  s = EtwRegisterClassicProvider(&kWppControl, 0, ClassicCallback, NULL, &g_wpp);
  if (!NT_SUCCESS(s)) {
    EtwUnregister(g_provider);
    return s;
  }
  RtlInitUnicodeString(&name, L"\\Device\\EtwProvider");
  s = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(s)) {
    EtwUnregister(g_provider);
    EtwUnregister(g_wpp);
    return s;
  }
  g_device->Flags |= DO_BUFFERED_IO;
  g_device->Flags &= ~DO_DEVICE_INITIALIZING;
  RtlInitUnicodeString(&link, L"\\DosDevices\\EtwProvider");
  IoCreateSymbolicLink(&link, &name);
  driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
  driver->DriverUnload = Unload;
  DbgPrint("etw_provider: registered\n");
  return STATUS_SUCCESS;
}
