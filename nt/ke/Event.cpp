// KEVENT: notification and synchronization events, and waits on them. The signal state is the
// futex word, so a waiter sleeps in the host kernel until KeSetEvent wakes it.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <ctime>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"

namespace ntbox::nt {
namespace {

constexpr UCHAR kNotificationEvent = 0;
constexpr UCHAR kSynchronizationEvent = 1;

std::atomic_ref<LONG> State(KEVENT* e) { return std::atomic_ref<LONG>(e->Header.SignalState); }

void FutexWake(LONG* word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0); }

// Sleeps while *word is 0, for at most relative when given.
void FutexWait(LONG* word, const timespec* relative) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, relative, nullptr, 0);
}

}  // namespace

void NTAPI KeInitializeEvent(KEVENT* Event, int Type, BOOLEAN State) {
  Event->Header.Type = Type == 1 ? kSynchronizationEvent : kNotificationEvent;
  Event->Header.Size = sizeof(KEVENT) / sizeof(LONG);
  Event->Header.SignalState = State ? 1 : 0;
  Event->Header.WaitListHead.Flink = Event->Header.WaitListHead.Blink = &Event->Header.WaitListHead;
}

LONG NTAPI KeSetEvent(KEVENT* Event, LONG, BOOLEAN) {
  const LONG previous = State(Event).exchange(1);
  if (previous == 0) FutexWake(&Event->Header.SignalState);
  return previous;
}

LONG NTAPI KeResetEvent(KEVENT* Event) { return State(Event).exchange(0); }
void NTAPI KeClearEvent(KEVENT* Event) { State(Event).store(0); }
LONG NTAPI KeReadStateEvent(KEVENT* Event) { return State(Event).load(); }

NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, int, KPROCESSOR_MODE, BOOLEAN, LARGE_INTEGER* Timeout) {
  auto* event = static_cast<KEVENT*>(Object);
  const UCHAR type = event->Header.Type;
  if (type != kNotificationEvent && type != kSynchronizationEvent) {
    // Other dispatcher objects (mutexes, semaphores, timers, threads) come with the scheduler.
    RaiseBugCheck(0x1E, static_cast<ULONG64>(static_cast<std::int64_t>(STATUS_NOT_IMPLEMENTED)), 0, 0, 0,
                  "KeWaitForSingleObject on a dispatcher object ntbox cannot wait on yet");
  }
  // Deadline on the interrupt-time clock (100 ns units); Windows: negative = relative.
  std::int64_t deadline = -1;
  if (Timeout) {
    const LONGLONG t = Timeout->QuadPart;
    const auto now = static_cast<std::int64_t>(Kernel::Current().InterruptTime());
    deadline = t <= 0 ? now - t : now + std::max<std::int64_t>(0, t - static_cast<std::int64_t>(Kernel::SystemTime()));
  }
  for (;;) {
    LONG s = State(event).load();
    if (s != 0) {
      if (type == kNotificationEvent) return STATUS_SUCCESS;
      if (State(event).compare_exchange_strong(s, 0)) return STATUS_SUCCESS;
      continue;
    }
    timespec rel{};
    const timespec* relative = nullptr;
    if (deadline >= 0) {
      const auto now = static_cast<std::int64_t>(Kernel::Current().InterruptTime());
      if (now >= deadline) return STATUS_TIMEOUT;
      const std::int64_t left = deadline - now;
      rel.tv_sec = left / 10000000;
      rel.tv_nsec = (left % 10000000) * 100;
      relative = &rel;
    }
    FutexWait(&event->Header.SignalState, relative);
  }
}

}  // namespace ntbox::nt
