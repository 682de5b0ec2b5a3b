#include "nt/ke/KeExports.h"
#include "nt/ps/Process.h"
#include "nt/ps/UserThreads.h"

#include <atomic>

#include "nt/Kernel.h"
#include "nt/ke/Thread.h"
#include "nt/ps/PsExports.h"
#include "nt/Status.h"
#include "nt/mm/Probe.h"

#include <cstring>

namespace ntbox::nt::ps {
namespace {

std::atomic<ULONG> g_nextId{0x100};

}  // namespace

Process::Process(std::string imageName, ULONG id, std::unique_ptr<mm::UserSpace> space)
    : imageName_(std::move(imageName)), id_(id), space_(std::move(space)) {
  object_ = ob::CreateObject(ob::ProcessType(), kProcessObjectSize, this);
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  createTime = now.QuadPart;
}

Result<std::unique_ptr<Process>> Process::Create(std::string imageName) {
  auto space = mm::UserSpace::Create();
  if (!space) return std::unexpected(space.error());
  return std::unique_ptr<Process>(new Process(std::move(imageName), g_nextId.fetch_add(4), std::move(*space)));
}

std::unique_ptr<Process> Process::CreateSystem() { return std::unique_ptr<Process>(new Process("System", 4, nullptr)); }

Process* Process::FromObject(const void* body) {
  ob::ObjectHeader* h = ob::HeaderOf(body);
  return h && h->type == &ob::ProcessType() ? static_cast<Process*>(h->hostContext) : nullptr;
}

void Process::CloseAllHandles() {
  for (const auto& entry : handles_.RemoveAll()) ob::CloseHandleEntry(entry);
}

Process& CurrentProcess() {
  ke::KernelThread* t = ke::CurrentThread();
  return t && t->process ? *t->process : Kernel::Current().systemProcess();
}

Process* ProcessOfHandle(HANDLE handle) {
  constexpr std::intptr_t kNtCurrentProcess = -1;
  return reinterpret_cast<std::intptr_t>(handle) == kNtCurrentProcess ? &CurrentProcess() : nullptr;
}

Process::~Process() {
  CloseAllHandles();
  if (token) ob::DereferenceObject(token);
  if (ob::ObjectHeader* h = ob::HeaderOf(object_)) h->hostContext = nullptr;
  ob::DereferenceObject(object_);
}

}  // namespace ntbox::nt::ps

namespace ntbox::nt {

NTSTATUS NTAPI NtTerminateProcess(HANDLE ProcessHandle, NTSTATUS ExitStatus) {
  const auto handle = reinterpret_cast<std::intptr_t>(ProcessHandle);
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->userGuard || !t->process) return STATUS_ACCESS_DENIED;  // the System process does not end
  if (handle == 0) {
    // Every other thread of the caller's process ends first (ExitProcess does this, then detaches
    // its DLLs on this thread alone).
    if (t->process->threadHost) t->process->threadHost->TerminateOtherThreads(ExitStatus);
    return STATUS_SUCCESS;
  }
  if (handle != -1) return STATUS_NOT_IMPLEMENTED;
  t->userExit = {};
  t->userExit.kind = 1;  // cpu::UserExitKind::kExited
  t->userExit.code = static_cast<std::uint32_t>(ExitStatus);
  // Ending with the code of the exception it was just given (kernelbase's unhandled-exception
  // filter does that): the report says which exception and where, as for a program that faulted.
  if (t->lastException.kind == 2 && t->lastException.code == static_cast<std::uint32_t>(ExitStatus)) {
    t->userExit = t->lastException;
  }
  t->exitRequested = true;
  return STATUS_SUCCESS;
}

namespace {

// The ended threads' times and the live ones' (each through its host thread).
void ProcessCpuTimes(ps::Process& p, std::int64_t& user, std::int64_t& kernel) {
  std::lock_guard lock(p.timesMutex);
  user = p.endedUserTime;
  kernel = p.endedKernelTime;
  for (const int tid : p.liveThreads) {
    std::int64_t u = 0, k = 0;
    ps::HostThreadCpuTimes(tid, u, k);
    user += u;
    kernel += k;
  }
}

}  // namespace

NTSTATUS NTAPI NtQueryInformationProcess(HANDLE ProcessHandle, ULONG ProcessInformationClass,
                                         PVOID ProcessInformation, ULONG Length, ULONG* ReturnLength) {
  constexpr ULONG ProcessBasicInformation = 0, ProcessDebugPort = 7, ProcessDefaultHardErrorMode = 12;
  constexpr ULONG ProcessSessionInformation = 24, ProcessWow64Information = 26, ProcessCookie = 36;
  constexpr ULONG ProcessImageInformation = 46, ProcessDebugObjectHandle = 30, ProcessDebugFlags = 31;
  constexpr ULONG ProcessTimes = 4;
  ps::Process* process = ps::ProcessOfHandle(ProcessHandle);
  if (!process) return STATUS_INVALID_HANDLE;
  ps::Process& p = *process;
  std::uint8_t info[0x40] = {};
  std::size_t size = 0;
  auto put = [&info](std::size_t at, auto value) { std::memcpy(info + at, &value, sizeof value); };
  switch (ProcessInformationClass) {
    case ProcessBasicInformation:
      size = 0x30;
      put(0x00, STATUS_PENDING);  // ExitStatus: still running
      put(0x08, p.peb);
      put(0x10, std::uint64_t{1});
      put(0x18, LONG{8});  // BasePriority: normal
      put(0x20, static_cast<std::uint64_t>(p.id()));
      put(0x28, static_cast<std::uint64_t>(Kernel::Current().systemProcess().id()));
      break;
    case ProcessDebugPort:
    case ProcessWow64Information:
      size = 8;  // no debugger, not WoW64
      break;
    case ProcessDebugObjectHandle: return STATUS_PORT_NOT_SET;
    case ProcessDebugFlags:
      size = 4;
      put(0x0, ULONG{1});  // NoDebugInherit: no debugger
      break;
    case ProcessDefaultHardErrorMode:
      size = 4;
      break;
    case ProcessSessionInformation:
      size = 4;
      put(0x0, ULONG{1});
      break;
    case ProcessCookie:
      size = 4;
      put(0x0, static_cast<ULONG>(p.id() * 0x9E3779B1u));
      break;
    case ProcessImageInformation:
      size = 0x40;
      std::memcpy(info, p.imageInformation.data(), size);
      break;
    case ProcessTimes: {  // KERNEL_USER_TIMES: creation, exit (none yet), kernel, user
      size = 0x20;
      std::int64_t user = 0, kernel = 0;
      ProcessCpuTimes(p, user, kernel);
      put(0x00, p.createTime);
      put(0x10, kernel);
      put(0x18, user);
      break;
    }
    default: return STATUS_INVALID_INFO_CLASS;
  }
  if (Length != size && !(ProcessInformationClass == ProcessBasicInformation && Length >= size)) {
    return STATUS_INFO_LENGTH_MISMATCH;
  }
  if (!mm::WriteCaller(ProcessInformation, info, size)) return STATUS_ACCESS_VIOLATION;
  if (ReturnLength && !mm::WriteCaller(ReturnLength, static_cast<ULONG>(size))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
