// NtCreateUserProcess: a program starts another program in the machine (CreateProcess). The
// kernel copies what the creator asks for (the image's name, the process parameters, the
// attribute list's inputs), the creator's runner (its ThreadHost) makes the process with its
// first thread suspended, and the creator gets handles to both and their ids.
#include <cstring>
#include <filesystem>

#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/ps/PsExports.h"
#include "nt/ps/UserThreads.h"

namespace ntbox::nt {
namespace {

// PS_ATTRIBUTE.Attribute values (PsAttributeValue(number, thread, input, additive)).
constexpr std::uint64_t kAttributeParentProcess = 0x60000, kAttributeDebugPort = 0x60001;
constexpr std::uint64_t kAttributeToken = 0x60002, kAttributeClientId = 0x10003, kAttributeImageName = 0x20005;
constexpr std::uint64_t kAttributeImageInfo = 0x00006, kAttributeHandleList = 0x2000B, kAttributeJobList = 0x20013;
constexpr std::uint64_t kAttributeMaskNumber = 0xFFFF;
constexpr ULONG PROCESS_CREATE_FLAGS_INHERIT_HANDLES = 0x4;
constexpr ULONG THREAD_CREATE_FLAGS_CREATE_SUSPENDED = 0x1;
constexpr ACCESS_MASK kThreadAllAccess = 0x1FFFFF, kProcessCreateProcess = 0x80;
constexpr std::size_t kMaxAttributes = 32;
constexpr std::uint32_t kPsCreateSuccess = 6;  // PS_CREATE_INFO.State

struct PsAttribute {
  std::uint64_t Attribute;
  std::uint64_t Size;
  std::uint64_t Value;
  std::uint64_t ReturnLength;
};
static_assert(sizeof(PsAttribute) == 32);

// The handle's attributes an OBJECT_ATTRIBUTES asks for (OBJ_INHERIT); no name allowed.
NTSTATUS HandleAttributes(const void* objectAttributes, ULONG& attributes) {
  attributes = 0;
  if (!objectAttributes) return STATUS_SUCCESS;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(objectAttributes, a); !NT_SUCCESS(s)) return s;
  if (!a.name.empty()) return STATUS_INVALID_PARAMETER;
  attributes = a.attributes & ob::kHandleInherit;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI NtCreateUserProcess(HANDLE* ProcessHandle, HANDLE* ThreadHandle, ACCESS_MASK ProcessDesiredAccess,
                                   ACCESS_MASK ThreadDesiredAccess, PVOID ProcessObjectAttributes,
                                   PVOID ThreadObjectAttributes, ULONG ProcessFlags, ULONG ThreadFlags,
                                   PVOID ProcessParameters, PVOID CreateInfo, PVOID AttributeList) {
  if (!mm::WriteCaller(ProcessHandle, HANDLE{}) || !mm::WriteCaller(ThreadHandle, HANDLE{})) {
    return STATUS_ACCESS_VIOLATION;
  }
  ps::Process& creator = ps::CurrentProcess();
  if (!creator.threadHost) return STATUS_NOT_SUPPORTED;  // drivers start no programs
  ULONG processAttributes = 0, threadAttributes = 0;
  if (const NTSTATUS s = HandleAttributes(ProcessObjectAttributes, processAttributes); !NT_SUCCESS(s)) return s;
  if (const NTSTATUS s = HandleAttributes(ThreadObjectAttributes, threadAttributes); !NT_SUCCESS(s)) return s;

  // The attribute list: the image's name and the outputs the creator wants.
  ps::ThreadHost::ProcessRequest request;
  std::u16string imageName;
  std::uint64_t clientIdOut = 0, imageInfoOut = 0;
  if (AttributeList) {
    const auto total = mm::ReadCaller(static_cast<const std::uint64_t*>(AttributeList));
    if (!total) return STATUS_ACCESS_VIOLATION;
    if (*total < 8 || (*total - 8) % sizeof(PsAttribute) || (*total - 8) / sizeof(PsAttribute) > kMaxAttributes) {
      return STATUS_INVALID_PARAMETER;
    }
    const auto* attributes = reinterpret_cast<const PsAttribute*>(static_cast<const std::uint8_t*>(AttributeList) + 8);
    for (std::size_t i = 0; i < (*total - 8) / sizeof(PsAttribute); ++i) {
      const auto a = mm::ReadCaller(attributes + i);
      if (!a) return STATUS_ACCESS_VIOLATION;
      switch (a->Attribute) {
        case kAttributeImageName:
          if (a->Size % 2 || a->Size > 0xFFFE) return STATUS_INVALID_PARAMETER;
          imageName.assign(a->Size / 2, u'\0');
          if (!mm::ReadCaller(imageName.data(), reinterpret_cast<const void*>(a->Value), a->Size)) {
            return STATUS_ACCESS_VIOLATION;
          }
          break;
        case kAttributeClientId:
          if (a->Size < 16) return STATUS_INVALID_PARAMETER;
          clientIdOut = a->Value;
          break;
        case kAttributeImageInfo:
          if (a->Size < 0x40) return STATUS_INVALID_PARAMETER;
          imageInfoOut = a->Value;
          break;
        case kAttributeParentProcess: {
          // Another parent (PROC_THREAD_ATTRIBUTE_PARENT_PROCESS): only the creator itself, so far.
          ps::Process* parent = ps::ProcessOfHandle(reinterpret_cast<HANDLE>(a->Value), kProcessCreateProcess);
          if (!parent) return STATUS_INVALID_HANDLE;
          if (parent != &creator) return STATUS_NOT_SUPPORTED;
          break;
        }
        case kAttributeHandleList: {
          if (a->Size % 8 || a->Size > 8 * 1024) return STATUS_INVALID_PARAMETER;
          std::vector<std::uint64_t> list(a->Size / 8);
          if (!mm::ReadCaller(list.data(), reinterpret_cast<const void*>(a->Value), a->Size)) {
            return STATUS_ACCESS_VIOLATION;
          }
          request.handleList = std::move(list);
          break;
        }
        case kAttributeDebugPort:  // a user-mode debugger of the process: none in the machine
        case kAttributeToken:      // another user's token: the machine has one user
        case kAttributeJobList:    // job objects: not yet
          return STATUS_NOT_SUPPORTED;
        default:
          // Inputs ntbox does not know change how the process runs: refuse rather than ignore them.
          if (a->Attribute & 0x20000 && (a->Attribute & kAttributeMaskNumber) != 0) return STATUS_NOT_SUPPORTED;
          break;
      }
    }
  }
  if (imageName.empty()) return STATUS_OBJECT_PATH_NOT_FOUND;
  if (const NTSTATUS s = io::HostPathOfFile(imageName, request.hostPath); !NT_SUCCESS(s)) return s;
  auto parameters = ps::CaptureProcessParameters(ProcessParameters);
  if (!parameters) return parameters.error();
  request.parameters = std::move(*parameters);
  request.inheritHandles = (ProcessFlags & PROCESS_CREATE_FLAGS_INHERIT_HANDLES) != 0;

  auto created = creator.threadHost->CreateProcess(request);
  if (!created) return created.error();
  ps::Process* child = ps::Process::FromObject(created->process);
  ps::ThreadControl* thread = ps::ControlOf(created->thread);
  const ULONG pid = ps::RecordOf(created->process)->id;
  const std::uint64_t tid = thread ? thread->id : 0;
  const auto imageInformation = child ? child->imageInformation : std::array<std::uint8_t, 0x40>{};
  const HANDLE process =
      ob::InsertHandle(created->process, ps::MapProcessAccess(ProcessDesiredAccess ? ProcessDesiredAccess : ps::PROCESS_ALL_ACCESS),
                       false, processAttributes);
  const HANDLE threadHandle = ob::InsertHandle(created->thread, ThreadDesiredAccess ? ThreadDesiredAccess : kThreadAllAccess,
                                               false, threadAttributes);
  ob::DereferenceObject(created->process);
  ob::DereferenceObject(created->thread);
  const std::uint64_t clientId[2] = {pid, tid};
  bool written = mm::WriteCaller(ProcessHandle, process) && mm::WriteCaller(ThreadHandle, threadHandle);
  if (clientIdOut) written = written && mm::WriteCaller(reinterpret_cast<void*>(clientIdOut), clientId, sizeof clientId);
  if (imageInfoOut) {
    written = written && mm::WriteCaller(reinterpret_cast<void*>(imageInfoOut), imageInformation.data(), imageInformation.size());
  }
  if (CreateInfo) (void)mm::WriteCaller(static_cast<std::uint8_t*>(CreateInfo) + 8, &kPsCreateSuccess, 4);
  if (!(ThreadFlags & THREAD_CREATE_FLAGS_CREATE_SUSPENDED) && thread) {
    std::lock_guard lock(thread->mutex);
    thread->suspendCount = 0;
    thread->changed.notify_all();
  }
  if (!written) {
    // The creator cannot be told of the process: it ends before it runs.
    if (child && child->threadHost) child->threadHost->TerminateProcess(STATUS_ACCESS_VIOLATION);
    (void)NtClose(process);
    (void)NtClose(threadHandle);
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
