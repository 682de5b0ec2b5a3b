#include "nt/ke/Watchdog.h"

#include <pthread.h>
#include <signal.h>

#include "cpu/SafeCopy.h"
#include "cpu/Trap.h"
#include "nt/Kernel.h"
#include "nt/kd/Debugger.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt::ke {
namespace {
// Clock ticks as 0x133 counts them (KeQueryTimeIncrement: 15.625 ms).
std::uint64_t Ticks(std::chrono::nanoseconds d) { return static_cast<std::uint64_t>(d.count() / 15625000); }
struct Sample {
  KIRQL irql = 0;
  bool inDpc = false;
  std::uint32_t dpcs = 0;
};

bool Read(const KernelThread& t, Sample& s) {
  // KernelThread::Irql, read without faulting: the GS block's byte.
  std::uint8_t* gsIrql = nullptr;
  std::uint8_t* kpcr = nullptr;
  if (!cpu::SafeCopy(&gsIrql, &t.gsIrql, sizeof gsIrql) || !cpu::SafeCopy(&kpcr, t.kpcrSlot(), sizeof kpcr)) return false;
  const std::uint8_t* irql = gsIrql ? gsIrql : kpcr + kpcr::kIrql;
  return cpu::SafeCopy(&s.irql, irql, sizeof s.irql) && cpu::SafeCopy(&s.inDpc, &t.inDpcRoutine, sizeof s.inDpc) &&
         cpu::SafeCopy(&s.dpcs, &t.dpcsStarted, sizeof s.dpcs);
}

}  // namespace

Watchdog::Watchdog(WatchdogConfig config) : config_(config), thread_([this] { Run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::Run() {
  KernelLock& lock = TheKernelLock();
  // The lock's holder across samples: the same thread with no acquisition between has kept it all
  // that time.
  std::uint64_t lastAcquisitions = ~0ull;
  std::uint32_t lastDpcs = 0;
  KernelThread* lastHolder = nullptr;
  std::chrono::steady_clock::time_point since{};
  bool stopped = false;
  std::unique_lock guard(mutex_);
  while (!cv_.wait_for(guard, config_.quantum, [this] { return done_; })) {
    const auto now = std::chrono::steady_clock::now();
    if (kd::Frozen()) {
      // A debugger holds the machine: no time passes for the watchdog, and nobody is preempted.
      since = now;
      lastHolder = nullptr;
      continue;
    }
    const KernelLock::Holder holder = lock.holder();
    const std::uint64_t acquisitions = lock.acquisitions();
    // The holder's state, read without faulting (it may let the lock go and end meanwhile) and used
    // only when the lock did not change hands while it was read.
    KernelThread* thread = nullptr;
    Sample s;
    const bool read = holder.slot && cpu::SafeCopy(&thread, holder.slot, sizeof thread) && thread &&
                      Read(*thread, s) && lock.acquisitions() == acquisitions && lock.holder().slot == holder.slot;
    if (!read || thread != lastHolder || acquisitions != lastAcquisitions || s.dpcs != lastDpcs) {
      lastHolder = thread;
      lastAcquisitions = acquisitions;
      lastDpcs = read ? s.dpcs : 0;
      since = now;
      continue;
    }
    if (s.irql >= DISPATCH_LEVEL) {
      const bool inDpc = s.inDpc;
      const auto limit = inDpc ? config_.dpcTimeout : config_.dpcWatchdogPeriod;
      if (!stopped && now - since >= limit && !Stopping()) {
        stopped = true;  // one report; the stop ends the machine
        cpu::RequestWatchdogStop(holder.pthread, inDpc ? 0 : 1, Ticks(now - since), Ticks(limit));
      }
    } else if (lock.contended()) {
      preemptions_.fetch_add(1, std::memory_order_relaxed);
      cpu::RequestPreemption(holder.pthread);
      since = now;
    }
  }
}

}  // namespace ntbox::nt::ke
