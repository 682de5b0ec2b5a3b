// The clock interrupt's two duties that driver code cannot stop, on a thread of its own that never
// takes the kernel lock:
// - Preemption: code at PASSIVE_LEVEL or APC_LEVEL that keeps the kernel lock for a whole quantum
//   while other threads wait for it is interrupted and lets them run (cpu/ signals the holder; it
//   yields the lock only where it runs driver code), as a uniprocessor Windows' clock interrupt
//   preempts it. Code at DISPATCH_LEVEL or above is never preempted.
// - The DPC watchdog: a DPC routine that runs longer than DpcTimeout, or a thread that stays at
//   DISPATCH_LEVEL or above longer than DpcWatchdogPeriod, stops the machine with 0x133
//   DPC_WATCHDOG_VIOLATION on that thread, naming where it spins.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ntbox::nt::ke {

struct WatchdogConfig {
  std::chrono::milliseconds quantum{20};
  // Windows' defaults: 1280 clock ticks (20 s) for one DPC, 7680 (120 s) at DISPATCH_LEVEL in all.
  std::chrono::milliseconds dpcTimeout{20000};
  std::chrono::milliseconds dpcWatchdogPeriod{120000};
};

class Watchdog {
 public:
  explicit Watchdog(WatchdogConfig config);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  std::uint64_t preemptions() const { return preemptions_.load(); }

 private:
  void Run();

  WatchdogConfig config_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<std::uint64_t> preemptions_{0};
  std::thread thread_;
};

}  // namespace ntbox::nt::ke
