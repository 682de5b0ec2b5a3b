// Processor affinity and calls on every processor.
//
// A thread's processor is an identity (ke/Dispatcher.h): KeSetSystemAffinityThread moves the
// calling thread to the lowest processor of the set, and what it reads of its processor (the
// KPCR's number, KeGetCurrentProcessorNumber) says so until it reverts.
//
// KeGenericCallDpc queues the routine as a DPC targeted at each processor, so each runs on that
// processor's own thread at DISPATCH_LEVEL; KeSignalCallDpcSynchronize is a barrier among them (a
// routine waiting there lets the others run), KeSignalCallDpcDone counts them out. KeIpiGenericCall
// runs its routine for each processor in turn on the calling thread at IPI_LEVEL, with the
// processor's identity: driver code runs one thread at a time, so "at once" is one after another.
#include <fmt/format.h>

#include <memory>
#include <vector>

#include "cpu/HostState.h"
#include "nt/Kernel.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Processors.h"
#include "nt/ke/Thread.h"
#include "nt/ps/PsExports.h"
#include "nt/support/Symbolize.h"

namespace ntbox::nt {
namespace {

constexpr KIRQL IPI_LEVEL = 14;

// Moves the thread into the set; a set naming no processor of the machine is INVALID_AFFINITY_SET.
void SetSystemAffinity(ke::KernelThread* t, std::uint64_t affinity, ULONG64 caller) {
  const std::uint64_t active = KeQueryActiveProcessors();
  const std::uint64_t usable = affinity & active;
  if (usable == 0) {
    RaiseBugCheck(bugcheck::INVALID_AFFINITY_SET, affinity, active, 0, 0,
                  fmt::format("a system affinity of {:#x} names no processor of the machine (active: {:#x})", affinity,
                              active),
                  caller);
  }
  if (t->systemAffinity == 0) t->userProcessor = t->processor;
  t->systemAffinity = usable;
  if (!(usable & (1ull << t->processor))) t->SetProcessor(static_cast<std::uint32_t>(__builtin_ctzll(usable)));
}

void RevertToUser(ke::KernelThread* t) {
  if (t->systemAffinity == 0) return;
  t->systemAffinity = 0;
  t->SetProcessor(t->userProcessor);
}

#define NTBOX_CALLER reinterpret_cast<ULONG64>(__builtin_return_address(0))

// One KeGenericCallDpc: its DPCs and the two counts the routines signal. The routines get
// &doneWord and &syncWord as their system arguments.
struct GenericCall {
  std::uint32_t count = 0;
  std::uint32_t done = 0;
  std::uint32_t arrived = 0;
  std::uint64_t generation = 0;
  ULONG64 routine = 0;
  std::unique_ptr<KDPC[]> dpcs;
  ULONG_PTR doneWord = 0;
  ULONG_PTR syncWord = 0;
};

GenericCall* g_call = nullptr;  // the one running (Windows runs them one at a time too)

GenericCall* CallOf(PVOID argument, bool sync) {
  if (!g_call) return nullptr;
  return argument == (sync ? static_cast<void*>(&g_call->syncWord) : static_cast<void*>(&g_call->doneWord)) ? g_call
                                                                                                            : nullptr;
}

void WrongArgument(std::string_view routine) {
  Kernel::Current().DebugOutput(kNtboxComponent, 0,
                                fmt::format("ntbox: {} with an argument that is not one KeGenericCallDpc gave its "
                                            "routine; ignored\n",
                                            routine));
}

// Routines that returned without reaching the barrier: those waiting there would wait forever.
std::uint32_t Returned(const GenericCall& call) {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < call.count; ++i) {
    if (!Kernel::Current().processors().DpcPending(&call.dpcs[i])) ++n;
  }
  return n;
}

}  // namespace

void NTAPI KeSetSystemAffinityThread(KAFFINITY Affinity) {
  SetSystemAffinity(ke::CurrentThread(), Affinity, NTBOX_CALLER);
}

void NTAPI KeRevertToUserAffinityThread() { RevertToUser(ke::CurrentThread()); }

KAFFINITY NTAPI KeSetSystemAffinityThreadEx(KAFFINITY Affinity) {
  ke::KernelThread* t = ke::CurrentThread();
  const KAFFINITY previous = t->systemAffinity;
  SetSystemAffinity(t, Affinity, NTBOX_CALLER);
  return previous;
}

void NTAPI KeRevertToUserAffinityThreadEx(KAFFINITY Affinity) {
  ke::KernelThread* t = ke::CurrentThread();
  if (Affinity == 0) {
    RevertToUser(t);
  } else {
    SetSystemAffinity(t, Affinity, NTBOX_CALLER);
  }
}

void NTAPI KeSetSystemGroupAffinityThread(GROUP_AFFINITY* Affinity, GROUP_AFFINITY* PreviousAffinity) {
  ke::KernelThread* t = ke::CurrentThread();
  if (PreviousAffinity) {
    *PreviousAffinity = GROUP_AFFINITY{};
    PreviousAffinity->Mask = t->systemAffinity;
  }
  if (Affinity->Group != 0) {
    RaiseBugCheck(bugcheck::INVALID_AFFINITY_SET, Affinity->Mask, Affinity->Group, 0, 0,
                  fmt::format("a group affinity in group {}; the machine has group 0 only", Affinity->Group),
                  NTBOX_CALLER);
  }
  SetSystemAffinity(t, Affinity->Mask, NTBOX_CALLER);
}

void NTAPI KeRevertToUserGroupAffinityThread(GROUP_AFFINITY* PreviousAffinity) {
  ke::KernelThread* t = ke::CurrentThread();
  if (PreviousAffinity->Mask == 0) {
    RevertToUser(t);
  } else {
    SetSystemAffinity(t, PreviousAffinity->Mask, NTBOX_CALLER);
  }
}

void NTAPI KeGenericCallDpc(PKDEFERRED_ROUTINE_FN Routine, PVOID Context) {
  // It waits for every processor's DPC: from DISPATCH_LEVEL (a DPC of this very processor) that
  // wait could never end, so it stops the machine instead of hanging it.
  if (KeGetCurrentIrql() > APC_LEVEL) {
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, KeGetCurrentIrql(), 0, NTBOX_CALLER,
                  "KeGenericCallDpc called above APC_LEVEL: it waits for a DPC on every processor", NTBOX_CALLER);
  }
  // One at a time: two calls' routines waiting at each other's barriers would never meet.
  ke::WaitInDriver([] { return g_call == nullptr; });
  GenericCall call;
  call.count = Kernel::Current().processors().count();
  call.routine = reinterpret_cast<ULONG64>(Routine);
  call.dpcs = std::make_unique<KDPC[]>(call.count);
  g_call = &call;
  for (std::uint32_t i = 0; i < call.count; ++i) {
    KDPC* dpc = &call.dpcs[i];
    KeInitializeDpc(dpc, Routine, Context);
    KeSetTargetProcessorDpc(dpc, static_cast<CCHAR>(i));
    KeSetImportanceDpc(dpc, 2);  // HighImportance
    KeInsertQueueDpc(dpc, &call.doneWord, &call.syncWord);
  }
  const auto finished = [&call] { return Returned(call) == call.count; };
  if (ke::WaitUntil(finished) == ke::WaitOutcome::kStopped) {
    g_call = nullptr;  // a routine stopped the machine; the DPCs run no more
    ke::WakeWaiters();
    ke::UnwindStopped();
  }
  g_call = nullptr;
  ke::WakeWaiters();
  if (call.done != call.count) {
    Kernel::Current().DebugOutput(
        kNtboxComponent, 0,
        fmt::format("ntbox: KeGenericCallDpc: {} of {} calls of {} returned without KeSignalCallDpcDone (Windows "
                    "would wait for them forever)\n",
                    call.count - call.done, call.count, Symbolize(call.routine)));
  }
}

void NTAPI KeSignalCallDpcDone(PVOID SystemArgument1) {
  GenericCall* call = CallOf(SystemArgument1, false);
  if (!call) return WrongArgument("KeSignalCallDpcDone");
  ++call->done;
  ke::WakeWaiters();
}

LOGICAL NTAPI KeSignalCallDpcSynchronize(PVOID SystemArgument2) {
  GenericCall* call = CallOf(SystemArgument2, true);
  if (!call) {
    WrongArgument("KeSignalCallDpcSynchronize");
    return FALSE;
  }
  // The last to arrive is the one that returns TRUE, and releases the others.
  if (++call->arrived == call->count) {
    call->arrived = 0;
    ++call->generation;
    ke::WakeWaiters();
    return TRUE;
  }
  const std::uint64_t generation = call->generation;
  bool stranded = false;
  ke::WaitInDriver([call, generation, &stranded] {
    if (call->generation != generation) return true;
    stranded = call->arrived + Returned(*call) >= call->count;
    return stranded;
  });
  if (stranded) {
    RaiseBugCheck(bugcheck::DPC_WATCHDOG_VIOLATION, 0, 0, 0, 0,
                  fmt::format("KeSignalCallDpcSynchronize waits for a processor whose call of {} returned without "
                              "reaching it",
                              Symbolize(call->routine)),
                  call->routine);
  }
  return FALSE;
}

ULONG_PTR NTAPI KeIpiGenericCall(PKIPI_BROADCAST_WORKER BroadcastFunction, ULONG_PTR Context) {
  ke::KernelThread* t = ke::CurrentThread();
  const std::uint32_t home = t->processor;
  const KIRQL irql = t->Irql();
  const bool interrupts = t->InterruptsEnabled();
  ULONG_PTR result = 0;
  for (std::uint32_t i = 0; i < Kernel::Current().processors().count(); ++i) {
    t->SetProcessor(i);
    t->SetIrql(IPI_LEVEL);
    t->SetInterruptsEnabled(false);
    const ULONG_PTR value = cpu::CallDriver(BroadcastFunction, Context);
    if (i == home) result = value;
  }
  t->SetInterruptsEnabled(interrupts);
  t->SetIrql(irql);
  t->SetProcessor(home);
  return result;
}

}  // namespace ntbox::nt
