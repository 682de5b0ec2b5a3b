#include "nt/ob/ObExports.h"
#include "nt/ob/ObCallbacks.h"

#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/Object.h"
#include "nt/ob/ObTypes.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {

PVOID g_IoFileObjectType = &ob::FileType();
PVOID g_IoDeviceObjectType = &ob::DeviceType();
PVOID g_IoDriverObjectType = &ob::DriverType();
PVOID g_ExEventObjectType = &ob::EventType();
PVOID g_PsProcessType = &ob::ProcessType();
PVOID g_PsThreadType = &ob::ThreadType();
PVOID g_CmKeyObjectType = &ob::KeyType();
PVOID g_ExSemaphoreObjectType = &ob::SemaphoreType();
PVOID g_MmSectionObjectType = &ob::SectionType();
PVOID g_SeTokenObjectType = &ob::TokenType();

namespace {

using ps::CurrentProcess;

// Which table a handle lives in: kernel handles (high bit) in the System process's, only for
// kernel-mode callers.
ob::HandleTable* TableFor(HANDLE handle, KPROCESSOR_MODE mode, ob::HandleValue& index) {
  auto value = reinterpret_cast<ob::HandleValue>(handle);
  if ((value & ob::kKernelHandleBit) == ob::kKernelHandleBit) {
    if (mode != KernelMode) return nullptr;
    index = value & ~ob::kKernelHandleBit;
    return &Kernel::Current().systemProcess().handles();
  }
  index = value;
  return &CurrentProcess().handles();
}

}  // namespace

HANDLE ob::InsertHandle(void* body, ACCESS_MASK access, bool kernelHandle, ULONG attributes) {
  ps::Process& process = kernelHandle ? Kernel::Current().systemProcess() : CurrentProcess();
  // Drivers' object callbacks see handles to processes and threads made and may take rights away.
  HandleOperation operation(OB_OPERATION_HANDLE_CREATE, body, access, kernelHandle);
  HandleValue value = process.handles().Insert(body, operation.access(), kernelHandle ? 0 : attributes & kHandleInherit);
  if (kernelHandle) value |= kKernelHandleBit;
  operation.Finish(STATUS_SUCCESS, operation.access());
  return reinterpret_cast<HANDLE>(value);
}

NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, PVOID ObjectType,
                                         KPROCESSOR_MODE AccessMode, PVOID* Object,
                                         OBJECT_HANDLE_INFORMATION* HandleInformation) {
  *Object = nullptr;
  ob::HandleValue index = 0;
  ob::HandleTable* table = TableFor(Handle, AccessMode, index);
  if (!table) return STATUS_INVALID_HANDLE;
  auto entry = table->Reference(index);
  if (!entry) return STATUS_INVALID_HANDLE;
  ob::ObjectHeader* h = ob::HeaderOf(entry->body);
  if (ObjectType && h->type != ObjectType) {
    ob::DereferenceObject(entry->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  if (AccessMode == UserMode && (DesiredAccess & ~entry->access) != 0) {
    ob::DereferenceObject(entry->body);
    return STATUS_ACCESS_DENIED;
  }
  if (HandleInformation) *HandleInformation = OBJECT_HANDLE_INFORMATION{0, entry->access};
  *Object = entry->body;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK, PVOID ObjectType, KPROCESSOR_MODE) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  if (ObjectType && h && h->type != ObjectType) return STATUS_OBJECT_TYPE_MISMATCH;
  ob::ReferenceObject(Object);
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI ObReferenceObjectByName(UNICODE_STRING* ObjectName, ULONG, PVOID, ACCESS_MASK, PVOID ObjectType,
                                       KPROCESSOR_MODE, PVOID, PVOID* Object) {
  if (!ObjectName || !Object) return STATUS_INVALID_PARAMETER;
  *Object = nullptr;
  const std::u16string_view name(ObjectName->Buffer, ObjectName->Length / 2);
  if (name.empty() || name.front() != u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
  auto found = Kernel::Current().objects().Find(name);
  if (!found) return STATUS_OBJECT_NAME_NOT_FOUND;
  // The whole name must be the object's: a name inside a device (a file) is none of it.
  if (!found->remainder.empty()) {
    ob::DereferenceObject(found->body);
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  if (ObjectType && ob::HeaderOf(found->body)->type != ObjectType) {
    ob::DereferenceObject(found->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  *Object = found->body;  // referenced for the caller
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI ObQueryNameString(PVOID Object, UNICODE_STRING* ObjectNameInfo, ULONG Length, ULONG* ReturnLength) {
  if (!Object || !ob::HeaderOf(Object)) return STATUS_INVALID_PARAMETER;
  // OBJECT_NAME_INFORMATION: a UNICODE_STRING, its buffer right after it (an unnamed object: empty).
  const std::u16string name = Kernel::Current().objects().NameOf(Object).value_or(u"");
  const auto needed = static_cast<ULONG>(sizeof(UNICODE_STRING) + (name.empty() ? 0 : (name.size() + 1) * 2));
  if (ReturnLength) *ReturnLength = needed;
  if (!ObjectNameInfo || Length < needed) return STATUS_INFO_LENGTH_MISMATCH;
  auto* text = reinterpret_cast<WCHAR*>(ObjectNameInfo + 1);
  ObjectNameInfo->Length = static_cast<USHORT>(name.size() * 2);
  ObjectNameInfo->MaximumLength = static_cast<USHORT>(name.empty() ? 0 : (name.size() + 1) * 2);
  ObjectNameInfo->Buffer = name.empty() ? nullptr : text;
  if (!name.empty()) {
    std::memcpy(text, name.data(), name.size() * 2);
    text[name.size()] = 0;
  }
  return STATUS_SUCCESS;
}

LONG_PTR NTAPI ObfReferenceObject(PVOID Object) {
  ob::ReferenceObject(Object);
  return ob::HeaderOf(Object)->pointerCount.load();
}

LONG_PTR NTAPI ObfDereferenceObject(PVOID Object) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  const LONG_PTR left = h ? h->pointerCount.load() - 1 : 0;
  ob::DereferenceObject(Object);
  return left;
}

void NTAPI ObDereferenceObject(PVOID Object) { ob::DereferenceObject(Object); }

NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PVOID, ACCESS_MASK DesiredAccess,
                                     PVOID ObjectType, KPROCESSOR_MODE, HANDLE* Handle) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  if (!h) return STATUS_INVALID_PARAMETER;
  if (ObjectType && h->type != ObjectType) return STATUS_OBJECT_TYPE_MISMATCH;
  *Handle = ob::InsertHandle(Object, DesiredAccess ? DesiredAccess : FILE_ALL_ACCESS,
                             (HandleAttributes & OBJ_KERNEL_HANDLE) != 0);
  return STATUS_SUCCESS;
}

namespace {

NTSTATUS CloseHandle(HANDLE handle, KPROCESSOR_MODE mode) {
  ob::HandleValue index = 0;
  ob::HandleTable* table = TableFor(handle, mode, index);
  if (!table) return STATUS_INVALID_HANDLE;
  if (auto held = table->Reference(index)) {
    ob::DereferenceObject(held->body);
    if (held->attributes & ob::kHandleProtectClose) return STATUS_HANDLE_NOT_CLOSABLE;
  }
  auto entry = table->Remove(index);
  if (!entry) return STATUS_INVALID_HANDLE;
  ob::CloseHandleEntry(*entry);
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI ZwClose(HANDLE Handle) { return CloseHandle(Handle, KernelMode); }

// A program cannot close the kernel's handles.
NTSTATUS NTAPI NtClose(HANDLE Handle) { return CloseHandle(Handle, ExGetPreviousMode()); }

PVOID NTAPI PsGetCurrentProcess() { return CurrentProcess().object(); }
PVOID NTAPI IoGetCurrentProcess() { return CurrentProcess().object(); }
HANDLE NTAPI PsGetCurrentProcessId() { return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(CurrentProcess().id())); }

HANDLE NTAPI PsGetProcessId(PVOID Process) {
  const ps::ProcessRecord* r = ps::RecordOf(Process);
  return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(r ? r->id : 0));
}

BOOLEAN NTAPI IoIs32bitProcess(PVOID) { return FALSE; }  // every process of the machine is x64

KPROCESSOR_MODE NTAPI ExGetPreviousMode() {
  ke::KernelThread* t = ke::CurrentThread();
  return t ? t->previousMode : KernelMode;
}

NTSTATUS ob::CheckUnnamed(const void* objectAttributes) {
  if (!objectAttributes) return STATUS_SUCCESS;
  const auto a = mm::ReadCaller(static_cast<const OBJECT_ATTRIBUTES*>(objectAttributes));
  if (!a) return STATUS_ACCESS_VIOLATION;
  return a->ObjectName ? STATUS_NOT_IMPLEMENTED : STATUS_SUCCESS;
}

NTSTATUS ob::CaptureAttributes(const void* objectAttributes, CapturedAttributes& out) {
  const auto a = mm::ReadCaller(static_cast<const OBJECT_ATTRIBUTES*>(objectAttributes));
  if (!a) return STATUS_ACCESS_VIOLATION;
  if (a->Length != sizeof(OBJECT_ATTRIBUTES)) return STATUS_INVALID_PARAMETER;
  out.root = a->RootDirectory;
  out.attributes = a->Attributes;
  out.kernelHandle = (a->Attributes & OBJ_KERNEL_HANDLE) && ExGetPreviousMode() == KernelMode;
  out.name.clear();
  if (!a->ObjectName) return STATUS_SUCCESS;
  const auto u = mm::ReadCaller(a->ObjectName);
  if (!u) return STATUS_ACCESS_VIOLATION;
  if (u->Length % 2) return STATUS_OBJECT_NAME_INVALID;  // MaximumLength is not looked at, as on Windows
  out.name.assign(u->Length / 2, u'\0');
  if (!mm::ReadCaller(out.name.data(), u->Buffer, u->Length)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS ob::ReturnNewHandle(void* body, ACCESS_MASK access, HANDLE* handle, bool kernelHandle, ULONG attributes) {
  const HANDLE inserted = InsertHandle(body, access, kernelHandle, attributes);
  DereferenceObject(body);
  if (!mm::WriteCaller(handle, inserted)) {
    (void)ZwClose(inserted);
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

NTSTATUS ob::FullName(const CapturedAttributes& a, std::u16string& full) {
  full.clear();
  if (!a.root) {
    if (a.name.empty()) return STATUS_SUCCESS;
    if (a.name[0] != u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    full = a.name;
    return STATUS_SUCCESS;
  }
  HandleReference dir;
  if (const NTSTATUS s = dir.Open(a.root, 0, &DirectoryType()); !NT_SUCCESS(s)) return s;
  if (!a.name.empty() && a.name[0] == u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
  full = dir.context<std::u16string>();
  if (!a.name.empty()) full += u'\\' + a.name;
  return STATUS_SUCCESS;
}

NTSTATUS ob::ReturnNamedHandle(void* body, const void* objectAttributes, ACCESS_MASK access, HANDLE* handle) {
  CapturedAttributes a;
  std::u16string full;
  NTSTATUS s = objectAttributes ? CaptureAttributes(objectAttributes, a) : STATUS_SUCCESS;
  if (NT_SUCCESS(s)) s = FullName(a, full);
  if (!NT_SUCCESS(s)) {
    DereferenceObject(body);
    return s;
  }
  if (full.empty()) return ReturnNewHandle(body, access, handle, a.kernelHandle, a.attributes);
  // A permanent name outlives every handle; programs lack SeCreatePermanentPrivilege, as on Windows.
  const bool permanent = (a.attributes & OBJ_PERMANENT) != 0;
  if (permanent && ExGetPreviousMode() == UserMode) {
    DereferenceObject(body);
    return STATUS_PRIVILEGE_NOT_HELD;
  }
  Namespace& names = Kernel::Current().objects();
  s = names.Insert(full, body);
  if (s == STATUS_SUCCESS) {
    if (permanent) {
      HeaderOf(body)->permanent = true;
      ReferenceObject(body);  // the name's
    } else {
      HeaderOf(body)->temporaryName = true;
    }
    return ReturnNewHandle(body, access, handle, a.kernelHandle, a.attributes);
  }
  ObjectType* const type = HeaderOf(body)->type;
  DereferenceObject(body);
  if (s != STATUS_OBJECT_NAME_COLLISION || !(a.attributes & OBJ_OPENIF)) return s;
  auto found = names.Find(full);
  if (!found) return found.error().ntstatus;
  if (HeaderOf(found->body)->type != type || !found->remainder.empty()) {
    DereferenceObject(found->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  s = ReturnNewHandle(found->body, access, handle, a.kernelHandle, a.attributes);
  return NT_SUCCESS(s) ? STATUS_OBJECT_NAME_EXISTS : s;
}

NTSTATUS ob::OpenNamed(const void* objectAttributes, ObjectType& type, ACCESS_MASK access, HANDLE* handle) {
  if (!mm::WriteCaller(handle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  CapturedAttributes a;
  if (const NTSTATUS s = CaptureAttributes(objectAttributes, a); !NT_SUCCESS(s)) return s;
  std::u16string full;
  if (const NTSTATUS s = FullName(a, full); !NT_SUCCESS(s)) return s;
  if (full.empty()) return STATUS_OBJECT_PATH_SYNTAX_BAD;
  auto found = Kernel::Current().objects().Find(full);
  if (!found) return found.error().ntstatus;
  if (!found->remainder.empty() || HeaderOf(found->body)->type != &type) {
    const bool missing = !found->remainder.empty();
    DereferenceObject(found->body);
    return missing ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_OBJECT_TYPE_MISMATCH;
  }
  return ReturnNewHandle(found->body, access, handle, a.kernelHandle, a.attributes);
}

namespace {

// A directory handle's object: its path, for names relative to it.
ob::ObjectType& Directories() { return ob::OwningHostContext<std::u16string>(ob::DirectoryType()); }

NTSTATUS OpenDirectory(HANDLE* handle, ACCESS_MASK access, PVOID objectAttributes, bool create) {
  if (!mm::WriteCaller(handle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(objectAttributes, a); !NT_SUCCESS(s)) return s;
  std::u16string full;
  if (const NTSTATUS s = ob::FullName(a, full); !NT_SUCCESS(s)) return s;
  if (full.empty()) return STATUS_OBJECT_PATH_SYNTAX_BAD;
  ob::Namespace& names = Kernel::Current().objects();
  NTSTATUS status = STATUS_SUCCESS;
  if (create) {
    status = names.CreateDirectory(full);
    if (status == STATUS_OBJECT_NAME_COLLISION && names.IsDirectory(full)) status = STATUS_OBJECT_NAME_EXISTS;
    if (!NT_SUCCESS(status)) return status;
  } else if (!names.IsDirectory(full)) {
    auto found = names.Find(full);
    if (!found) return found.error().ntstatus;
    ob::DereferenceObject(found->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  void* body = ob::CreateObject(Directories(), 0x10, new std::u16string(full));
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  const NTSTATUS returned = ob::ReturnNewHandle(body, access ? access : 0xF000F /* DIRECTORY_ALL_ACCESS */, handle,
                                                a.kernelHandle);
  return NT_SUCCESS(returned) ? status : returned;
}

}  // namespace

NTSTATUS NTAPI NtOpenDirectoryObject(HANDLE* DirectoryHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return OpenDirectory(DirectoryHandle, DesiredAccess, ObjectAttributes, false);
}

NTSTATUS NTAPI NtCreateDirectoryObject(HANDLE* DirectoryHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return OpenDirectory(DirectoryHandle, DesiredAccess, ObjectAttributes, true);
}

ob::HandleReference::~HandleReference() {
  if (body_) DereferenceObject(body_);
}

NTSTATUS ob::HandleReference::Open(HANDLE handle, ACCESS_MASK access, void* objectType) {
  PVOID body = nullptr;
  const NTSTATUS s = ObReferenceObjectByHandle(handle, access, objectType, ExGetPreviousMode(), &body, nullptr);
  if (NT_SUCCESS(s)) body_ = body;
  return s;
}

void* ob::HandleReference::HostContextOf(void* body) { return HeaderOf(body)->hostContext; }

NTSTATUS NTAPI NtMakeTemporaryObject(HANDLE Handle) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(Handle, 0x10000 /* DELETE */, nullptr); !NT_SUCCESS(s)) return s;
  ob::MakeTemporary(ref.body());
  return STATUS_SUCCESS;
}

void NTAPI ObMakeTemporaryObject(PVOID Object) { ob::MakeTemporary(Object); }

}  // namespace ntbox::nt
