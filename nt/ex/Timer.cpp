// Waitable timers of programs (CreateWaitableTimer, SetWaitableTimer): the executive's timer
// object, a KTIMER the virtual processors fire like a driver's, which waits are satisfied by. A
// timer set with a completion routine queues it, when it fires, as a user APC to the thread that
// set it (the routine runs when that thread waits alertably), with the time it fired.
#include <cstring>

#include "nt/Status.h"
#include "nt/ex/ExExports.h"
#include "nt/io/IoExports.h"
#include "nt/mm/AddressSpace.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/UserThreads.h"

namespace ntbox::nt {
namespace {

constexpr ACCESS_MASK TIMER_QUERY_STATE = 0x1, TIMER_MODIFY_STATE = 0x2, TIMER_ALL_ACCESS = 0x1F0003;

// The object's body: the dispatcher object first (waits read its header), then the DPC that
// queues the completion routine.
struct TimerBody {
  KTIMER timer;
  KDPC dpc;
};

// What the timer's DPC queues: the completion routine, its argument and the thread that set it
// (referenced while the timer holds it).
struct TimerApc {
  std::uint64_t routine = 0, context = 0;
  void* thread = nullptr;
};

void DropApc(TimerApc& apc) {
  if (apc.thread) ob::DereferenceObject(apc.thread);
  apc = {};
}

ob::ObjectType& Timers() {
  static const bool once = [] {
    ob::TimerType().onDelete = [](void* body) {
      auto* t = static_cast<TimerBody*>(body);
      KeCancelTimer(&t->timer);
      KeRemoveQueueDpc(&t->dpc);
      auto* apc = static_cast<TimerApc*>(ob::HeaderOf(body)->hostContext);
      DropApc(*apc);
      delete apc;
    };
    return true;
  }();
  (void)once;
  return ob::TimerType();
}

void NTAPI TimerFired(KDPC*, PVOID context, PVOID, PVOID) {
  auto* apc = static_cast<TimerApc*>(ob::HeaderOf(context)->hostContext);
  if (!apc->routine || !apc->thread) return;
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  // PTIMERAPCROUTINE(context, low part, high part of the time it fired).
  ps::QueueUserApc(apc->thread, {apc->routine, apc->context, static_cast<std::uint32_t>(now.QuadPart),
                                 static_cast<std::uint64_t>(static_cast<std::uint32_t>(now.QuadPart >> 32))});
}

NTSTATUS ReferenceTimer(HANDLE handle, ACCESS_MASK access, ob::HandleReference& ref) {
  return ref.Open(handle, access, &Timers());
}

}  // namespace

NTSTATUS NTAPI NtCreateTimer(HANDLE* TimerHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int TimerType) {
  if (!mm::WriteCaller(TimerHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  if (TimerType != 0 && TimerType != 1) return STATUS_INVALID_PARAMETER_4;  // Notification, Synchronization
  void* body = ob::CreateObject(Timers(), sizeof(TimerBody), new TimerApc());
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  auto* t = static_cast<TimerBody*>(body);
  KeInitializeTimerEx(&t->timer, TimerType);
  KeInitializeDpc(&t->dpc, &TimerFired, body);
  return ob::ReturnNamedHandle(body, ObjectAttributes, DesiredAccess ? DesiredAccess : TIMER_ALL_ACCESS, TimerHandle);
}

NTSTATUS NTAPI NtOpenTimer(HANDLE* TimerHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return ob::OpenNamed(ObjectAttributes, Timers(), DesiredAccess, TimerHandle);
}

NTSTATUS NTAPI NtSetTimer(HANDLE TimerHandle, LARGE_INTEGER* DueTime, PVOID TimerApcRoutine, PVOID TimerContext,
                          BOOLEAN ResumeTimer, LONG Period, BOOLEAN* PreviousState) {
  (void)ResumeTimer;  // waking the machine from sleep: there is no sleep
  if (Period < 0) return STATUS_INVALID_PARAMETER;
  const auto due = mm::ReadCaller(DueTime);
  if (!DueTime || !due) return STATUS_ACCESS_VIOLATION;
  const auto routine = reinterpret_cast<std::uint64_t>(TimerApcRoutine);
  if (routine >= mm::kUserProbeAddress && ExGetPreviousMode() == UserMode) return STATUS_INVALID_PARAMETER;
  ob::HandleReference ref;
  if (const NTSTATUS s = ReferenceTimer(TimerHandle, TIMER_MODIFY_STATE, ref); !NT_SUCCESS(s)) return s;
  auto* t = static_cast<TimerBody*>(ref.body());
  auto* apc = static_cast<TimerApc*>(ob::HeaderOf(ref.body())->hostContext);
  // Setting it again replaces what it was set to (and drops a routine it had not run yet).
  const BOOLEAN previous = KeReadStateTimer(&t->timer);
  KeCancelTimer(&t->timer);
  KeRemoveQueueDpc(&t->dpc);
  DropApc(*apc);
  ke::KernelThread* caller = ke::CurrentThread();
  if (routine && caller && ps::ControlOf(caller->kthread())) {
    apc->routine = routine;
    apc->context = reinterpret_cast<std::uint64_t>(TimerContext);
    apc->thread = caller->kthread();
    ob::ReferenceObject(apc->thread);
  }
  t->timer.Header.SignalState = 0;
  KeSetTimerEx(&t->timer, *due, Period, apc->routine ? &t->dpc : nullptr);
  if (PreviousState && !mm::WriteCaller(PreviousState, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtCancelTimer(HANDLE TimerHandle, BOOLEAN* CurrentState) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ReferenceTimer(TimerHandle, TIMER_MODIFY_STATE, ref); !NT_SUCCESS(s)) return s;
  auto* t = static_cast<TimerBody*>(ref.body());
  KeCancelTimer(&t->timer);
  KeRemoveQueueDpc(&t->dpc);
  DropApc(*static_cast<TimerApc*>(ob::HeaderOf(ref.body())->hostContext));
  if (CurrentState && !mm::WriteCaller(CurrentState, KeReadStateTimer(&t->timer))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtQueryTimer(HANDLE TimerHandle, ULONG TimerInformationClass, PVOID TimerInformation, ULONG Length,
                            ULONG* ReturnLength) {
  struct TimerBasicInformation {
    LARGE_INTEGER RemainingTime;
    BOOLEAN TimerState;
  };
  if (TimerInformationClass != 0) return STATUS_INVALID_INFO_CLASS;
  if (Length < sizeof(TimerBasicInformation)) return STATUS_INFO_LENGTH_MISMATCH;
  ob::HandleReference ref;
  if (const NTSTATUS s = ReferenceTimer(TimerHandle, TIMER_QUERY_STATE, ref); !NT_SUCCESS(s)) return s;
  auto* t = static_cast<TimerBody*>(ref.body());
  TimerBasicInformation info{};
  info.TimerState = KeReadStateTimer(&t->timer);
  // The time left until it fires (absolute due time, interrupt time, 100 ns), none once it has.
  if (!info.TimerState) {
    const auto left = static_cast<LONGLONG>(t->timer.DueTime.QuadPart) - static_cast<LONGLONG>(KeQueryInterruptTime());
    info.RemainingTime.QuadPart = left > 0 ? left : 0;
  }
  if (!mm::WriteCaller(TimerInformation, &info, sizeof info)) return STATUS_ACCESS_VIOLATION;
  if (ReturnLength && !mm::WriteCaller(ReturnLength, static_cast<ULONG>(sizeof info))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
