#include "nt/ke/Dispatcher.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <ctime>

#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt::ke {
namespace {

const void* Me() {
  static thread_local char tag;
  return &tag;
}

// Bumped by every change; a waiter sleeps on the value it saw while it held the lock, so a change
// made after its look is never missed.
std::atomic<std::uint32_t> g_generation{0};
std::atomic<bool> g_stopping{false};

// Idle tracking: counted threads, and how many have settled (slept untimed) at g_settledAt.
std::uint32_t g_counted = 0;
std::uint32_t g_settled = 0;
std::uint32_t g_settledAt = 0;
thread_local bool t_counted = false;
thread_local std::uint32_t t_settledAt = ~0u;
std::atomic<std::uint32_t> g_activity{0};
std::atomic<int> g_activityWaiters{0};

void NoteActivity() {
  g_activity.fetch_add(1, std::memory_order_release);
  if (g_activityWaiters.load(std::memory_order_acquire) > 0) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_activity), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr,
            0);
  }
}

// A counted thread about to sleep untimed at generation seen.
void Settle(std::uint32_t seen) {
  if (t_settledAt == seen) return;
  t_settledAt = seen;
  if (g_settledAt != seen) {
    g_settledAt = seen;
    g_settled = 0;
  }
  ++g_settled;
}

}  // namespace

void KernelLock::Took(unsigned depth) {
  owner_.store(Me(), std::memory_order_relaxed);
  depth_ = depth;
  holderPthread_.store(pthread_self(), std::memory_order_relaxed);
  holder_.store(CurrentThreadSlot(), std::memory_order_relaxed);
  acquisitions_.store(acquisitions_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void KernelLock::Letting() {
  holder_.store(nullptr, std::memory_order_relaxed);
  owner_.store(nullptr, std::memory_order_relaxed);
}

// Counted as a waiter only when it has to wait: the uncontended path stays one try_lock.
void KernelLock::Acquire() {
  if (mutex_.try_lock()) return;
  waiters_.fetch_add(1, std::memory_order_relaxed);
  mutex_.lock();
  waiters_.fetch_sub(1, std::memory_order_relaxed);
}

void KernelLock::lock() {
  if (owner_.load(std::memory_order_relaxed) == Me()) {
    ++depth_;
    return;
  }
  Acquire();
  Took(1);
}

bool KernelLock::TryLockFor(std::chrono::milliseconds wait) {
  if (owner_.load(std::memory_order_relaxed) == Me()) {
    ++depth_;
    return true;
  }
  waiters_.fetch_add(1, std::memory_order_relaxed);
  const bool got = mutex_.try_lock_for(wait);
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  if (got) Took(1);
  return got;
}

void KernelLock::unlock() {
  if (--depth_ == 0) {
    Letting();
    mutex_.unlock();
  }
}

void KernelLock::Yield() {
  const unsigned depth = ReleaseAll();
  if (depth == 0) return;
  // std::mutex is not fair: give a waiter the time to take it before taking it back.
  const std::uint64_t before = acquisitions();
  for (int i = 0; i < 1000 && contended() && acquisitions() == before; ++i) sched_yield();
  Reacquire(depth);
}

bool KernelLock::HeldByCaller() const { return owner_.load(std::memory_order_relaxed) == Me(); }

unsigned KernelLock::ReleaseAll() {
  if (!HeldByCaller()) return 0;
  const unsigned depth = depth_;
  depth_ = 0;
  Letting();
  mutex_.unlock();
  return depth;
}

void KernelLock::Reacquire(unsigned depth) {
  if (depth == 0) return;
  Acquire();
  Took(depth);
}

KernelLock& TheKernelLock() {
  static KernelLock lock;
  return lock;
}

void WakeWaiters() {
  g_generation.fetch_add(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_generation), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
  NoteActivity();
}

void CountThread() { ++g_counted; }

void MarkCountedThread() { t_counted = true; }

void UncountThread() {
  t_counted = false;
  --g_counted;
  NoteActivity();
}

std::uint32_t UnsettledThreads() {
  const std::uint32_t settled = g_settledAt == g_generation.load(std::memory_order_acquire) ? g_settled : 0;
  return g_counted - std::min(settled, g_counted);
}

std::uint32_t ActivitySequence() { return g_activity.load(std::memory_order_acquire); }

bool WaitActivityChange(std::uint32_t seen, std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return false;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec relative{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  g_activityWaiters.fetch_add(1, std::memory_order_acq_rel);
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_activity), FUTEX_WAIT_PRIVATE, seen, &relative, nullptr, 0);
  g_activityWaiters.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

WaitOutcome WaitUntil(FunctionRef<bool()> ready, std::int64_t deadline) {
  KernelLock& lock = TheKernelLock();
  for (;;) {
    const std::uint32_t seen = g_generation.load(std::memory_order_acquire);
    if (g_stopping.load()) return WaitOutcome::kStopped;
    if (ready()) return WaitOutcome::kReady;
    timespec relative{};
    const timespec* timeout = nullptr;
    if (deadline >= 0) {
      const auto now = static_cast<std::int64_t>(Kernel::Current().InterruptTime());
      if (now >= deadline) return WaitOutcome::kTimeout;
      const std::int64_t left = deadline - now;
      relative.tv_sec = left / 10000000;
      relative.tv_nsec = (left % 10000000) * 100;
      timeout = &relative;
    }
    if (t_counted && deadline < 0) Settle(seen);
    NoteActivity();  // an idle waiter may be waiting for this thread to sleep
    const unsigned depth = lock.ReleaseAll();
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&g_generation), FUTEX_WAIT_PRIVATE, seen, timeout, nullptr,
            0);
    lock.Reacquire(depth);
  }
}

std::int64_t DueInterruptTime(std::int64_t windowsTime) {
  const auto now = static_cast<std::int64_t>(Kernel::Current().InterruptTime());
  if (windowsTime <= 0) return now - windowsTime;
  return now + std::max<std::int64_t>(0, windowsTime - static_cast<std::int64_t>(Kernel::SystemTime()));
}

bool Stopping() { return g_stopping.load(); }

void SetStopping(bool value) {
  g_stopping.store(value);
  WakeWaiters();
}

void WaitInDriver(FunctionRef<bool()> ready) {
  if (WaitUntil(ready) == WaitOutcome::kStopped) UnwindStopped();
}

void UnwindStopped() {
  BugCheck record;
  record.code = kStopUnwindCode;
  RaiseBugCheck(record);
}

}  // namespace ntbox::nt::ke
