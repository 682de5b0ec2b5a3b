// Timers the system allocates (ExAllocateTimer, Windows 8.1): a KTIMER with its DPC, which calls
// the driver's ExTimerCallback at DISPATCH_LEVEL with the timer and its context. Periods are in
// 100 ns units (KeSetTimerEx's are milliseconds: a shorter period fires every millisecond).
// ExDeleteTimer disables the timer at once; the object goes when no expiry is left to run, then
// the driver's delete callback is called, so a callback always gets a live timer.
#include <set>

#include "cpu/HostState.h"
#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Processors.h"
#include "nt/ex/ExExports.h"

namespace ntbox::nt {
namespace {

constexpr ULONG EX_TIMER_HIGH_RESOLUTION = 0x4, EX_TIMER_NO_WAKE = 0x8, EX_TIMER_NOTIFICATION = 0x80000000;
constexpr LONGLONG EX_TIMER_UNLIMITED_TOLERANCE = -1;

// The EX_TIMER drivers hold a pointer to (opaque to them; its KTIMER first, so it can be waited on).
struct ExTimer {
  KTIMER timer;
  KDPC dpc;
  PEXT_CALLBACK callback = nullptr;
  PVOID context = nullptr;
  bool disabled = false;
  bool deletePending = false;
  PEXT_DELETE_CALLBACK deleteCallback = nullptr;
  PVOID deleteContext = nullptr;
};

std::set<const ExTimer*> g_timers;  // live ones, under the kernel lock

ExTimer* Live(PVOID p) {
  auto* t = static_cast<ExTimer*>(p);
  return g_timers.contains(t) ? t : nullptr;
}

bool Pending(const ExTimer* t) {
  return Kernel::Current().processors().TimerSet(&t->timer) || Kernel::Current().processors().DpcPending(&t->dpc);
}

void Destroy(ExTimer* t) {
  g_timers.erase(t);
  const PEXT_DELETE_CALLBACK callback = t->deleteCallback;
  PVOID context = t->deleteContext;
  delete t;
  if (callback) cpu::CallDriver(callback, context);
}

void NTAPI Expired(KDPC*, PVOID context, PVOID, PVOID) {
  auto* t = static_cast<ExTimer*>(context);
  if (t->callback) cpu::CallDriver(t->callback, t, t->context);
  if (t->deletePending) {
    // A disabled periodic timer expires once more at most.
    KeCancelTimer(&t->timer);
    Destroy(t);
  }
}

#define NTBOX_CALLER reinterpret_cast<ULONG64>(__builtin_return_address(0))

}  // namespace

PVOID NTAPI ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext, ULONG Attributes) {
  constexpr ULONG known = EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE | EX_TIMER_NOTIFICATION;
  if ((Attributes & ~known) != 0) return nullptr;
  // A high-resolution timer fires on time; one that never wakes the processor cannot be that.
  if ((Attributes & EX_TIMER_HIGH_RESOLUTION) && (Attributes & EX_TIMER_NO_WAKE)) return nullptr;
  auto* t = new ExTimer();
  KeInitializeTimerEx(&t->timer, (Attributes & EX_TIMER_NOTIFICATION) ? 0 : 1);
  KeInitializeDpc(&t->dpc, &Expired, t);
  t->callback = Callback;
  t->context = CallbackContext;
  g_timers.insert(t);
  return t;
}

BOOLEAN NTAPI ExSetTimer(PVOID Timer, LONGLONG DueTime, LONGLONG Period, EXT_SET_PARAMETERS* Parameters) {
  ExTimer* t = Live(Timer);
  if (!t || t->disabled) return FALSE;
  if (Period < 0 || (Parameters && Parameters->NoWakeTolerance < 0 &&
                     Parameters->NoWakeTolerance != EX_TIMER_UNLIMITED_TOLERANCE)) {
    RaiseBugCheck(bugcheck::TIMER_OR_DPC_INVALID, 0, reinterpret_cast<ULONG64>(Timer), static_cast<ULONG64>(Period),
                  Parameters ? static_cast<ULONG64>(Parameters->NoWakeTolerance) : 0,
                  "ExSetTimer with a negative period or tolerance", NTBOX_CALLER);
  }
  const LONGLONG periodMs = Period == 0 ? 0 : std::max<LONGLONG>(1, Period / 10000);
  LARGE_INTEGER due;
  due.QuadPart = DueTime;
  return KeSetTimerEx(&t->timer, due, static_cast<LONG>(std::min<LONGLONG>(periodMs, 0x7FFFFFFF)), &t->dpc);
}

BOOLEAN NTAPI ExCancelTimer(PVOID Timer, PVOID Parameters) {
  (void)Parameters;
  ExTimer* t = Live(Timer);
  if (!t || t->disabled) return FALSE;
  return KeCancelTimer(&t->timer);
}

BOOLEAN NTAPI ExDeleteTimer(PVOID Timer, BOOLEAN Cancel, BOOLEAN Wait, EXT_DELETE_PARAMETERS* Parameters) {
  ExTimer* t = Live(Timer);
  if (!t || t->disabled) return FALSE;
  if (Wait && !Cancel) {
    RaiseBugCheck(bugcheck::TIMER_OR_DPC_INVALID, 1, reinterpret_cast<ULONG64>(Timer), 0, 0,
                  "ExDeleteTimer told to wait without cancelling", NTBOX_CALLER);
  }
  if (Wait && KeGetCurrentIrql() > APC_LEVEL) {
    // Its own callback (DISPATCH_LEVEL) waiting for itself would wait forever.
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, KeGetCurrentIrql(), 0, NTBOX_CALLER,
                  "ExDeleteTimer told to wait above APC_LEVEL", NTBOX_CALLER);
  }
  t->disabled = true;
  if (Parameters) {
    t->deleteCallback = Parameters->DeleteCallback;
    t->deleteContext = Parameters->DeleteContext;
  }
  const BOOLEAN cancelled = Cancel ? KeCancelTimer(&t->timer) : FALSE;
  if (Pending(t) && Wait) ke::WaitInDriver([t] { return !Pending(t); });
  if (Pending(t)) {
    t->deletePending = true;  // the last expiry deletes it
  } else {
    Destroy(t);
  }
  return cancelled;
}

}  // namespace ntbox::nt
