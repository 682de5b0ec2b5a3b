/* Registry callbacks as Microsoft's documentation (and its RegFltr sample) uses them: a guard at
   altitude 380000 (CmRegisterCallbackEx) blocks a value ("Blocked") and a key's deletion
   ("Protected") under HKLM\SOFTWARE\RegCbTest, redirects opens of ...\Redirected to ...\Target
   (STATUS_CALLBACK_BYPASS with a ResultObject), answers queries of "Virtual" itself, and keeps an
   object context on each key it watches; an observer (CmRegisterCallback, below it) counts what
   reaches it. regcb_app.exe, a driver's own Zw calls and `ntbox reg` are the callers. Each check
   prints "reg_callbacks: NAME ok" or "... FAILED". */
#include <ntddk.h>

#include "regcb_shared.h"

#ifndef STATUS_CALLBACK_BYPASS
#define STATUS_CALLBACK_BYPASS ((NTSTATUS)0xC0000503L)
#endif
#define TAG 'bCgR'

__declspec(dllimport) extern POBJECT_TYPE *CmKeyObjectType;
NTKERNELAPI NTSTATUS NTAPI CmCallbackGetKeyObjectIDEx(PLARGE_INTEGER Cookie, PVOID Object, PULONG_PTR ObjectID,
                                                     PCUNICODE_STRING *ObjectName, ULONG Flags);
NTKERNELAPI VOID NTAPI CmCallbackReleaseKeyObjectIDEx(PCUNICODE_STRING ObjectName);

DRIVER_INITIALIZE DriverEntry;

static PDEVICE_OBJECT g_device;
static LARGE_INTEGER g_guard, g_observer;
static REGCB_STATS g_stats;
static int g_callMarker;
static const WCHAR kWatched[] = L"\\REGISTRY\\MACHINE\\SOFTWARE\\RegCbTest";

static void Check(const char *name, int ok, ULONG_PTR detail) {
  if (ok) {
    DbgPrint("reg_callbacks: %s ok\n", name);
  } else {
    DbgPrint("reg_callbacks: %s FAILED 0x%Ix\n", name, detail);
  }
}

static BOOLEAN EndsWith(PCUNICODE_STRING s, PCWSTR suffix) {
  UNICODE_STRING tail, end;
  RtlInitUnicodeString(&end, suffix);
  if (!s || s->Length < end.Length) return FALSE;
  tail.Buffer = s->Buffer + (s->Length - end.Length) / sizeof(WCHAR);
  tail.Length = tail.MaximumLength = end.Length;
  return RtlEqualUnicodeString(&tail, &end, TRUE);
}

/* Whether the key object is the watched key or below it. */
static BOOLEAN Watched(PVOID object) {
  PCUNICODE_STRING name = NULL;
  ULONG_PTR id;
  UNICODE_STRING prefix;
  BOOLEAN watched = FALSE;
  if (!object || !NT_SUCCESS(CmCallbackGetKeyObjectIDEx(&g_guard, object, &id, &name, 0))) return FALSE;
  RtlInitUnicodeString(&prefix, L"\\REGISTRY\\");
  if (!RtlPrefixUnicodeString(&prefix, name, TRUE)) ++g_stats.WrongName;
  RtlInitUnicodeString(&prefix, kWatched);
  watched = RtlPrefixUnicodeString(&prefix, name, TRUE);
  CmCallbackReleaseKeyObjectIDEx(name);
  return watched;
}

/* The guard's redirection: the key object of ...\RegCbTest\Target, referenced for the caller. */
static PVOID TargetKey(void) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  HANDLE h;
  PVOID object = NULL;
  RtlInitUnicodeString(&name, L"\\REGISTRY\\MACHINE\\SOFTWARE\\RegCbTest\\Target");
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  if (!NT_SUCCESS(ZwOpenKey(&h, KEY_ALL_ACCESS, &oa))) return NULL;
  if (!NT_SUCCESS(ObReferenceObjectByHandle(h, KEY_ALL_ACCESS, *CmKeyObjectType, KernelMode, &object, NULL))) object = NULL;
  ZwClose(h);
  return object;
}

static NTSTATUS Guard(PVOID context, PVOID argument1, PVOID argument2) {
  REG_NOTIFY_CLASS type = (REG_NOTIFY_CLASS)(ULONG_PTR)argument1;
  UNREFERENCED_PARAMETER(context);
  switch (type) {
  case RegNtPreSetValueKey: {
    PREG_SET_VALUE_KEY_INFORMATION info = argument2;
    if (info->ObjectContext == &g_stats) ++g_stats.ContextsSeen;
    info->CallContext = &g_callMarker;
    if (Watched(info->Object) && EndsWith(info->ValueName, L"Blocked")) {
      ++g_stats.Blocked;
      return STATUS_ACCESS_DENIED;
    }
    return STATUS_SUCCESS;
  }
  case RegNtPostSetValueKey: {
    PREG_POST_OPERATION_INFORMATION info = argument2;
    if (info->CallContext == &g_callMarker) ++g_stats.CallContexts;
    return STATUS_SUCCESS;
  }
  case RegNtPreDeleteKey: {
    PREG_DELETE_KEY_INFORMATION info = argument2;
    PCUNICODE_STRING name = NULL;
    ULONG_PTR id;
    NTSTATUS status = STATUS_SUCCESS;
    if (NT_SUCCESS(CmCallbackGetKeyObjectIDEx(&g_guard, info->Object, &id, &name, 0))) {
      if (Watched(info->Object) && EndsWith(name, L"Protected")) {
        ++g_stats.Blocked;
        status = STATUS_ACCESS_DENIED;
      }
      CmCallbackReleaseKeyObjectIDEx(name);
    }
    return status;
  }
  case RegNtPreOpenKeyEx:
  case RegNtPreCreateKeyEx: {
    PREG_OPEN_KEY_INFORMATION_V1 info = argument2;
    PVOID target;
    if (!EndsWith(info->CompleteName, L"RegCbTest\\Redirected")) return STATUS_SUCCESS;
    target = TargetKey();
    if (!target) return STATUS_SUCCESS;
    *info->ResultObject = target;
    info->GrantedAccess = info->DesiredAccess;
    if (info->Disposition) *info->Disposition = REG_OPENED_EXISTING_KEY;
    ++g_stats.Redirected;
    return STATUS_CALLBACK_BYPASS;
  }
  case RegNtPostOpenKeyEx:
  case RegNtPostCreateKeyEx: {
    PREG_POST_OPERATION_INFORMATION info = argument2;
    /* Every watched key the machine opens carries the guard's context from now on. */
    if (NT_SUCCESS(info->Status) && Watched(info->Object)) {
      CmSetCallbackObjectContext(info->Object, &g_guard, &g_stats, NULL);
    }
    return STATUS_SUCCESS;
  }
  case RegNtPreQueryValueKey: {
    PREG_QUERY_VALUE_KEY_INFORMATION info = argument2;
    PKEY_VALUE_PARTIAL_INFORMATION out;
    ULONG needed = FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof(ULONG);
    if (info->ObjectContext == &g_stats) ++g_stats.ContextsSeen;
    if (!Watched(info->Object) || !EndsWith(info->ValueName, L"Virtual") ||
        info->KeyValueInformationClass != KeyValuePartialInformation) {
      return STATUS_SUCCESS;
    }
    /* Answered here, as a virtualizing driver answers: a REG_DWORD 1234 the store never held. */
    ++g_stats.Virtualized;
    __try {
      if (info->ResultLength) *info->ResultLength = needed;
      if (info->Length < needed) return info->Length < FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data)
                                            ? STATUS_BUFFER_TOO_SMALL : STATUS_BUFFER_OVERFLOW;
      out = info->KeyValueInformation;
      out->TitleIndex = 0;
      out->Type = REG_DWORD;
      out->DataLength = sizeof(ULONG);
      *(ULONG *)out->Data = 1234;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
      return GetExceptionCode();
    }
    return STATUS_CALLBACK_BYPASS;
  }
  case RegNtCallbackObjectContextCleanup:
    return STATUS_SUCCESS;
  default:
    return STATUS_SUCCESS;
  }
}

/* Below the guard: hears only what the guard let through. */
static NTSTATUS Observer(PVOID context, PVOID argument1, PVOID argument2) {
  REG_NOTIFY_CLASS type = (REG_NOTIFY_CLASS)(ULONG_PTR)argument1;
  UNREFERENCED_PARAMETER(context);
  if (type == RegNtPreSetValueKey || type == RegNtPreDeleteKey) {
    if (Watched(*(PVOID *)argument2)) ++g_stats.ObserverPre;
  } else if (type == RegNtPostSetValueKey || type == RegNtPostDeleteKey) {
    PREG_POST_OPERATION_INFORMATION info = argument2;
    if (Watched(info->Object)) ++g_stats.ObserverPost;
  }
  return STATUS_SUCCESS;
}

static NTSTATUS Complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS CreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return Complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS DeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode == REGCB_IOCTL_STATS &&
      sl->Parameters.DeviceIoControl.OutputBufferLength >= sizeof g_stats) {
    RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, &g_stats, sizeof g_stats);
    return Complete(irp, STATUS_SUCCESS, sizeof g_stats);
  }
  return Complete(irp, STATUS_INVALID_PARAMETER, 0);
}

static VOID Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  CmUnRegisterCallback(g_guard);
  CmUnRegisterCallback(g_observer);
  RtlInitUnicodeString(&link, L"\\DosDevices\\RegCallbacks");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

/* The driver's own registry calls meet the guard too. */
static void CheckOwnCalls(void) {
  UNICODE_STRING name, value;
  OBJECT_ATTRIBUTES oa;
  HANDLE key;
  ULONG data = 7, disposition;
  NTSTATUS s;
  RtlInitUnicodeString(&name, L"\\REGISTRY\\MACHINE\\SOFTWARE\\RegCbTest");
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  s = ZwCreateKey(&key, KEY_ALL_ACCESS, &oa, 0, NULL, 0, &disposition);
  Check("ZwCreateKey of the watched key", NT_SUCCESS(s), s);
  if (!NT_SUCCESS(s)) return;
  RtlInitUnicodeString(&value, L"Blocked");
  s = ZwSetValueKey(key, &value, 0, REG_DWORD, &data, sizeof data);
  Check("the guard blocks a driver's ZwSetValueKey", s == STATUS_ACCESS_DENIED, s);
  RtlInitUnicodeString(&value, L"FromDriver");
  s = ZwSetValueKey(key, &value, 0, REG_DWORD, &data, sizeof data);
  Check("and lets others through", s == STATUS_SUCCESS, s);
  ZwClose(key);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING altitude, name, link;
  LARGE_INTEGER extra;
  ULONG major = 0, minor = 0;
  NTSTATUS s;
  UNREFERENCED_PARAMETER(registryPath);

  CmGetCallbackVersion(&major, &minor);
  Check("CmGetCallbackVersion", major == 1, major);
  RtlInitUnicodeString(&altitude, L"380000");
  s = CmRegisterCallbackEx(Guard, &altitude, driver, NULL, &g_guard, NULL);
  Check("CmRegisterCallbackEx", NT_SUCCESS(s), s);
  if (!NT_SUCCESS(s)) return s;
  s = CmRegisterCallbackEx(Observer, &altitude, driver, NULL, &extra, NULL);
  Check("CmRegisterCallbackEx at a taken altitude", s == STATUS_FLT_INSTANCE_ALTITUDE_COLLISION, s);
  RtlInitUnicodeString(&altitude, L"38x");
  s = CmRegisterCallbackEx(Observer, &altitude, driver, NULL, &extra, NULL);
  Check("CmRegisterCallbackEx with a bad altitude", s == STATUS_INVALID_PARAMETER, s);
  s = CmRegisterCallback(Observer, NULL, &g_observer);
  Check("CmRegisterCallback", NT_SUCCESS(s), s);
  s = CmUnRegisterCallback(extra);
  Check("CmUnRegisterCallback of no cookie", s == STATUS_INVALID_PARAMETER, s);
  {
    /* A driver registering without end meets Windows' limit of 100 registry callbacks. */
    static LARGE_INTEGER more[128];
    ULONG n = 0, i;
    while (n < 128 && NT_SUCCESS(s = CmRegisterCallback(Observer, NULL, &more[n]))) ++n;
    Check("registry callbacks are limited to 100", n == 98 && s == STATUS_INSUFFICIENT_RESOURCES, n);
    for (i = 0; i < n; ++i) CmUnRegisterCallback(more[i]);
  }
  CheckOwnCalls();

  RtlInitUnicodeString(&name, L"\\Device\\RegCallbacks");
  s = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(s)) {
    CmUnRegisterCallback(g_guard);
    CmUnRegisterCallback(g_observer);
    return s;
  }
  g_device->Flags |= DO_BUFFERED_IO;
  g_device->Flags &= ~DO_DEVICE_INITIALIZING;
  RtlInitUnicodeString(&link, L"\\DosDevices\\RegCallbacks");
  IoCreateSymbolicLink(&link, &name);
  driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
  driver->DriverUnload = Unload;
  {
    static const WCHAR *names[] = {L"CmRegisterCallback", L"CmRegisterCallbackEx", L"CmUnRegisterCallback",
                                   L"CmGetCallbackVersion", L"CmSetCallbackObjectContext", L"CmCallbackGetKeyObjectID",
                                   L"CmCallbackGetKeyObjectIDEx", L"CmCallbackReleaseKeyObjectIDEx",
                                   L"CmKeyObjectType"};
    ULONG i, found = 0;
    for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
      UNICODE_STRING n;
      RtlInitUnicodeString(&n, names[i]);
      if (MmGetSystemRoutineAddress(&n)) ++found;
    }
    Check("MmGetSystemRoutineAddress", found == sizeof names / sizeof names[0], found);
  }
  DbgPrint("reg_callbacks: done\n");
  return STATUS_SUCCESS;
}
