// Object manager and process exports drivers call (ob/, ps/).
#pragma once
#include <string>

#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {
NTSTATUS NTAPI NtMakeTemporaryObject(HANDLE Handle);
// Object security (ob/ObSecurity.cpp): a device's DACL.
NTSTATUS NTAPI ObSetSecurityObjectByPointer(PVOID Object, ULONG SecurityInformation, PVOID SecurityDescriptor);
NTSTATUS NTAPI NtSetSecurityObject(HANDLE Handle, ULONG SecurityInformation, PVOID SecurityDescriptor);
void NTAPI ObMakeTemporaryObject(PVOID Object);

namespace ob {
struct ObjectType;
}

struct OBJECT_HANDLE_INFORMATION {
  ULONG HandleAttributes;
  ACCESS_MASK GrantedAccess;
};

NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, PVOID ObjectType,
                                         KPROCESSOR_MODE AccessMode, PVOID* Object,
                                         OBJECT_HANDLE_INFORMATION* HandleInformation);
// The named object (symbolic links followed), referenced; ObjectType checked when given.
NTSTATUS NTAPI ObReferenceObjectByName(UNICODE_STRING* ObjectName, ULONG Attributes, PVOID AccessState,
                                       ACCESS_MASK DesiredAccess, PVOID ObjectType, KPROCESSOR_MODE AccessMode,
                                       PVOID ParseContext, PVOID* Object);
// The object's full name as an OBJECT_NAME_INFORMATION (a UNICODE_STRING and its text after it).
NTSTATUS NTAPI ObQueryNameString(PVOID Object, UNICODE_STRING* ObjectNameInfo, ULONG Length, ULONG* ReturnLength);
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
// Handles themselves (ob/HandleServices.cpp).
NTSTATUS NTAPI NtDuplicateObject(HANDLE SourceProcessHandle, HANDLE SourceHandle, HANDLE TargetProcessHandle,
                                 HANDLE* TargetHandle, ACCESS_MASK DesiredAccess, ULONG HandleAttributes,
                                 ULONG Options);
NTSTATUS NTAPI NtQueryObject(HANDLE Handle, ULONG ObjectInformationClass, PVOID ObjectInformation, ULONG Length,
                             ULONG* ReturnLength);
NTSTATUS NTAPI NtSetInformationObject(HANDLE Handle, ULONG ObjectInformationClass, PVOID ObjectInformation,
                                      ULONG Length);
NTSTATUS NTAPI NtOpenDirectoryObject(HANDLE* DirectoryHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtCreateDirectoryObject(HANDLE* DirectoryHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
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
extern PVOID g_CmKeyObjectType;
extern PVOID g_ExSemaphoreObjectType;
extern PVOID g_MmSectionObjectType;
extern PVOID g_SeTokenObjectType;

namespace ob {
// For the services that create an object without a name (NtCreateSection of a file ...): their
// OBJECT_ATTRIBUTES read from the caller; a name is refused (STATUS_NOT_IMPLEMENTED).
NTSTATUS CheckUnnamed(const void* objectAttributes);
// A service's OBJECT_ATTRIBUTES and the name in them, copied from its caller.
struct CapturedAttributes {
  HANDLE root = nullptr;
  std::u16string name;
  ULONG attributes = 0;
  // OBJ_KERNEL_HANDLE, honoured for a caller in kernel mode only (as Windows strips it from
  // user mode's requests).
  bool kernelHandle = false;
};
NTSTATUS CaptureAttributes(const void* objectAttributes, CapturedAttributes& out);
// The full name in the namespace an OBJECT_ATTRIBUTES gives: its name, absolute or relative to the
// directory its RootDirectory handle is; empty when it has none.
NTSTATUS FullName(const CapturedAttributes& attributes, std::u16string& full);
// For the services that create a named object (NtCreateEvent, NtCreateMutant ...): gives the caller
// a handle to body (taking over its creation reference), under the name the caller's
// OBJECT_ATTRIBUTES give, if any (a temporary name: it goes with the last handle). A name already
// taken: with OBJ_OPENIF a handle to that object if it is of body's type (STATUS_OBJECT_NAME_EXISTS),
// else STATUS_OBJECT_NAME_COLLISION; body is then dropped.
NTSTATUS ReturnNamedHandle(void* body, const void* objectAttributes, ACCESS_MASK access, HANDLE* handle);
// NtOpenEvent & co.: a handle to the object of type the caller's OBJECT_ATTRIBUTES name.
NTSTATUS OpenNamed(const void* objectAttributes, ObjectType& type, ACCESS_MASK access, HANDLE* handle);
// Gives the caller a handle to a new object (taking over its creation reference) in *handle, the
// caller's memory; on a bad pointer the handle is closed again and the status says so.
NTSTATUS ReturnNewHandle(void* body, ACCESS_MASK access, HANDLE* handle, bool kernelHandle = false, ULONG attributes = 0);

// An object a service references by handle (ObReferenceObjectByHandle for the previous mode),
// dereferenced when this goes.
class HandleReference {
 public:
  HandleReference() = default;
  HandleReference(const HandleReference&) = delete;
  HandleReference& operator=(const HandleReference&) = delete;
  ~HandleReference();
  NTSTATUS Open(HANDLE handle, ACCESS_MASK access, void* objectType);
  // Takes over a reference the caller holds.
  void Adopt(void* body) { body_ = body; }
  void* body() const { return body_; }
  // The host object behind the body (ObjectHeader::hostContext).
  template <class T>
  T& context() const {
    return *static_cast<T*>(HostContextOf(body_));
  }

 private:
  static void* HostContextOf(void* body);
  void* body_ = nullptr;
};
}  // namespace ob

}  // namespace ntbox::nt
