#include "nt/ke/Processors.h"

#include "cpu/HostState.h"
#include "nt/ke/SpinLock.h"
#include "nt/mm/Pageable.h"

#include <mutex>

#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt::ke {
namespace {

bool Within(const void* p, std::uint64_t begin, std::uint64_t end) {
  const auto a = reinterpret_cast<std::uint64_t>(p);
  return a >= begin && a < end;
}

}  // namespace

Processors::Processors(std::uint32_t count) {
  if (count == 0) count = 1;
  for (std::uint32_t i = 0; i < count; ++i) cpus_.push_back(std::make_unique<Cpu>());
  for (std::uint32_t i = 0; i < count; ++i) cpus_[i]->thread = std::thread([this, i] { Run(i); });
}

Processors::~Processors() {
  {
    std::lock_guard lock(TheKernelLock());
    done_ = true;
    WakeWaiters();
  }
  for (auto& cpu : cpus_) cpu->thread.join();
}

bool Processors::InsertDpc(KDPC* dpc, PVOID argument1, PVOID argument2, std::uint32_t processor) {
  if (dpc->DpcData != nullptr) return false;
  if (dpc->Number != 0) processor = dpc->Number - 1u;  // a target set by KeSetTargetProcessorDpc
  Cpu& cpu = *cpus_[processor % cpus_.size()];
  dpc->SystemArgument1 = argument1;
  dpc->SystemArgument2 = argument2;
  dpc->DpcData = &cpu;
  // HighImportance goes to the front of the queue, as on Windows.
  if (dpc->Importance == 2) {
    cpu.dpcs.push_front(dpc);
  } else {
    cpu.dpcs.push_back(dpc);
  }
  WakeWaiters();
  return true;
}

bool Processors::RemoveDpc(KDPC* dpc) {
  for (auto& cpu : cpus_) {
    if (dpc->DpcData != cpu.get()) continue;
    std::erase(cpu->dpcs, dpc);
    dpc->DpcData = nullptr;
    WakeWaiters();
    return true;
  }
  return false;
}

void Processors::FlushDpcs() {
  // A wait in driver code: a stop meanwhile (the DPC it waits for bugchecked) unwinds the call.
  WaitInDriver([this] {
    if (running_ > 0) return false;
    for (const auto& cpu : cpus_) {
      if (!cpu->dpcs.empty()) return false;
    }
    return true;
  });
}

bool Processors::DpcPending(const KDPC* dpc) const {
  if (dpc->DpcData != nullptr) return true;
  for (const auto& cpu : cpus_) {
    if (cpu->running == dpc) return true;
  }
  return false;
}

bool Processors::SetTimer(KTIMER* timer, LONGLONG dueTime, LONG period, KDPC* dpc) {
  const bool wasSet = CancelTimer(timer);
  const std::int64_t due = DueInterruptTime(dueTime);
  timer->Header.SignalState = 0;
  timer->Header.Absolute = dueTime >= 0 ? 1 : 0;
  timer->Dpc = dpc;
  timer->Period = static_cast<ULONG>(std::max<LONG>(0, period));
  timer->DueTime.QuadPart = due;
  timerIndex_[timer] = timers_.emplace(due, timer);
  if (timer->Period != 0) unfired_.insert(timer);
  WakeWaiters();
  return wasSet;
}

bool Processors::CancelTimer(KTIMER* timer) {
  const auto it = timerIndex_.find(timer);
  if (it == timerIndex_.end()) return false;
  timers_.erase(it->second);
  timerIndex_.erase(it);
  unfired_.erase(timer);
  WakeWaiters();
  return true;
}

Processors::Live Processors::LiveIn(std::uint64_t begin, std::uint64_t end) const {
  Live live;
  for (const auto& [due, timer] : timers_) {
    if (Within(timer, begin, end) || (timer->Dpc && (Within(timer->Dpc, begin, end) ||
                                                     Within(reinterpret_cast<const void*>(timer->Dpc->DeferredRoutine),
                                                            begin, end)))) {
      live.timers.push_back(timer);
    }
  }
  for (const auto& cpu : cpus_) {
    for (const KDPC* dpc : cpu->dpcs) {
      if (Within(dpc, begin, end) || Within(reinterpret_cast<const void*>(dpc->DeferredRoutine), begin, end)) {
        live.dpcs.push_back(dpc);
      }
    }
  }
  return live;
}

bool Processors::TimerDue(std::int64_t deadlineSlept) const {
  // A timer set or cancelled meanwhile changes what processor 0 must sleep until.
  const std::int64_t next = timers_.empty() ? -1 : timers_.begin()->first;
  if (next != deadlineSlept) return true;
  return next >= 0 && static_cast<std::int64_t>(Kernel::Current().InterruptTime()) >= next;
}

void Processors::ExpireTimers() {
  const auto now = static_cast<std::int64_t>(Kernel::Current().InterruptTime());
  bool changed = false;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const auto [due, timer] = *timers_.begin();
    timers_.erase(timers_.begin());
    timerIndex_.erase(timer);
    timer->Header.SignalState = 1;
    changed = true;
    unfired_.erase(timer);
    if (timer->Period != 0) {
      // Periodic: the next expiry keeps the phase; missed periods are not replayed.
      const std::int64_t period = static_cast<std::int64_t>(timer->Period) * 10000;
      std::int64_t next = due + period;
      if (next <= now) next = now + period;
      timer->DueTime.QuadPart = next;
      timerIndex_[timer] = timers_.emplace(next, timer);
    }
    if (KDPC* dpc = timer->Dpc) {
      // Timer DPCs get the expiry's system time as their two arguments.
      const std::uint64_t system = Kernel::SystemTime();
      (void)InsertDpc(dpc, reinterpret_cast<PVOID>(system & 0xFFFFFFFF), reinterpret_cast<PVOID>(system >> 32), 0);
    }
  }
  if (changed) WakeWaiters();
}

Processors::Pending Processors::PendingWork() const {
  Pending p;
  for (const auto& cpu : cpus_) {
    p.dpcs += cpu->dpcs.size() + (cpu->running ? 1 : 0);
    if (!p.firstDpc) p.firstDpc = cpu->running ? cpu->running : cpu->dpcs.empty() ? nullptr : cpu->dpcs.front();
  }
  // A periodic timer that has fired is the driver's steady state, not work that ends: it does not
  // count (its unload must cancel it: the verifier's check). Its first expiry does.
  for (const auto& [due, timer] : timers_) {
    if (timer->Period != 0 && !unfired_.contains(timer)) continue;
    if (p.timers++ == 0) p.firstTimer = timer;
  }
  return p;
}

void Processors::RunDpc(KDPC* dpc) {
  KernelThread& t = *CurrentThread();
  // The DPC leaves the queue before its routine runs: the routine may queue it again or free it.
  dpc->DpcData = nullptr;
  const PKDEFERRED_ROUTINE routine = dpc->DeferredRoutine;
  PVOID context = dpc->DeferredContext;
  PVOID a1 = dpc->SystemArgument1;
  PVOID a2 = dpc->SystemArgument2;
  t.SetIrql(DISPATCH_LEVEL);
  ++running_;
  ++dpcsRun_;
  const std::uint32_t held = t.spinLocksHeld;
  t.inDpcRoutine = true;
  t.dpcsStarted.store(t.dpcsStarted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  mm::TrimPageableMemory();  // the processor may have stayed at DISPATCH_LEVEL while others paged memory in
  (void)Kernel::Current().RunGuarded([&] {
    cpu::CallDriver(routine, dpc, context, a1, a2);
    CheckReturnWithoutSpinLock(held, reinterpret_cast<ULONG64>(routine), "the DPC routine");
    if (t.Irql() != DISPATCH_LEVEL) {
      RaiseBugCheck(bugcheck::IRQL_NOT_GREATER_OR_EQUAL, reinterpret_cast<ULONG64>(routine), t.Irql(),
                    reinterpret_cast<ULONG64>(routine), reinterpret_cast<ULONG64>(dpc),
                    "a DPC routine returned at an IRQL other than DISPATCH_LEVEL", reinterpret_cast<ULONG64>(routine));
    }
  });
  t.inDpcRoutine = false;
  --running_;
  t.SetIrql(DISPATCH_LEVEL);
  WakeWaiters();
}

void Processors::Run(std::uint32_t number) {
  ThreadAttachment attachment(number);
  KernelThread& t = attachment.thread();
  Cpu& cpu = *cpus_[number];
  std::lock_guard lock(TheKernelLock());
  t.SetIrql(DISPATCH_LEVEL);  // under the lock: raising trims pageable memory other code may be running
  for (;;) {
    const std::int64_t deadline = number == 0 && !timers_.empty() ? timers_.begin()->first : -1;
    const WaitOutcome outcome = WaitUntil(
        [&] { return done_ || !cpu.dpcs.empty() || (number == 0 && TimerDue(deadline)); }, deadline);
    if (outcome == WaitOutcome::kStopped || done_) break;
    if (number == 0) ExpireTimers();
    while (!cpu.dpcs.empty() && !Stopping()) {
      KDPC* dpc = cpu.dpcs.front();
      cpu.dpcs.pop_front();
      cpu.running = dpc;
      RunDpc(dpc);
      cpu.running = nullptr;
    }
  }
  t.SetIrql(PASSIVE_LEVEL);
}

}  // namespace ntbox::nt::ke
