// Object manager and process exports drivers call (ob/, ps/).
#pragma once
#include "nt/Types.h"

namespace ntbox::nt {

struct OBJECT_HANDLE_INFORMATION {
  ULONG HandleAttributes;
  ACCESS_MASK GrantedAccess;
};

NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, PVOID ObjectType,
                                         KPROCESSOR_MODE AccessMode, PVOID* Object,
                                         OBJECT_HANDLE_INFORMATION* HandleInformation);
NTSTATUS NTAPI ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, PVOID ObjectType,
                                          KPROCESSOR_MODE AccessMode);
LONG_PTR NTAPI ObfReferenceObject(PVOID Object);
LONG_PTR NTAPI ObfDereferenceObject(PVOID Object);
void NTAPI ObDereferenceObject(PVOID Object);
NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PVOID PassedAccessState,
                                     ACCESS_MASK DesiredAccess, PVOID ObjectType, KPROCESSOR_MODE AccessMode,
                                     HANDLE* Handle);
NTSTATUS NTAPI ZwClose(HANDLE Handle);
NTSTATUS NTAPI NtClose(HANDLE Handle);
PVOID NTAPI PsGetCurrentProcess();
HANDLE NTAPI PsGetCurrentProcessId();
HANDLE NTAPI PsGetProcessId(PVOID Process);
PVOID NTAPI IoGetCurrentProcess();
BOOLEAN NTAPI IoIs32bitProcess(PVOID Irp);
KPROCESSOR_MODE NTAPI ExGetPreviousMode();

// The exported POBJECT_TYPE variables (IoFileObjectType ...), each pointing at its type.
extern PVOID g_IoFileObjectType;
extern PVOID g_IoDeviceObjectType;
extern PVOID g_IoDriverObjectType;
extern PVOID g_ExEventObjectType;
extern PVOID g_PsProcessType;
extern PVOID g_PsThreadType;

namespace ob {
// For the services that create an object (NtCreateEvent, NtCreateSection ...): their
// OBJECT_ATTRIBUTES read from the caller; names are refused (STATUS_NOT_IMPLEMENTED) until
// \BaseNamedObjects comes.
NTSTATUS CheckUnnamed(const void* objectAttributes);
// Gives the caller a handle to a new object (taking over its creation reference) in *handle, the
// caller's memory; on a bad pointer the handle is closed again and the status says so.
NTSTATUS ReturnNewHandle(void* body, ACCESS_MASK access, HANDLE* handle);
}  // namespace ob

}  // namespace ntbox::nt
