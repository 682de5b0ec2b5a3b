// The thread services of programs: NtCreateThreadEx, NtResumeThread, NtTerminateThread,
// NtQueryInformationThread, NtSetInformationThread, and the alerts by thread id that Wine's
// critical sections, SRW locks and condition variables sleep on (NtWaitForAlertByThreadId).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/ps/PsExports.h"
#include "nt/ps/UserThreads.h"
#include "nt/ps/ThreadTable.h"
#include "cpu/SafeCopy.h"
#include "cpu/UserMode.h"
#include "nt/mm/Probe.h"

namespace ntbox::nt {
namespace ps {

ThreadControl* ControlOf(void* threadObject) {
  ob::ObjectHeader* h = ob::HeaderOf(threadObject);
  return h && h->type == &ob::ThreadType() ? static_cast<ThreadControl*>(h->hostContext) : nullptr;
}

namespace {

std::int64_t SystemTimeNow() {
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  return now.QuadPart;
}

std::int64_t FromTimeval(const timeval& t) { return t.tv_sec * 10'000'000ll + t.tv_usec * 10ll; }

}  // namespace

void* CreateUserThreadObject(ThreadControl* control) {
  control->createTime = SystemTimeNow();
  void* object = ke::CreateThreadObject();
  ob::HeaderOf(object)->hostContext = control;  // freed with the object (ps/ThreadTable.cpp)
  ListThread(object, control->id, control->processId);
  return object;
}

void ThreadCpuTimes(const ThreadControl& control, std::int64_t& user, std::int64_t& kernel) {
  user = control.userTime;
  kernel = control.kernelTime;
  if (!control.ended && control.hostTid) HostThreadCpuTimes(control.hostTid, user, kernel);
}

void HostThreadCpuTimes(int tid, std::int64_t& user, std::int64_t& kernel) {
  if (tid == static_cast<int>(::gettid())) {
    rusage r{};
    if (::getrusage(RUSAGE_THREAD, &r) == 0) {
      user = FromTimeval(r.ru_utime);
      kernel = FromTimeval(r.ru_stime);
    }
    return;
  }
  // Another thread: /proc's utime and stime (fields 14 and 15, in clock ticks), after the
  // command name in parentheses.
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  std::int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  const std::int64_t tick = 10'000'000ll / std::max(1L, ::sysconf(_SC_CLK_TCK));
  user = utime * tick;
  kernel = stime * tick;
}

void StartUserThread(void* threadObject) {
  ThreadControl* c = ControlOf(threadObject);
  if (!c) return;
  {
    std::lock_guard lock(c->mutex);
    c->hostTid = static_cast<int>(::gettid());
  }
  ke::CurrentThread()->suspendCount = &c->suspendCount;
  if (ps::Process* p = ke::CurrentThread()->process) {
    std::lock_guard lock(p->timesMutex);
    p->liveThreads.insert(c->hostTid);
  }
}

void EndUserThread(void* threadObject, NTSTATUS status) {
  if (ThreadControl* c = ControlOf(threadObject)) {
    std::int64_t user = 0, kernel = 0;
    ThreadCpuTimes(*c, user, kernel);
    std::lock_guard lock(c->mutex);
    c->exitStatus = status;
    c->exitTime = SystemTimeNow();
    c->userTime = user;
    c->kernelTime = kernel;
    if (ps::Process* p = ke::CurrentThread()->process; p && c->hostTid && !c->ended) {
      std::lock_guard times(p->timesMutex);
      if (p->liveThreads.erase(c->hostTid)) {
        p->endedUserTime += user;
        p->endedKernelTime += kernel;
      }
    }
    c->ended = true;
  }
  static_cast<DISPATCHER_HEADER*>(threadObject)->SignalState = 1;
  ke::WakeWaiters();
}

void QueueUserApc(void* threadObject, const ThreadControl::UserApc& apc) {
  ThreadControl* c = ControlOf(threadObject);
  if (!c) return;
  {
    std::lock_guard lock(c->mutex);
    if (c->ended) return;
    c->apcs.push_back(apc);
  }
  ke::WakeWaiters();
}

bool UserApcPending() {
  ke::KernelThread* t = ke::CurrentThread();
  ThreadControl* c = t ? ControlOf(t->kthread()) : nullptr;
  if (!c) return false;
  std::lock_guard lock(c->mutex);
  return !c->apcs.empty();
}

bool DeliverUserApc(const std::uint8_t* resumeContext) {
  constexpr std::size_t kContextSize = 0x4D0, kRsp = 0x98, kRip = 0xF8, kRcx = 0x80, kRdx = 0x88, kR8 = 0xB8,
                        kR9 = 0xC0;
  ke::KernelThread* t = ke::CurrentThread();
  ThreadControl* c = ControlOf(t->kthread());
  if (!c || !t->userApcDispatcher) return false;
  ThreadControl::UserApc apc{};
  {
    std::lock_guard lock(c->mutex);
    if (c->apcs.empty()) return false;
    apc = c->apcs.front();
    c->apcs.pop_front();
  }
  // Wine's KiUserApcDispatcher: entered with rsp 8 below a 16-aligned block { home space (0x20),
  // func, pad, CONTEXT }, rcx the CONTEXT, rdx/r8/r9 the arguments; it calls func(arg1, arg2,
  // arg3, context), then NtContinue(context, TRUE).
  std::uint64_t resumeRsp = 0;
  std::memcpy(&resumeRsp, resumeContext + kRsp, 8);
  const std::uint64_t block = ((resumeRsp - 0x80) & ~0xFull) - (0x30 + kContextSize);
  std::vector<std::uint8_t> bytes(0x30 + kContextSize, 0);
  std::memcpy(bytes.data() + 0x20, &apc.func, 8);
  std::memcpy(bytes.data() + 0x30, resumeContext, kContextSize);
  if (block >= resumeRsp || !mm::IsUserRange(block, bytes.size()) ||
      !cpu::SafeCopy(reinterpret_cast<void*>(block), bytes.data(), bytes.size())) {
    return false;
  }
  std::uint8_t* entry = t->continueContext;
  std::memcpy(entry, resumeContext, kContextSize);
  const std::uint64_t context = block + 0x30, rsp = block - 8;
  std::memcpy(entry + kRsp, &rsp, 8);
  std::memcpy(entry + kRip, &t->userApcDispatcher, 8);
  std::memcpy(entry + kRcx, &context, 8);
  std::memcpy(entry + kRdx, &apc.arg1, 8);
  std::memcpy(entry + kR8, &apc.arg2, 8);
  std::memcpy(entry + kR9, &apc.arg3, 8);
  t->continuePending = true;
  return true;
}

}  // namespace ps

namespace {

constexpr std::intptr_t kCurrentThread = -2;
constexpr ACCESS_MASK THREAD_ALL_ACCESS = 0x1FFFFF;
constexpr ULONG THREAD_CREATE_FLAGS_CREATE_SUSPENDED = 0x1;
constexpr ULONG_PTR PS_ATTRIBUTE_CLIENT_ID = 0x10003, PS_ATTRIBUTE_TEB_ADDRESS = 0x10004;

struct PsAttribute {
  ULONG_PTR Attribute;
  SIZE_T Size;
  ULONG_PTR ValuePtr;
  SIZE_T* ReturnLength;
};
static_assert(sizeof(PsAttribute) == 32);

// A thread handle (or NtCurrentThread()) as its object, referenced.
class ThreadRef {
 public:
  NTSTATUS Open(HANDLE handle, ACCESS_MASK access) {
    if (reinterpret_cast<std::intptr_t>(handle) == kCurrentThread) {
      void* self = ke::CurrentThread()->kthread();
      ob::ReferenceObject(self);
      ref_.Adopt(self);
    } else if (const NTSTATUS s = ref_.Open(handle, access, &ob::ThreadType()); !NT_SUCCESS(s)) {
      return s;
    }
    control_ = ps::ControlOf(ref_.body());
    return control_ ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;  // a system thread is no program's
  }
  ps::ThreadControl& control() { return *control_; }
  void* object() const { return ref_.body(); }
  bool IsCaller() const { return ref_.body() == ke::CurrentThread()->kthread(); }

 private:
  ob::HandleReference ref_;
  ps::ThreadControl* control_ = nullptr;
};

ps::ThreadHost* HostOfCaller() {
  ke::KernelThread* t = ke::CurrentThread();
  return t && t->process ? t->process->threadHost : nullptr;
}

}  // namespace

NTSTATUS NTAPI NtCreateThreadEx(HANDLE* ThreadHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                HANDLE ProcessHandle, PVOID StartRoutine, PVOID Argument, ULONG CreateFlags,
                                SIZE_T ZeroBits, SIZE_T StackSize, SIZE_T MaximumStackSize, PVOID AttributeList) {
  (void)ZeroBits;
  if (!mm::WriteCaller(ThreadHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ps::Process* process = ps::ProcessOfHandle(ProcessHandle, 0x2 /* PROCESS_CREATE_THREAD */);
  if (!process) return STATUS_INVALID_HANDLE;
  if (process != &ps::CurrentProcess()) return STATUS_NOT_IMPLEMENTED;  // threads in another process: not yet
  if (!process->threadHost) return STATUS_NOT_SUPPORTED;
  if (const NTSTATUS s = ob::CheckUnnamed(ObjectAttributes); !NT_SUCCESS(s)) return s;
  if (!StartRoutine || reinterpret_cast<std::uint64_t>(StartRoutine) >= mm::kUserProbeAddress) {
    return STATUS_INVALID_PARAMETER;
  }
  // The attribute list is read before the thread exists; what it asks for is written after.
  std::vector<PsAttribute> attributes;
  if (AttributeList) {
    const auto total = mm::ReadCaller(static_cast<const SIZE_T*>(AttributeList));
    if (!total) return STATUS_ACCESS_VIOLATION;
    if (*total < 8 || (*total - 8) % sizeof(PsAttribute) || (*total - 8) / sizeof(PsAttribute) > 32) {
      return STATUS_INVALID_PARAMETER;
    }
    attributes.resize((*total - 8) / sizeof(PsAttribute));
    if (!mm::ReadCaller(attributes.data(), static_cast<const std::uint8_t*>(AttributeList) + 8,
                        attributes.size() * sizeof(PsAttribute))) {
      return STATUS_ACCESS_VIOLATION;
    }
  }
  ps::ThreadHost::Request request;
  request.start = reinterpret_cast<std::uint64_t>(StartRoutine);
  request.argument = reinterpret_cast<std::uint64_t>(Argument);
  request.suspended = CreateFlags & THREAD_CREATE_FLAGS_CREATE_SUSPENDED;
  request.stackCommit = StackSize;
  request.stackReserve = MaximumStackSize;
  auto created = process->threadHost->CreateThread(request);
  if (!created) return created.error();
  ps::ThreadControl& control = *ps::ControlOf(*created);
  NTSTATUS status = STATUS_SUCCESS;
  for (const PsAttribute& a : attributes) {
    const std::uint64_t clientId[2] = {process->id(), control.id};
    const void* value = nullptr;
    SIZE_T size = 0;
    if (a.Attribute == PS_ATTRIBUTE_CLIENT_ID) {
      value = clientId;
      size = sizeof clientId;
    } else if (a.Attribute == PS_ATTRIBUTE_TEB_ADDRESS) {
      value = &control.teb;
      size = sizeof control.teb;
    } else {
      continue;  // attributes that choose what a new process gets change nothing for a thread
    }
    if (a.Size < size || !mm::WriteCaller(reinterpret_cast<void*>(a.ValuePtr), value, size) ||
        (a.ReturnLength && !mm::WriteCaller(a.ReturnLength, size))) {
      status = STATUS_ACCESS_VIOLATION;
    }
  }
  if (!NT_SUCCESS(status)) {
    ob::DereferenceObject(*created);
    return status;
  }
  return ob::ReturnNewHandle(*created, DesiredAccess ? DesiredAccess : THREAD_ALL_ACCESS, ThreadHandle);
}

NTSTATUS NTAPI NtSuspendThread(HANDLE ThreadHandle, ULONG* PreviousSuspendCount) {
  constexpr ULONG kMaximumSuspendCount = 127;  // MAXIMUM_SUSPEND_COUNT
  ThreadRef thread;
  if (const NTSTATUS s = thread.Open(ThreadHandle, 0x2 /* THREAD_SUSPEND_RESUME */); !NT_SUCCESS(s)) return s;
  ps::ThreadControl& c = thread.control();
  ULONG previous;
  {
    std::lock_guard lock(c.mutex);
    if (c.ended) return STATUS_THREAD_IS_TERMINATING;
    previous = c.suspendCount;
    if (previous >= kMaximumSuspendCount) return STATUS_SUSPEND_COUNT_EXCEEDED;
    __atomic_store_n(&c.suspendCount, previous + 1, __ATOMIC_RELEASE);
  }
  // The caller stops at this call's exit; another thread is stopped where it runs.
  if (!thread.IsCaller()) {
    if (ps::ThreadHost* host = HostOfCaller()) host->SuspendThread(c.id);
  }
  if (PreviousSuspendCount && !mm::WriteCaller(PreviousSuspendCount, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtResumeThread(HANDLE ThreadHandle, ULONG* PreviousSuspendCount) {
  ThreadRef thread;
  if (const NTSTATUS s = thread.Open(ThreadHandle, 0x2 /* THREAD_SUSPEND_RESUME */); !NT_SUCCESS(s)) return s;
  ps::ThreadControl& c = thread.control();
  ULONG previous;
  {
    std::lock_guard lock(c.mutex);
    previous = c.suspendCount;
    if (previous) __atomic_store_n(&c.suspendCount, previous - 1, __ATOMIC_RELEASE);
  }
  c.changed.notify_all();       // a thread created suspended that has not run yet
  cpu::ResumeSuspended(&c.suspendCount);  // one stopped in its code or at a system call's exit
  if (PreviousSuspendCount && !mm::WriteCaller(PreviousSuspendCount, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtTerminateThread(HANDLE ThreadHandle, NTSTATUS ExitStatus) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t->userGuard || !t->process) return STATUS_ACCESS_DENIED;
  ThreadRef thread;
  const bool self = !ThreadHandle;
  if (!self) {
    if (const NTSTATUS s = thread.Open(ThreadHandle, 0x1 /* THREAD_TERMINATE */); !NT_SUCCESS(s)) return s;
  }
  if (self || thread.IsCaller()) {
    // The system-call exit ends this thread's code once the service has returned.
    t->userExit = {};
    t->userExit.kind = static_cast<int>(cpu::UserExitKind::kThreadExited);
    t->userExit.code = static_cast<std::uint32_t>(ExitStatus);
    t->exitRequested = true;
    return STATUS_SUCCESS;
  }
  ps::ThreadHost* host = HostOfCaller();
  return host ? host->TerminateThread(thread.control().id, ExitStatus) : STATUS_INVALID_HANDLE;
}

NTSTATUS NTAPI NtQueryInformationThread(HANDLE ThreadHandle, ULONG ThreadInformationClass, PVOID ThreadInformation,
                                        ULONG Length, ULONG* ReturnLength) {
  ThreadRef thread;
  if (const NTSTATUS s = thread.Open(ThreadHandle, 0x40 /* THREAD_QUERY_INFORMATION */); !NT_SUCCESS(s)) return s;
  ps::ThreadControl& c = thread.control();
  std::uint8_t info[0x30] = {};
  std::size_t size = 0;
  auto put = [&info](std::size_t at, auto value) { std::memcpy(info + at, &value, sizeof value); };
  {
    std::lock_guard lock(c.mutex);
    switch (ThreadInformationClass) {
      case 0:  // ThreadBasicInformation
        size = 0x30;
        put(0x00, c.exitStatus);
        put(0x08, c.teb);
        put(0x10, static_cast<std::uint64_t>(ke::CurrentThread()->process->id()));
        put(0x18, c.id);
        put(0x20, (std::uint64_t{1} << Kernel::Current().config().processors) - 1);  // AffinityMask
        put(0x28, LONG{8});  // Priority: normal
        put(0x2C, LONG{8});  // BasePriority
        break;
      case 1: {  // ThreadTimes: KERNEL_USER_TIMES
        size = 0x20;
        std::int64_t user = 0, kernel = 0;
        ThreadCpuTimes(c, user, kernel);
        put(0x00, c.createTime);
        put(0x08, c.ended ? c.exitTime : std::int64_t{0});
        put(0x10, kernel);
        put(0x18, user);
        break;
      }
      case 9:  // ThreadQuerySetWin32StartAddress
        size = 8;
        put(0, c.startAddress);
        break;
      case 12: {  // ThreadAmILastThread
        ps::ThreadHost* host = HostOfCaller();
        size = 4;
        put(0, ULONG{host && host->LiveThreads() <= 1});
        break;
      }
      case 17:  // ThreadHideFromDebugger
        size = 1;
        break;
      case 20:  // ThreadIsTerminated
        size = 4;
        put(0, ULONG{c.ended});
        break;
      case 35:  // ThreadSuspendCount
        size = 4;
        put(0, c.suspendCount);
        break;
      default:
        return STATUS_INVALID_INFO_CLASS;
    }
  }
  if (ReturnLength && !mm::WriteCaller(ReturnLength, static_cast<ULONG>(size))) return STATUS_ACCESS_VIOLATION;
  if (Length != size && !(ThreadInformationClass == 0 && Length > size)) return STATUS_INFO_LENGTH_MISMATCH;
  return mm::WriteCaller(ThreadInformation, info, size) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtSetInformationThread(HANDLE ThreadHandle, ULONG ThreadInformationClass, PVOID ThreadInformation,
                                      ULONG Length) {
  ThreadRef thread;
  if (const NTSTATUS s = thread.Open(ThreadHandle, 0x20 /* THREAD_SET_INFORMATION */); !NT_SUCCESS(s)) return s;
  switch (ThreadInformationClass) {
    case 2:   // ThreadPriority
    case 3:   // ThreadBasePriority
    case 4: {  // ThreadAffinityMask: the host's scheduler decides; the values are checked, as Windows does
      if (Length != (ThreadInformationClass == 4 ? 8u : 4u)) return STATUS_INFO_LENGTH_MISMATCH;
      std::uint64_t value = 0;
      if (!mm::ReadCaller(&value, ThreadInformation, Length)) return STATUS_ACCESS_VIOLATION;
      if (ThreadInformationClass == 4 && !value) return STATUS_INVALID_PARAMETER;
      return STATUS_SUCCESS;
    }
    case 9: {  // ThreadQuerySetWin32StartAddress
      if (Length != 8) return STATUS_INFO_LENGTH_MISMATCH;
      const auto start = mm::ReadCaller(static_cast<const std::uint64_t*>(ThreadInformation));
      if (!start) return STATUS_ACCESS_VIOLATION;
      std::lock_guard lock(thread.control().mutex);
      thread.control().startAddress = *start;
      return STATUS_SUCCESS;
    }
    case 10: {  // ThreadZeroTlsCell: TlsFree clears the slot in every thread
      if (Length != 4) return STATUS_INFO_LENGTH_MISMATCH;
      const auto index = mm::ReadCaller(static_cast<const ULONG*>(ThreadInformation));
      if (!index) return STATUS_ACCESS_VIOLATION;
      ps::ThreadHost* host = HostOfCaller();
      if (host) host->ZeroTlsCell(*index);
      return STATUS_SUCCESS;
    }
    case 17:  // ThreadHideFromDebugger
      return Length ? STATUS_INFO_LENGTH_MISMATCH : STATUS_SUCCESS;
    case 38:  // ThreadNameInformation (SetThreadDescription)
      return Length >= 16 ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

NTSTATUS NTAPI NtQueueApcThread(HANDLE ThreadHandle, PVOID ApcRoutine, ULONG_PTR Arg1, ULONG_PTR Arg2,
                                ULONG_PTR Arg3) {
  ThreadRef thread;
  if (const NTSTATUS s = thread.Open(ThreadHandle, 0x10 /* THREAD_SET_CONTEXT */); !NT_SUCCESS(s)) return s;
  if (!ApcRoutine) return STATUS_INVALID_PARAMETER;
  ps::QueueUserApc(thread.object(), {reinterpret_cast<std::uint64_t>(ApcRoutine), Arg1, Arg2, Arg3});
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtTestAlert() {
  // The system-call exit delivers what is queued (it sees STATUS_USER_APC, as an alertable wait
  // that an APC ended).
  return ps::UserApcPending() ? STATUS_USER_APC : STATUS_SUCCESS;
}

NTSTATUS NTAPI NtWaitForAlertByThreadId(PVOID Address, LARGE_INTEGER* Timeout) {
  (void)Address;  // a hint for debuggers
  ke::KernelThread* t = ke::CurrentThread();
  ps::ThreadControl* c = ps::ControlOf(t->kthread());
  if (!c) return STATUS_INVALID_HANDLE;
  std::int64_t deadline = -1;
  if (Timeout) {
    const auto timeout = mm::ReadCaller(Timeout);
    if (!timeout) return STATUS_ACCESS_VIOLATION;
    deadline = ke::DueInterruptTime(timeout->QuadPart);
  }
  NTSTATUS status = STATUS_TIMEOUT;
  const auto outcome = ke::WaitUntil(
      [&] {
        std::lock_guard lock(c->mutex);
        if (c->alerted) {
          c->alerted = false;
          status = STATUS_ALERTED;
          return true;
        }
        if (t->terminateRequested) {
          status = STATUS_THREAD_IS_TERMINATING;
          return true;
        }
        return false;
      },
      deadline);
  if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  return status;
}

NTSTATUS NTAPI NtAlertThreadByThreadId(HANDLE ThreadId) {
  ps::ThreadHost* host = HostOfCaller();
  void* object = host ? host->ThreadById(reinterpret_cast<std::uint64_t>(ThreadId)) : nullptr;
  if (!object) return STATUS_INVALID_CID;
  ps::ThreadControl* c = ps::ControlOf(object);
  {
    std::lock_guard lock(c->mutex);
    c->alerted = true;
  }
  ob::DereferenceObject(object);
  ke::WakeWaiters();
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
