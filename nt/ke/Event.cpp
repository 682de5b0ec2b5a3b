// KEVENT: notification and synchronization events. Waits are in ke/Wait.cpp; setting an event
// wakes the kernel's waiters to look again (ke/Dispatcher.h). The signal state is also a futex
// word: programs' events are KEVENTs too, and kernel32 waits on them without the kernel lock.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>

#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"

namespace ntbox::nt {

void NTAPI KeInitializeEvent(KEVENT* Event, int Type, BOOLEAN State) {
  InitializeDispatcherHeader(Event->Header,
                             Type == 1 ? dispatcher_type::kSynchronizationEvent : dispatcher_type::kNotificationEvent,
                             sizeof(KEVENT), State ? 1 : 0);
}

namespace {
std::atomic_ref<LONG> State(KEVENT* e) { return std::atomic_ref<LONG>(e->Header.SignalState); }
}  // namespace

LONG NTAPI KeSetEvent(KEVENT* Event, LONG, BOOLEAN) {
  const LONG previous = State(Event).exchange(1);
  if (previous == 0) {
    syscall(SYS_futex, &Event->Header.SignalState, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
    ke::WakeWaiters();
  }
  return previous;
}

LONG NTAPI KeResetEvent(KEVENT* Event) { return State(Event).exchange(0); }
void NTAPI KeClearEvent(KEVENT* Event) { State(Event).store(0); }
LONG NTAPI KeReadStateEvent(KEVENT* Event) { return State(Event).load(); }

}  // namespace ntbox::nt
