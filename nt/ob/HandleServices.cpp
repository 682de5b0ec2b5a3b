// The services on handles themselves: NtDuplicateObject (DuplicateHandle: within a process or
// between two), NtQueryObject and NtSetInformationObject (a handle's inherit and protect-from-close
// flags: SetHandleInformation, and what a child process inherits).
#include "nt/ob/ObExports.h"
#include "nt/ob/ObCallbacks.h"

#include <cstring>
#include <vector>

#include "nt/Kernel.h"
#include "nt/io/IoExports.h"
#include "nt/Status.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {
namespace {

constexpr ULONG DUPLICATE_CLOSE_SOURCE = 0x1, DUPLICATE_SAME_ACCESS = 0x2, DUPLICATE_SAME_ATTRIBUTES = 0x4;
constexpr ULONG ObjectBasicInformation = 0, ObjectNameInformation = 1, ObjectHandleFlagInformation = 4;
constexpr ACCESS_MASK kGenericBits = 0xF0000000, kThreadAllAccess = 0x1FFFFF;
constexpr std::intptr_t kCurrentProcess = -1, kCurrentThread = -2;

// OBJECT_BASIC_INFORMATION (x64).
struct ObjectBasic {
  ULONG Attributes;
  ACCESS_MASK GrantedAccess;
  ULONG HandleCount;
  ULONG PointerCount;
  ULONG PagedPoolUsage;
  ULONG NonPagedPoolUsage;
  ULONG Reserved[3];
  ULONG NameInformationLength;
  ULONG TypeInformationLength;
  ULONG SecurityDescriptorLength;
  LARGE_INTEGER CreateTime;
};
static_assert(sizeof(ObjectBasic) == 0x38);

// OBJECT_HANDLE_FLAG_INFORMATION.
struct HandleFlags {
  BOOLEAN Inherit;
  BOOLEAN ProtectFromClose;
};

// A handle of the calling process (pseudo-handles included) as its table entry, referenced.
std::optional<ob::HandleTable::Entry> ReferenceOwnHandle(HANDLE handle) {
  const auto value = reinterpret_cast<std::intptr_t>(handle);
  if (value == kCurrentProcess) {
    void* body = ps::CurrentProcess().object();
    ob::ReferenceObject(body);
    return ob::HandleTable::Entry{body, ps::PROCESS_ALL_ACCESS, 0};
  }
  if (value == kCurrentThread) {
    ke::KernelThread* t = ke::CurrentThread();
    if (!t) return std::nullopt;
    ob::ReferenceObject(t->kthread());
    return ob::HandleTable::Entry{t->kthread(), kThreadAllAccess, 0};
  }
  if ((static_cast<ob::HandleValue>(value) & ob::kKernelHandleBit) == ob::kKernelHandleBit) {
    // A kernel handle: the System process's table, for a kernel-mode caller (a driver's Zw call).
    if (ExGetPreviousMode() != KernelMode) return std::nullopt;
    return Kernel::Current().systemProcess().handles().Reference(static_cast<ob::HandleValue>(value) & ~ob::kKernelHandleBit);
  }
  return ps::CurrentProcess().handles().Reference(static_cast<ob::HandleValue>(value));
}

}  // namespace

NTSTATUS NTAPI NtDuplicateObject(HANDLE SourceProcessHandle, HANDLE SourceHandle, HANDLE TargetProcessHandle,
                                 HANDLE* TargetHandle, ACCESS_MASK DesiredAccess, ULONG HandleAttributes,
                                 ULONG Options) {
  if (TargetHandle && !mm::WriteCaller(TargetHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ps::Process* source = ps::ProcessOfHandle(SourceProcessHandle, ps::PROCESS_DUP_HANDLE);
  if (!source) return STATUS_INVALID_HANDLE;
  // The source handle: pseudo-handles mean the caller's own process and thread.
  std::optional<ob::HandleTable::Entry> entry;
  const auto sourceValue = reinterpret_cast<ob::HandleValue>(SourceHandle);
  if (source == &ps::CurrentProcess()) {
    entry = ReferenceOwnHandle(SourceHandle);
  } else if ((sourceValue & ob::kKernelHandleBit) != ob::kKernelHandleBit) {
    entry = source->handles().Reference(sourceValue);
  }
  if (!entry) return STATUS_INVALID_HANDLE;
  NTSTATUS status = STATUS_SUCCESS;
  if (TargetProcessHandle) {
    ps::Process* target = ps::ProcessOfHandle(TargetProcessHandle, ps::PROCESS_DUP_HANDLE);
    if (!target) {
      status = STATUS_INVALID_HANDLE;
    } else {
      // A copy has at most the source's rights; generic rights ask for all of them.
      ACCESS_MASK access = DesiredAccess;
      if (Options & DUPLICATE_SAME_ACCESS) access = entry->access;
      else if (access & kGenericBits) access = (access & ~kGenericBits) | entry->access;
      const ULONG attributes = (Options & DUPLICATE_SAME_ATTRIBUTES) ? entry->attributes : HandleAttributes;
      // A kernel-mode caller may ask for a kernel handle (OBJ_KERNEL_HANDLE), in the System process's table.
      const bool kernelHandle = (HandleAttributes & OBJ_KERNEL_HANDLE) && ExGetPreviousMode() == KernelMode;
      ps::Process& table = kernelHandle ? Kernel::Current().systemProcess() : *target;
      ob::HandleOperation operation(OB_OPERATION_HANDLE_DUPLICATE, entry->body, access, kernelHandle, source->object(),
                                    target->object());
      access = operation.access();
      ob::HandleValue value = table.handles().Insert(entry->body, access, kernelHandle ? 0 : attributes & ob::kHandleInherit);
      operation.Finish(STATUS_SUCCESS, access);
      const ob::HandleValue index = value;
      if (kernelHandle) value |= ob::kKernelHandleBit;
      if (TargetHandle && !mm::WriteCaller(TargetHandle, reinterpret_cast<HANDLE>(value))) {
        if (auto removed = table.handles().Remove(index)) ob::CloseHandleEntry(*removed);
        status = STATUS_ACCESS_VIOLATION;
      }
    }
  }
  ob::DereferenceObject(entry->body);
  // DUPLICATE_CLOSE_SOURCE closes the source whatever became of the copy, as on Windows.
  if ((Options & DUPLICATE_CLOSE_SOURCE) && std::abs(reinterpret_cast<std::intptr_t>(SourceHandle)) > 2) {
    if (auto removed = source->handles().Remove(sourceValue)) ob::CloseHandleEntry(*removed);
  }
  return status;
}

NTSTATUS NTAPI NtQueryObject(HANDLE Handle, ULONG ObjectInformationClass, PVOID ObjectInformation, ULONG Length,
                             ULONG* ReturnLength) {
  auto entry = ReferenceOwnHandle(Handle);
  if (!entry) return STATUS_INVALID_HANDLE;
  const ob::ObjectHeader* h = ob::HeaderOf(entry->body);
  ObjectBasic basic{};
  HandleFlags flags{};
  std::vector<std::uint8_t> nameInfo;
  const void* info = nullptr;
  ULONG size = 0;
  switch (ObjectInformationClass) {
    case ObjectBasicInformation:
      basic.Attributes = entry->attributes;
      basic.GrantedAccess = entry->access;
      basic.HandleCount = static_cast<ULONG>(h->handleCount.load());
      basic.PointerCount = static_cast<ULONG>(h->pointerCount.load() - 1);  // less this service's own
      info = &basic;
      size = sizeof basic;
      break;
    case ObjectNameInformation: {
      // OBJECT_NAME_INFORMATION: a UNICODE_STRING whose text follows it in the caller's buffer.
      const std::u16string name = Kernel::Current().objects().NameOf(entry->body).value_or(u"");
      nameInfo.assign(sizeof(UNICODE_STRING) + (name.empty() ? 0 : (name.size() + 1) * 2), 0);
      UNICODE_STRING u{};
      u.Length = static_cast<USHORT>(name.size() * 2);
      u.MaximumLength = static_cast<USHORT>(name.empty() ? 0 : u.Length + 2);
      u.Buffer = name.empty() ? nullptr : reinterpret_cast<WCHAR*>(static_cast<std::uint8_t*>(ObjectInformation) + sizeof u);
      std::memcpy(nameInfo.data(), &u, sizeof u);
      std::memcpy(nameInfo.data() + sizeof u, name.data(), name.size() * 2);
      info = nameInfo.data();
      size = static_cast<ULONG>(nameInfo.size());
      break;
    }
    case ObjectHandleFlagInformation:
      flags.Inherit = (entry->attributes & ob::kHandleInherit) != 0;
      flags.ProtectFromClose = (entry->attributes & ob::kHandleProtectClose) != 0;
      info = &flags;
      size = sizeof flags;
      break;
    default:
      ob::DereferenceObject(entry->body);
      return STATUS_INVALID_INFO_CLASS;
  }
  ob::DereferenceObject(entry->body);
  if (ReturnLength && !mm::WriteCaller(ReturnLength, size)) return STATUS_ACCESS_VIOLATION;
  if (Length < size) return STATUS_INFO_LENGTH_MISMATCH;
  if (!mm::WriteCaller(ObjectInformation, info, size)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtSetInformationObject(HANDLE Handle, ULONG ObjectInformationClass, PVOID ObjectInformation,
                                      ULONG Length) {
  if (ObjectInformationClass != ObjectHandleFlagInformation) return STATUS_INVALID_INFO_CLASS;
  if (Length != sizeof(HandleFlags)) return STATUS_INFO_LENGTH_MISMATCH;
  const auto flags = mm::ReadCaller(static_cast<const HandleFlags*>(ObjectInformation));
  if (!flags) return STATUS_ACCESS_VIOLATION;
  const auto value = reinterpret_cast<ob::HandleValue>(Handle);
  if ((value & ob::kKernelHandleBit) == ob::kKernelHandleBit) return STATUS_INVALID_HANDLE;
  const ULONG attributes =
      (flags->Inherit ? ob::kHandleInherit : 0u) | (flags->ProtectFromClose ? ob::kHandleProtectClose : 0u);
  return ps::CurrentProcess().handles().SetAttributes(value, attributes) ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

}  // namespace ntbox::nt
