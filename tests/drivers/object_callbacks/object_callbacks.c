/* Object callbacks as Microsoft's documentation (and its ObCallback sample) uses them: a driver
   registers pre- and post-operation routines for process and thread handles and takes
   PROCESS_TERMINATE / PROCESS_VM_WRITE / THREAD_TERMINATE out of user handles to a protected
   process, which obcb_app.exe names. Also thread lookups (PsLookupThreadByThreadId, PsGetThreadId,
   IoThreadToProcess). Built a second time without /INTEGRITYCHECK (OBCB_NO_INTEGRITY), where
   registering is refused. Each check prints "object_callbacks: NAME ok" or "... FAILED". */
#include <ntifs.h>

#include "obcb_shared.h"

#ifndef PROCESS_TERMINATE
#define PROCESS_TERMINATE 0x0001
#endif
#ifndef PROCESS_VM_WRITE
#define PROCESS_VM_WRITE 0x0020
#endif
#ifndef THREAD_TERMINATE
#define THREAD_TERMINATE 0x0001
#endif

__declspec(dllimport) extern POBJECT_TYPE *IoFileObjectType;
NTKERNELAPI NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PETHREAD *Thread);
NTKERNELAPI PEPROCESS NTAPI IoThreadToProcess(PETHREAD Thread);

DRIVER_INITIALIZE DriverEntry;

static PDEVICE_OBJECT g_device;
static PVOID g_registration;
static volatile LONG g_protected;
static OBCB_STATS g_stats;
static int g_marker; /* what a pre-operation leaves in CallContext */

static void Check(const char *name, int ok, ULONG_PTR detail) {
  if (ok) {
    DbgPrint("object_callbacks: %s ok\n", name);
  } else {
    DbgPrint("object_callbacks: %s FAILED 0x%Ix\n", name, detail);
  }
}

static HANDLE TargetProcessId(POB_PRE_OPERATION_INFORMATION info) {
  return info->ObjectType == *PsProcessType ? PsGetProcessId((PEPROCESS)info->Object)
                                            : PsGetThreadProcessId((PETHREAD)info->Object);
}

static OB_PREOP_CALLBACK_STATUS PreOperation(PVOID context, POB_PRE_OPERATION_INFORMATION info) {
  BOOLEAN process = info->ObjectType == *PsProcessType;
  ACCESS_MASK strip = process ? (PROCESS_TERMINATE | PROCESS_VM_WRITE) : THREAD_TERMINATE;
  PACCESS_MASK desired;
  UNREFERENCED_PARAMETER(context);
  if (info->Operation == OB_OPERATION_HANDLE_CREATE) {
    desired = &info->Parameters->CreateHandleInformation.DesiredAccess;
    if (process) ++g_stats.ProcessPreCreate; else ++g_stats.ThreadPreCreate;
  } else {
    desired = &info->Parameters->DuplicateHandleInformation.DesiredAccess;
    if (process) ++g_stats.ProcessPreDuplicate;
  }
  if (info->KernelHandle) ++g_stats.KernelHandles;
  info->CallContext = &g_marker;
  if (!info->KernelHandle && g_protected && TargetProcessId(info) == (HANDLE)(ULONG_PTR)g_protected &&
      (*desired & strip)) {
    *desired &= ~strip;
    ++g_stats.Stripped;
  }
  return OB_PREOP_SUCCESS;
}

static VOID PostOperation(PVOID context, POB_POST_OPERATION_INFORMATION info) {
  BOOLEAN process = info->ObjectType == *PsProcessType;
  ACCESS_MASK strip = process ? (PROCESS_TERMINATE | PROCESS_VM_WRITE) : THREAD_TERMINATE;
  ACCESS_MASK granted = info->Operation == OB_OPERATION_HANDLE_CREATE
                            ? info->Parameters->CreateHandleInformation.GrantedAccess
                            : info->Parameters->DuplicateHandleInformation.GrantedAccess;
  UNREFERENCED_PARAMETER(context);
  if (info->Operation == OB_OPERATION_HANDLE_CREATE) {
    if (process) ++g_stats.ProcessPostCreate; else ++g_stats.ThreadPostCreate;
  } else if (process) {
    ++g_stats.ProcessPostDuplicate;
  }
  if (info->CallContext != &g_marker) ++g_stats.ContextLost;
  if (!info->KernelHandle && g_protected && NT_SUCCESS(info->ReturnStatus) && (granted & strip)) {
    HANDLE pid = process ? PsGetProcessId((PEPROCESS)info->Object) : PsGetThreadProcessId((PETHREAD)info->Object);
    if (pid == (HANDLE)(ULONG_PTR)g_protected) ++g_stats.PostSawStripped;
  }
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
  ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
  case OBCB_IOCTL_PROTECT: {
    OBCB_CALLER caller;
    PETHREAD thread = NULL;
    if (in < sizeof(ULONG) || out < sizeof caller) break;
    InterlockedExchange(&g_protected, (LONG)*(ULONG *)buffer);
    RtlZeroMemory(&caller, sizeof caller);
    if (NT_SUCCESS(PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread))) {
      caller.LookupOk = thread == PsGetCurrentThread() && PsGetThreadId(thread) == PsGetCurrentThreadId();
      caller.ProcessId = (unsigned int)(ULONG_PTR)PsGetThreadProcessId(thread);
      ObDereferenceObject(thread);
    }
    caller.SameProcess = IoThreadToProcess(irp->Tail.Overlay.Thread) == PsGetCurrentProcess();
    RtlCopyMemory(buffer, &caller, sizeof caller);
    return Complete(irp, STATUS_SUCCESS, sizeof caller);
  }
  case OBCB_IOCTL_STATS:
    if (out < sizeof g_stats) break;
    RtlCopyMemory(buffer, &g_stats, sizeof g_stats);
    return Complete(irp, STATUS_SUCCESS, sizeof g_stats);
  }
  return Complete(irp, STATUS_INVALID_PARAMETER, 0);
}

static VOID Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  if (g_registration) ObUnRegisterCallbacks(g_registration);
  RtlInitUnicodeString(&link, L"\\DosDevices\\ObCallbacks");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

static NTSTATUS Register(OB_OPERATION_REGISTRATION *operations, USHORT count, PCWSTR altitude, USHORT version,
                         PVOID *handle) {
  OB_CALLBACK_REGISTRATION r;
  RtlZeroMemory(&r, sizeof r);
  r.Version = version;
  r.OperationRegistrationCount = count;
  RtlInitUnicodeString(&r.Altitude, altitude);
  r.RegistrationContext = NULL;
  r.OperationRegistration = operations;
  return ObRegisterCallbacks(&r, handle);
}

static void CheckThreadLookups(void) {
  PETHREAD thread = NULL;
  NTSTATUS s = PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread);
  Check("PsLookupThreadByThreadId", NT_SUCCESS(s) && thread == PsGetCurrentThread(), s);
  if (NT_SUCCESS(s)) {
    Check("PsGetThreadId", PsGetThreadId(thread) == PsGetCurrentThreadId(), (ULONG_PTR)PsGetThreadId(thread));
    Check("PsGetThreadProcessId of a system thread", PsGetThreadProcessId(thread) == PsGetProcessId(PsInitialSystemProcess),
          (ULONG_PTR)PsGetThreadProcessId(thread));
    Check("IoThreadToProcess", IoThreadToProcess(thread) == PsInitialSystemProcess, 0);
    ObDereferenceObject(thread);
  }
  s = PsLookupThreadByThreadId((HANDLE)(ULONG_PTR)0x7FFFFFF0, &thread);
  Check("PsLookupThreadByThreadId of no thread", s == STATUS_INVALID_PARAMETER, s);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  OB_OPERATION_REGISTRATION operations[2];
  OB_OPERATION_REGISTRATION wrong;
  UNICODE_STRING name, link;
  PVOID second = NULL;
  NTSTATUS s;
  UNREFERENCED_PARAMETER(registryPath);

  Check("ObGetFilterVersion", ObGetFilterVersion() == OB_FLT_REGISTRATION_VERSION, ObGetFilterVersion());
  RtlZeroMemory(operations, sizeof operations);
  operations[0].ObjectType = PsProcessType;
  operations[0].Operations = OB_OPERATION_HANDLE_CREATE | OB_OPERATION_HANDLE_DUPLICATE;
  operations[0].PreOperation = PreOperation;
  operations[0].PostOperation = PostOperation;
  operations[1] = operations[0];
  operations[1].ObjectType = PsThreadType;
  operations[1].Operations = OB_OPERATION_HANDLE_CREATE;
#ifdef OBCB_NO_INTEGRITY
  s = Register(operations, 2, L"321000", OB_FLT_REGISTRATION_VERSION, &g_registration);
  Check("ObRegisterCallbacks without /INTEGRITYCHECK", s == STATUS_ACCESS_DENIED && !g_registration, s);
  DbgPrint("object_callbacks: done\n");
  return STATUS_UNSUCCESSFUL;
#else
  s = Register(operations, 2, L"321000", 0x200, &second);
  Check("ObRegisterCallbacks with a wrong version", s == STATUS_INVALID_PARAMETER, s);
  wrong = operations[0];
  wrong.ObjectType = IoFileObjectType;
  s = Register(&wrong, 1, L"321000", OB_FLT_REGISTRATION_VERSION, &second);
  Check("ObRegisterCallbacks for files", s == STATUS_INVALID_PARAMETER, s);
  s = Register(operations, 2, L"321000", OB_FLT_REGISTRATION_VERSION, &g_registration);
  Check("ObRegisterCallbacks", s == STATUS_SUCCESS && g_registration != NULL, s);
  if (!NT_SUCCESS(s)) return s;
  s = Register(operations, 1, L"321000", OB_FLT_REGISTRATION_VERSION, &second);
  Check("ObRegisterCallbacks at a taken altitude", s == STATUS_FLT_INSTANCE_ALTITUDE_COLLISION, s);
  CheckThreadLookups();
  {
    /* A kernel handle: the routines see it flagged, and strip nothing. */
    OBJECT_ATTRIBUTES oa;
    CLIENT_ID cid;
    HANDLE h;
    ULONG before = g_stats.KernelHandles;
    InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    cid.UniqueProcess = PsGetCurrentProcessId();
    cid.UniqueThread = NULL;
    s = ZwOpenProcess(&h, PROCESS_ALL_ACCESS, &oa, &cid);
    Check("a kernel handle reaches the routines flagged", NT_SUCCESS(s) && g_stats.KernelHandles == before + 1,
          g_stats.KernelHandles);
    if (NT_SUCCESS(s)) ZwClose(h);
  }
  RtlInitUnicodeString(&name, L"\\Device\\ObCallbacks");
  s = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(s)) {
    ObUnRegisterCallbacks(g_registration);
    return s;
  }
  g_device->Flags |= DO_BUFFERED_IO;
  RtlInitUnicodeString(&link, L"\\DosDevices\\ObCallbacks");
  IoCreateSymbolicLink(&link, &name);
  g_device->Flags &= ~DO_DEVICE_INITIALIZING;
  driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
  driver->DriverUnload = Unload;
  {
    static const WCHAR *names[] = {L"ObRegisterCallbacks", L"ObUnRegisterCallbacks", L"ObGetFilterVersion",
                                   L"PsLookupThreadByThreadId", L"IoThreadToProcess", L"PsGetThreadProcess",
                                   L"ZwOpenThread"};
    ULONG i, found = 0;
    for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
      UNICODE_STRING n;
      RtlInitUnicodeString(&n, names[i]);
      if (MmGetSystemRoutineAddress(&n)) ++found;
    }
    Check("MmGetSystemRoutineAddress", found == sizeof names / sizeof names[0], found);
  }
  DbgPrint("object_callbacks: done\n");
  return STATUS_SUCCESS;
#endif
}
