#include "nt/ke/KeExports.h"
#include "nt/ps/Process.h"

#include "nt/kd/Debugger.h"
#include "nt/ps/UserThreads.h"

#include <atomic>
#include <map>
#include <mutex>

#include "nt/Kernel.h"
#include "nt/io/IoExports.h"
#include "nt/ke/Thread.h"
#include "nt/ps/PsExports.h"
#include "nt/Status.h"
#include "nt/mm/Probe.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeTypes.h"
#include "nt/ob/ObExports.h"

#include <cstring>

namespace ntbox::nt::ps {
namespace {

std::atomic<ULONG> g_nextId{0x100};

// The live processes by id (NtOpenProcess): each inserted by its constructor, removed at its end.
std::mutex g_tableMutex;
std::map<ULONG, Process*>& Table() {
  static std::map<ULONG, Process*> table;
  return table;
}

}  // namespace

ProcessRecord* RecordOf(void* processObject) {
  ob::ObjectHeader* h = ob::HeaderOf(processObject);
  if (!h || h->type != &ob::ProcessType()) return nullptr;
  return reinterpret_cast<ProcessRecord*>(static_cast<std::uint8_t*>(processObject) + kProcessRecordOffset);
}

Process::Process(std::string imageName, ULONG id, std::unique_ptr<mm::UserSpace> space)
    : imageName_(std::move(imageName)), id_(id), space_(std::move(space)) {
  object_ = ob::CreateObject(ob::ProcessType(), kProcessObjectSize, this);
  static_cast<DISPATCHER_HEADER*>(object_)->Type = dispatcher_type::kProcess;
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  createTime = now.QuadPart;
  ProcessRecord* r = RecordOf(object_);
  r->id = id;
  r->exitStatus = STATUS_PENDING;
  r->createTime = createTime;
  // EPROCESS.ImageFileName: the file name alone, cut to 14 characters as Windows cuts it.
  const std::string file = imageName_.substr(imageName_.find_last_of("\\/") + 1);
  std::memcpy(r->imageFileName, file.data(), std::min<std::size_t>(file.size(), 14));
  std::lock_guard lock(g_tableMutex);
  Table()[id] = this;
}

void Process::Unlist() {
  std::lock_guard lock(g_tableMutex);
  if (const auto it = Table().find(id_); it != Table().end() && it->second == this) Table().erase(it);
}

std::vector<ULONG> Process::LiveIds() {
  std::lock_guard lock(g_tableMutex);
  std::vector<ULONG> out;
  for (const auto& [id, process] : Table()) out.push_back(id);
  return out;
}

void* Process::ReferenceById(ULONG id) {
  std::lock_guard lock(g_tableMutex);
  const auto it = Table().find(id);
  if (it == Table().end()) return nullptr;
  ob::ReferenceObject(it->second->object_);
  return it->second->object_;
}

ULONG Process::parentId() const { return RecordOf(object_)->parentId; }
void Process::SetParent(ULONG parentId) { RecordOf(object_)->parentId = parentId; }
void Process::SetPeb(std::uint64_t peb) { RecordOf(object_)->peb = peb; }
void Process::SetSectionBase(std::uint64_t base) { RecordOf(object_)->sectionBase = base; }
std::uint64_t Process::peb() const { return RecordOf(object_)->peb; }

void Process::End(NTSTATUS status) {
  ob::ObjectHeader* h = ob::HeaderOf(object_);
  if (!h->hostContext) return;
  ProcessRecord* r = RecordOf(object_);
  r->exitStatus = status;
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  r->exitTime = now.QuadPart;
  {
    std::lock_guard lock(timesMutex);
    r->userTime = endedUserTime;
    r->kernelTime = endedKernelTime;
  }
  h->hostContext = nullptr;
  Unlist();
  static_cast<DISPATCHER_HEADER*>(object_)->SignalState = 1;
  ke::WakeWaiters();
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

namespace {

// Host files a program's code asks for go to its process's opener (OpenHostFile).
HostFileOpener* ProcessOpener() {
  ke::KernelThread* t = ke::CurrentThread();
  return t && t->process ? t->process->hostFiles.get() : nullptr;
}
const bool g_openerLookup = (SetHostFileOpenerLookup(&ProcessOpener), true);

}  // namespace

Process& CurrentProcess() {
  ke::KernelThread* t = ke::CurrentThread();
  return t && t->process ? *t->process : Kernel::Current().systemProcess();
}

ACCESS_MASK MapProcessAccess(ACCESS_MASK access) {
  if (access & (0x02000000 /* MAXIMUM_ALLOWED */ | 0x10000000 /* GENERIC_ALL */)) access |= PROCESS_ALL_ACCESS;
  if (access & 0x80000000 /* GENERIC_READ */) access |= 0x20000 | PROCESS_VM_READ | PROCESS_QUERY_INFORMATION;
  if (access & 0x20000000 /* GENERIC_EXECUTE */) access |= 0x100000 | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE;
  if (access & PROCESS_QUERY_INFORMATION) access |= PROCESS_QUERY_LIMITED_INFORMATION;
  return access & 0x0FFFFFFF & ~0x02000000u;
}

Process* ProcessOfHandle(HANDLE handle, ACCESS_MASK access) {
  constexpr std::intptr_t kNtCurrentProcess = -1;
  if (reinterpret_cast<std::intptr_t>(handle) == kNtCurrentProcess) return &CurrentProcess();
  ob::HandleReference ref;
  if (!NT_SUCCESS(ref.Open(handle, access, &ob::ProcessType()))) return nullptr;
  return Process::FromObject(ref.body());
}

void Process::DropSpace() {
  if (space_) kd::Debugger::Get().OnModuleUnload(space_->base(), space_->end());
  space_.reset();
}

Process::~Process() {
  Unlist();
  CloseAllHandles();
  // Breakpoints in its code go with its address space (another process may get the same slice).
  if (space_) kd::Debugger::Get().OnModuleUnload(space_->base(), space_->end());
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
  if (handle != -1) {
    ps::Process* target = ps::ProcessOfHandle(ProcessHandle, ps::PROCESS_TERMINATE);
    if (!target) {
      // A process that has already ended: nothing more to do; a bad handle: say so.
      ob::HandleReference ref;
      const NTSTATUS s = ref.Open(ProcessHandle, ps::PROCESS_TERMINATE, &ob::ProcessType());
      return NT_SUCCESS(s) ? STATUS_PROCESS_IS_TERMINATING : s;
    }
    if (target != t->process) {
      if (!target->threadHost) return STATUS_ACCESS_DENIED;
      target->threadHost->TerminateProcess(ExitStatus);
      return STATUS_SUCCESS;
    }
  }
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

NTSTATUS NTAPI NtOpenProcess(HANDLE* ProcessHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                             CLIENT_ID* ClientId) {
  if (!mm::WriteCaller(ProcessHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(ObjectAttributes, a); !NT_SUCCESS(s)) return s;
  if (!a.name.empty()) return STATUS_INVALID_PARAMETER_MIX;  // by name or by id, not both
  const auto id = mm::ReadCaller(ClientId);
  if (!ClientId || !id) return STATUS_ACCESS_VIOLATION;
  const auto pid = reinterpret_cast<std::uint64_t>(id->UniqueProcess);
  if (pid > 0xFFFFFFFF) return STATUS_INVALID_CID;
  // The System process is the kernel's: a program may only ask about it and wait for it.
  constexpr ACCESS_MASK kLimited = ps::PROCESS_QUERY_LIMITED_INFORMATION | 0x100000 /* SYNCHRONIZE */;
  if (pid == Kernel::Current().systemProcess().id() && ExGetPreviousMode() == UserMode &&
      (DesiredAccess & ~kLimited) != 0) {
    return STATUS_ACCESS_DENIED;
  }
  void* object = ps::Process::ReferenceById(static_cast<ULONG>(pid));
  if (!object) return STATUS_INVALID_CID;
  return ob::ReturnNewHandle(object, ps::MapProcessAccess(DesiredAccess), ProcessHandle, a.kernelHandle, a.attributes);
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
  // The object, so a process that has ended still answers for its exit status and times.
  ob::HandleReference ref;
  void* object = nullptr;
  if (reinterpret_cast<std::intptr_t>(ProcessHandle) == -1) {
    object = ps::CurrentProcess().object();
  } else if (const NTSTATUS s = ref.Open(ProcessHandle, 0, &ob::ProcessType()); !NT_SUCCESS(s)) {
    return s;
  } else {
    object = ref.body();
  }
  const ps::ProcessRecord& record = *ps::RecordOf(object);
  ps::Process* live = ps::Process::FromObject(object);
  std::uint8_t info[0x40] = {};
  std::size_t size = 0;
  auto put = [&info](std::size_t at, auto value) { std::memcpy(info + at, &value, sizeof value); };
  switch (ProcessInformationClass) {
    case ProcessBasicInformation:
      size = 0x30;
      put(0x00, record.exitStatus);  // STATUS_PENDING while it runs
      put(0x08, record.peb);
      put(0x10, std::uint64_t{1});
      put(0x18, LONG{8});  // BasePriority: normal
      put(0x20, static_cast<std::uint64_t>(record.id));
      put(0x28, static_cast<std::uint64_t>(record.parentId ? record.parentId : Kernel::Current().systemProcess().id()));
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
      put(0x0, static_cast<ULONG>(record.id * 0x9E3779B1u));
      break;
    case ProcessImageInformation:
      if (!live) return STATUS_PROCESS_IS_TERMINATING;
      size = 0x40;
      std::memcpy(info, live->imageInformation.data(), size);
      break;
    case ProcessTimes: {  // KERNEL_USER_TIMES: creation, exit (0 while it runs), kernel, user
      size = 0x20;
      std::int64_t user = record.userTime, kernel = record.kernelTime;
      if (live) ProcessCpuTimes(*live, user, kernel);
      put(0x00, record.createTime);
      put(0x08, record.exitTime);
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
