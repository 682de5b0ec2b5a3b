// The dispatcher: the kernel lock every thread holds while it runs driver code, and waits that
// let it go while they sleep.
//
// ntbox runs driver code one thread at a time (requests, DPCs, work items, system threads): the
// kernel lock is a big lock, released only while a thread waits. Every schedule this allows is one
// a multiprocessor Windows allows too, so correct drivers run correctly; the virtual processors
// are identities (numbers, DPC queues), not parallelism. All dispatcher state (signal states,
// queues, timers) changes under the lock, and every change wakes the waiters to look again.
#pragma once
#include <chrono>
#include <cstdint>
#include <atomic>
#include <mutex>

#include "support/FunctionRef.h"

namespace ntbox::nt::ke {

class KernelThread;

class KernelLock {
 public:
  void lock();
  void unlock();
  // For the control plane, which never waits long for driver code: false when the lock stays taken.
  bool TryLockFor(std::chrono::milliseconds wait);
  bool HeldByCaller() const;
  // Lets go of every level the caller holds (for a wait); returns how many to take back.
  unsigned ReleaseAll();
  void Reacquire(unsigned depth);
  // Preemption: lets a thread waiting for the lock take it, then takes it back.
  void Yield();

  // What the watchdog (ke/Watchdog.h) samples, without the lock: who holds it, how often it has
  // been taken, and whether anyone waits for it.
  // The holder's current-thread slot (its thread-local CurrentThread(): a thread may attach after
  // it took the lock) and its pthread, for the watchdog's signals.
  struct Holder {
    KernelThread* const* slot = nullptr;
    unsigned long pthread = 0;
  };
  Holder holder() const {
    return {holder_.load(std::memory_order_acquire), holderPthread_.load(std::memory_order_relaxed)};
  }
  std::uint64_t acquisitions() const { return acquisitions_.load(std::memory_order_acquire); }
  bool contended() const { return waiters_.load(std::memory_order_relaxed) > 0; }

 private:
  void Acquire();
  void Took(unsigned depth);
  void Letting();

  std::timed_mutex mutex_;
  std::atomic<const void*> owner_{nullptr};
  unsigned depth_ = 0;
  std::atomic<KernelThread* const*> holder_{nullptr};
  std::atomic<unsigned long> holderPthread_{0};
  std::atomic<std::uint64_t> acquisitions_{0};  // written by the holder only
  std::atomic<int> waiters_{0};
};

KernelLock& TheKernelLock();

// After any change waiters may care about (made under the lock): every waiter looks again.
void WakeWaiters();

enum class WaitOutcome { kReady, kTimeout, kStopped };
// Waits until ready() holds; ready() runs under the kernel lock, which is let go while the thread
// sleeps. deadline is on the interrupt-time clock (100 ns units since boot), or -1 for none.
// kStopped: the kernel is stopping (shutdown or a bugcheck elsewhere).
WaitOutcome WaitUntil(FunctionRef<bool()> ready, std::int64_t deadline = -1);

// A due time as Windows' timers and waits take it (negative: relative, in 100 ns units;
// positive: absolute system time) as a point on the interrupt-time clock.
std::int64_t DueInterruptTime(std::int64_t windowsTime);

// Set once: a bugcheck or shutdown. Waits end with kStopped and no more driver code starts.
bool Stopping();
void SetStopping(bool value);

// A wait inside driver code that the kernel's stop ended: unwinds the driver call quietly (the
// machine is already going; no second report).
[[noreturn]] void UnwindStopped();
// A lock wait inside driver code: until ready() holds, or unwinds the call when the kernel stops.
void WaitInDriver(FunctionRef<bool()> ready);

// Idle tracking, for WaitIdle (the test kit): counted threads (system threads) are activity except
// while they sleep in an untimed wait that no change has woken since. All under the kernel lock,
// except WaitActivityChange.
void CountThread();         // a counted thread was created (it counts before it first runs)
void MarkCountedThread();   // on the counted thread, as it starts
void UncountThread();       // on the counted thread, as it ends
std::uint32_t UnsettledThreads();
// Moves when any waiter goes to sleep or anything changes; an idle waiter sleeps on it without the
// lock. false: the deadline passed.
std::uint32_t ActivitySequence();
bool WaitActivityChange(std::uint32_t seen, std::chrono::steady_clock::time_point deadline);

constexpr std::uint32_t kStopUnwindCode = 0xDEAD0000;  // BugCheck::code of that unwinding

}  // namespace ntbox::nt::ke
