// DPC and timer exports: thin over the virtual processors (ke/Processors.h).
#include "nt/Kernel.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Processors.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt {
namespace {

constexpr UCHAR kDpcObject = 0x13;
constexpr UCHAR kThreadedDpcObject = 0x18;
constexpr UCHAR MediumImportance = 1;

ke::Processors& Cpus() { return Kernel::Current().processors(); }

void InitializeDpc(KDPC* Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext, UCHAR type) {
  *Dpc = KDPC{};
  Dpc->Type = type;
  Dpc->Importance = MediumImportance;
  Dpc->DeferredRoutine = DeferredRoutine;
  Dpc->DeferredContext = DeferredContext;
}

void InitializeTimer(KTIMER* Timer, UCHAR type) {
  *Timer = KTIMER{};
  InitializeDispatcherHeader(Timer->Header, type, sizeof(KTIMER), 0);
}

}  // namespace

void NTAPI KeInitializeDpc(KDPC* Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext) {
  InitializeDpc(Dpc, DeferredRoutine, DeferredContext, kDpcObject);
}

// Threaded DPCs run at DISPATCH_LEVEL too when threaded DPCs are off, as ntbox keeps them.
void NTAPI KeInitializeThreadedDpc(KDPC* Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext) {
  InitializeDpc(Dpc, DeferredRoutine, DeferredContext, kThreadedDpcObject);
}

BOOLEAN NTAPI KeInsertQueueDpc(KDPC* Dpc, PVOID SystemArgument1, PVOID SystemArgument2) {
  return Cpus().InsertDpc(Dpc, SystemArgument1, SystemArgument2, ke::CurrentThread()->processor) ? TRUE : FALSE;
}

BOOLEAN NTAPI KeRemoveQueueDpc(KDPC* Dpc) { return Cpus().RemoveDpc(Dpc) ? TRUE : FALSE; }

void NTAPI KeSetTargetProcessorDpc(KDPC* Dpc, CCHAR Number) {
  Dpc->Number = static_cast<USHORT>(static_cast<UCHAR>(Number) + 1);
}

void NTAPI KeSetImportanceDpc(KDPC* Dpc, int Importance) { Dpc->Importance = static_cast<UCHAR>(Importance); }

void NTAPI KeFlushQueuedDpcs() { Cpus().FlushDpcs(); }

void NTAPI KeInitializeTimer(KTIMER* Timer) { InitializeTimer(Timer, dispatcher_type::kNotificationTimer); }

void NTAPI KeInitializeTimerEx(KTIMER* Timer, int Type) {
  InitializeTimer(Timer, Type == 1 ? dispatcher_type::kSynchronizationTimer : dispatcher_type::kNotificationTimer);
}

BOOLEAN NTAPI KeSetTimerEx(KTIMER* Timer, LARGE_INTEGER DueTime, LONG Period, KDPC* Dpc) {
  return Cpus().SetTimer(Timer, DueTime.QuadPart, Period, Dpc) ? TRUE : FALSE;
}

BOOLEAN NTAPI KeSetTimer(KTIMER* Timer, LARGE_INTEGER DueTime, KDPC* Dpc) { return KeSetTimerEx(Timer, DueTime, 0, Dpc); }

// The tolerable delay lets Windows fire timers together to save power; ntbox fires each on time.
BOOLEAN NTAPI KeSetCoalescableTimer(KTIMER* Timer, LARGE_INTEGER DueTime, ULONG Period, ULONG TolerableDelay, KDPC* Dpc) {
  (void)TolerableDelay;
  return KeSetTimerEx(Timer, DueTime, static_cast<LONG>(Period), Dpc);
}

BOOLEAN NTAPI KeCancelTimer(KTIMER* Timer) { return Cpus().CancelTimer(Timer) ? TRUE : FALSE; }

BOOLEAN NTAPI KeReadStateTimer(KTIMER* Timer) { return Timer->Header.SignalState != 0 ? TRUE : FALSE; }

}  // namespace ntbox::nt
