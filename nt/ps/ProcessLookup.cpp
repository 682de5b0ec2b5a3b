// Drivers' view of processes: lookups by id, the EPROCESS accessors, the requestor of an IRP,
// attaching a thread to another process.
#include "nt/ps/ProcessLookup.h"

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/ps/PsExports.h"
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
  // A program thread's object knows its process; every other thread is the System process's.
  if (const ps::ThreadControl* c = ps::ControlOf(Thread); c && c->processId) {
    return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(c->processId));
  }
  const ke::KernelThread* t = ke::CurrentThread();
  if (t && t->kthread() == Thread && t->process) return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(t->process->id()));
  return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(Kernel::Current().systemProcess().id()));
}

PVOID NTAPI IoGetRequestorProcess(IRP* Irp) {
  // No thread: the kernel built the request itself.
  if (!Irp || !Irp->Tail.Overlay.Thread) return nullptr;
  const auto id = static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(PsGetThreadProcessId(Irp->Tail.Overlay.Thread)));
  // Not referenced, as on Windows: the requestor lives while its request does.
  void* object = ps::Process::ReferenceById(id);
  if (object) ob::DereferenceObject(object);
  return object;
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
