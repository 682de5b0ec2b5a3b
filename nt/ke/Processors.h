// The machine's virtual processors: one host thread each, draining its DPC queue at
// DISPATCH_LEVEL. Processor 0 also keeps the clock: timers expire there, signal their waiters and
// queue their DPCs. Everything here changes under the kernel lock (ke/Dispatcher.h).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "nt/Types.h"

namespace ntbox::nt {
struct KDPC;
struct KTIMER;
}  // namespace ntbox::nt

namespace ntbox::nt::ke {

class Processors {
 public:
  explicit Processors(std::uint32_t count);
  // Stops the threads; call without the kernel lock.
  ~Processors();
  Processors(const Processors&) = delete;
  Processors& operator=(const Processors&) = delete;

  std::uint32_t count() const { return static_cast<std::uint32_t>(cpus_.size()); }

  // KeInsertQueueDpc: false when it is queued already. processor: the caller's, unless the DPC
  // has a target (KeSetTargetProcessorDpc).
  bool InsertDpc(KDPC* dpc, PVOID argument1, PVOID argument2, std::uint32_t processor);
  bool RemoveDpc(KDPC* dpc);
  // KeFlushQueuedDpcs: returns once every queue is empty and no DPC runs.
  void FlushDpcs();
  // Whether the DPC is queued or its routine is running on some processor.
  bool DpcPending(const KDPC* dpc) const;

  // KeSetTimerEx: dueTime as Windows takes it (negative: relative, 100 ns units; positive: absolute
  // system time); period in ms. True when the timer was already set.
  bool SetTimer(KTIMER* timer, LONGLONG dueTime, LONG period, KDPC* dpc);
  bool CancelTimer(KTIMER* timer);
  bool TimerSet(const KTIMER* timer) const { return timerIndex_.contains(timer); }

  // What is still live in a driver's memory or code, for the unload check.
  struct Live {
    std::vector<const KTIMER*> timers;
    std::vector<const KDPC*> dpcs;
  };
  Live LiveIn(std::uint64_t begin, std::uint64_t end) const;

  // What the processors have still to do (WaitIdle): DPCs queued or running, one-shot timers set,
  // periodic timers not yet fired once.
  struct Pending {
    std::size_t dpcs = 0;
    const KDPC* firstDpc = nullptr;
    std::size_t timers = 0;
    const KTIMER* firstTimer = nullptr;
  };
  Pending PendingWork() const;

  // Figures for benchmarks: DPCs and timer expirations so far.
  std::uint64_t dpcsRun() const { return dpcsRun_; }

 private:
  struct Cpu {
    std::deque<KDPC*> dpcs;
    const KDPC* running = nullptr;  // the DPC whose routine runs now
    std::thread thread;
  };
  void Run(std::uint32_t number);
  void RunDpc(KDPC* dpc);
  void ExpireTimers();
  bool TimerDue(std::int64_t deadlineSlept) const;

  std::vector<std::unique_ptr<Cpu>> cpus_;
  std::multimap<std::int64_t, KTIMER*> timers_;  // by due interrupt time
  std::map<const KTIMER*, std::multimap<std::int64_t, KTIMER*>::iterator> timerIndex_;
  std::set<const KTIMER*> unfired_;  // periodic timers set and not expired since
  int running_ = 0;  // DPCs executing now
  bool done_ = false;
  std::uint64_t dpcsRun_ = 0;
};

}  // namespace ntbox::nt::ke
