// Drivers' view of processes: lookups by id, the EPROCESS accessors, the requestor of an IRP,
// attaching a thread to another process.
#include "nt/ps/ProcessLookup.h"

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ob/ObExports.h"
#include "nt/mm/Probe.h"
#include "nt/ps/Process.h"
#include "nt/ps/PsExports.h"
#include "nt/ps/ThreadTable.h"
#include "nt/ps/UserThreads.h"

namespace ntbox::nt {
namespace {

// What KeStackAttachProcess keeps in the caller's KAPC_STATE (opaque to drivers): the process the
// thread ran for before, and a mark that the state was filled by an attach.
struct AttachState {
  ps::Process* previous;
  std::uint64_t mark;
};
static_assert(sizeof(AttachState) <= sizeof(KAPC_STATE));
constexpr std::uint64_t kAttachedMark = 0x6863617474416b4bull;  // "KkAttach"

ULONG SystemProcessId() { return Kernel::Current().systemProcess().id(); }

// The id of the process a thread runs for: listed with its object (ps/ThreadTable.h); a kernel
// thread's is the System process's.
ULONG ProcessIdOf(PVOID thread) {
  if (const ps::ThreadIdentity* identity = ps::IdentityOf(thread); identity && identity->processId) {
    return identity->processId;
  }
  // A host thread serving a program's request (the native client's) runs for that program.
  if (const ke::KernelThread* t = ke::CurrentThread(); t && t->kthread() == thread && t->process) return t->process->id();
  return SystemProcessId();
}


}  // namespace

PVOID g_PsInitialSystemProcess = nullptr;

NTSTATUS NTAPI PsLookupProcessByProcessId(HANDLE ProcessId, PVOID* Process) {
  if (!Process) return STATUS_INVALID_PARAMETER;
  *Process = nullptr;
  const auto id = reinterpret_cast<ULONG_PTR>(ProcessId);
  if (id == 0 || id > 0xFFFFFFFF) return STATUS_INVALID_PARAMETER;
  // Referenced for the caller, who dereferences it (ObDereferenceObject).
  void* object = ps::Process::ReferenceById(static_cast<ULONG>(id));
  if (!object) return STATUS_INVALID_PARAMETER;
  *Process = object;
  return STATUS_SUCCESS;
}

// OpenThread: by the client id's thread (and its process, when given, must match).
NTSTATUS NTAPI NtOpenThread(HANDLE* ThreadHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                            CLIENT_ID* ClientId) {
  constexpr ACCESS_MASK THREAD_ALL_ACCESS = 0x1FFFFF, THREAD_QUERY_LIMITED_INFORMATION = 0x800;
  constexpr ACCESS_MASK THREAD_QUERY_INFORMATION = 0x40;
  if (!mm::WriteCaller(ThreadHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(ObjectAttributes, a); !NT_SUCCESS(s)) return s;
  if (!a.name.empty()) return STATUS_INVALID_PARAMETER_MIX;
  const auto cid = mm::ReadCaller(ClientId);
  if (!ClientId || !cid) return STATUS_ACCESS_VIOLATION;
  const auto tid = reinterpret_cast<std::uint64_t>(cid->UniqueThread);
  if (tid == 0) return STATUS_INVALID_CID;
  void* object = ps::ReferenceThreadById(tid);
  if (!object) return STATUS_INVALID_CID;
  const auto pid = reinterpret_cast<std::uint64_t>(cid->UniqueProcess);
  if (pid != 0 && pid != ProcessIdOf(object)) {
    ob::DereferenceObject(object);
    return STATUS_INVALID_CID;
  }
  // The kernel's threads are the System process's: a program may only ask about them.
  if (ProcessIdOf(object) == SystemProcessId() && ExGetPreviousMode() == UserMode &&
      (DesiredAccess & ~(THREAD_QUERY_LIMITED_INFORMATION | 0x100000 /* SYNCHRONIZE */)) != 0) {
    ob::DereferenceObject(object);
    return STATUS_ACCESS_DENIED;
  }
  ACCESS_MASK access = DesiredAccess;
  if (access & (0x02000000 /* MAXIMUM_ALLOWED */ | 0x10000000 /* GENERIC_ALL */)) access |= THREAD_ALL_ACCESS;
  if (access & THREAD_QUERY_INFORMATION) access |= THREAD_QUERY_LIMITED_INFORMATION;
  access &= 0x0FFFFFFF & ~0x02000000u;
  return ob::ReturnNewHandle(object, access, ThreadHandle, a.kernelHandle, a.attributes);
}

PCHAR NTAPI PsGetProcessImageFileName(PVOID Process) {
  ps::ProcessRecord* r = ps::RecordOf(Process);
  return r ? r->imageFileName : nullptr;
}

HANDLE NTAPI PsGetProcessInheritedFromUniqueProcessId(PVOID Process) {
  const ps::ProcessRecord* r = ps::RecordOf(Process);
  if (!r) return nullptr;
  // A program `ntbox run` started has no parent in the machine: the System process stands for its
  // host-side creator, as process notify routines hear it.
  const ULONG system = Kernel::Current().systemProcess().id();
  return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(r->parentId || r->id == system ? r->parentId : system));
}

PVOID NTAPI PsGetProcessSectionBaseAddress(PVOID Process) {
  const ps::ProcessRecord* r = ps::RecordOf(Process);
  return r ? reinterpret_cast<PVOID>(r->sectionBase) : nullptr;
}


HANDLE NTAPI PsGetThreadProcessId(PVOID Thread) {
  return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(ProcessIdOf(Thread)));
}

HANDLE NTAPI PsGetThreadId(PVOID Thread) {
  const ps::ThreadIdentity* identity = ps::IdentityOf(Thread);
  return identity ? reinterpret_cast<HANDLE>(identity->id) : nullptr;
}

BOOLEAN NTAPI PsIsSystemThread(PVOID Thread) { return ProcessIdOf(Thread) == SystemProcessId() ? TRUE : FALSE; }

// Not referenced, as on Windows: the thread's process outlives the thread.
PVOID NTAPI PsGetThreadProcess(PVOID Thread) {
  void* object = ps::Process::ReferenceById(ProcessIdOf(Thread));
  if (object) ob::DereferenceObject(object);
  return object;
}

PVOID NTAPI IoThreadToProcess(PVOID Thread) { return PsGetThreadProcess(Thread); }

NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PVOID* Thread) {
  if (!Thread) return STATUS_INVALID_PARAMETER;
  *Thread = nullptr;
  const auto id = reinterpret_cast<ULONG_PTR>(ThreadId);
  if (id == 0) return STATUS_INVALID_PARAMETER;
  void* object = ps::ReferenceThreadById(id);  // the caller dereferences it
  if (!object) return STATUS_INVALID_PARAMETER;
  *Thread = object;
  return STATUS_SUCCESS;
}

PVOID NTAPI IoGetRequestorProcess(IRP* Irp) {
  // No thread: the kernel built the request itself.
  if (!Irp || !Irp->Tail.Overlay.Thread) return nullptr;
  // Not referenced, as on Windows: the requestor lives while its request does.
  return PsGetThreadProcess(Irp->Tail.Overlay.Thread);
}

ULONG NTAPI IoGetRequestorProcessId(IRP* Irp) {
  if (!Irp || !Irp->Tail.Overlay.Thread) return 0;
  return static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(PsGetThreadProcessId(Irp->Tail.Overlay.Thread)));
}

void NTAPI KeStackAttachProcess(PVOID Process, KAPC_STATE* ApcState) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !ApcState) return;
  auto* state = reinterpret_cast<AttachState*>(ApcState);
  state->previous = t->process;
  state->mark = kAttachedMark;
  // Every process's user range is its own slice of one address space: attaching makes the
  // process the one the thread's services and user handles are for (CurrentProcess()).
  ps::Process* target = ps::Process::FromObject(Process);
  t->process = target == &Kernel::Current().systemProcess() ? nullptr : target;
}

void NTAPI KeUnstackDetachProcess(KAPC_STATE* ApcState) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !ApcState) return;
  auto* state = reinterpret_cast<AttachState*>(ApcState);
  if (state->mark != kAttachedMark) return;  // not a state KeStackAttachProcess filled
  t->process = state->previous;
  state->mark = 0;
}

}  // namespace ntbox::nt
