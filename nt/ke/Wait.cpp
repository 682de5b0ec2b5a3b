// Waits on dispatcher objects (events, semaphores, mutexes, timers, threads, processes), delays,
// and the semaphore and mutex objects themselves. Signal states change under the kernel lock;
// a waiter sleeps with the lock let go (ke/Dispatcher.h).
#include <algorithm>
#include <array>
#include <atomic>
#include <optional>
#include <span>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/io/IoExports.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObTypes.h"
#include "nt/ps/UserThreads.h"
#include "nt/rtl/Exception.h"

namespace ntbox::nt {
namespace {

namespace type = dispatcher_type;
constexpr ULONG MAXIMUM_WAIT_OBJECTS_EXCEEDED = 0x0C;
constexpr ULONG THREAD_NOT_MUTEX_OWNER = 0x11;
constexpr ULONG kThreadWaitObjects = 3;    // THREAD_WAIT_OBJECTS: more need a wait block array
constexpr ULONG kMaximumWaitObjects = 64;  // MAXIMUM_WAIT_OBJECTS
constexpr int WaitAll = 0;

bool Waitable(const DISPATCHER_HEADER* h) {
  switch (h->Type) {
    case type::kNotificationEvent:
    case type::kSynchronizationEvent:
    case type::kMutant:
    case type::kProcess:
    case type::kSemaphore:
    case type::kThread:
    case type::kNotificationTimer:
    case type::kSynchronizationTimer:
      return true;
    default:
      return false;
  }
}

bool Signaled(DISPATCHER_HEADER* h, const void* self) {
  if (h->Type == type::kMutant) {
    const auto* m = reinterpret_cast<const KMUTANT*>(h);
    return h->SignalState > 0 || m->OwnerThread == self;  // a mutex is recursive for its owner
  }
  return std::atomic_ref<LONG>(h->SignalState).load() > 0;
}

// What satisfying a wait does to the object; returns true for an abandoned mutex.
bool Consume(DISPATCHER_HEADER* h, void* self) {
  switch (h->Type) {
    case type::kSynchronizationEvent:
      // Atomic: KeSetEvent changes an event's state without the kernel lock.
      std::atomic_ref<LONG>(h->SignalState).store(0);
      return false;
    case type::kSynchronizationTimer:
      h->SignalState = 0;
      return false;
    case type::kSemaphore:
      --h->SignalState;
      return false;
    case type::kMutant: {
      auto* m = reinterpret_cast<KMUTANT*>(h);
      --h->SignalState;
      m->OwnerThread = self;
      const bool abandoned = m->Abandoned != 0;
      m->Abandoned = 0;
      return abandoned;
    }
    default:
      return false;
  }
}

std::int64_t DeadlineOf(const LARGE_INTEGER* timeout) { return timeout ? ke::DueInterruptTime(timeout->QuadPart) : -1; }

void CheckWaitIrql(const void* object, const LARGE_INTEGER* timeout, ULONG64 caller) {
  const ke::KernelThread* t = ke::CurrentThread();
  const bool blocking = !timeout || timeout->QuadPart != 0;
  if (t->Irql() > DISPATCH_LEVEL || (blocking && t->Irql() >= DISPATCH_LEVEL)) {
    // A thread at DISPATCH_LEVEL cannot be switched out: only a zero-timeout poll is allowed.
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, reinterpret_cast<ULONG64>(object), t->Irql(), 0, caller,
                  blocking ? "a wait that can block, at DISPATCH_LEVEL or above" : "a wait above DISPATCH_LEVEL",
                  caller);
  }
}

// A program's wait (a system service's, not a driver's) ends when its thread is asked to end, as a
// user-mode wait of a terminating thread does on Windows; the system-call exit then ends it.
bool Abandoned(const ke::KernelThread* t, bool userWait) { return userWait && t->userGuard && t->terminateRequested; }

NTSTATUS Wait(std::span<DISPATCHER_HEADER* const> objects, bool all, const LARGE_INTEGER* timeout, ULONG64 caller,
              bool userWait = false, bool alertable = false) {
  ke::KernelThread* t = ke::CurrentThread();
  void* self = t->kthread();
  for (DISPATCHER_HEADER* h : objects) {
    if (!Waitable(h)) {
      RaiseBugCheck(bugcheck::KMODE_EXCEPTION_NOT_HANDLED, static_cast<ULONG64>(static_cast<std::int64_t>(STATUS_ACCESS_VIOLATION)),
                    caller, 0, reinterpret_cast<ULONG64>(h), "a wait on something that is not a dispatcher object",
                    caller);
    }
  }
  NTSTATUS result = STATUS_TIMEOUT;
  const auto outcome = ke::WaitUntil(
      [&] {
        if (Abandoned(t, userWait)) {
          result = STATUS_THREAD_IS_TERMINATING;
          return true;
        }
        // An alertable wait ends for a user APC (the system-call exit runs it).
        if (alertable && ps::UserApcPending()) {
          result = STATUS_USER_APC;
          return true;
        }
        if (all) {
          for (DISPATCHER_HEADER* h : objects) {
            if (!Signaled(h, self)) return false;
          }
          bool abandoned = false;
          for (DISPATCHER_HEADER* h : objects) abandoned |= Consume(h, self);
          result = abandoned ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0;
          ke::WakeWaiters();
          return true;
        }
        for (std::size_t i = 0; i < objects.size(); ++i) {
          if (!Signaled(objects[i], self)) continue;
          const bool abandoned = Consume(objects[i], self);
          result = static_cast<NTSTATUS>((abandoned ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0) + i);
          return true;
        }
        return false;
      },
      DeadlineOf(timeout));
  if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  return outcome == ke::WaitOutcome::kTimeout ? STATUS_TIMEOUT : result;
}

}  // namespace

NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, int, KPROCESSOR_MODE, BOOLEAN, LARGE_INTEGER* Timeout) {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  CheckWaitIrql(Object, Timeout, caller);
  DISPATCHER_HEADER* const objects[] = {static_cast<DISPATCHER_HEADER*>(Object)};
  return Wait(objects, false, Timeout, caller);
}

NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], int WaitType, int, KPROCESSOR_MODE, BOOLEAN,
                                        LARGE_INTEGER* Timeout, KWAIT_BLOCK* WaitBlockArray) {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  if (Count > kMaximumWaitObjects || (Count > kThreadWaitObjects && !WaitBlockArray)) {
    RaiseBugCheck(MAXIMUM_WAIT_OBJECTS_EXCEEDED, 0, 0, 0, 0,
                  Count > kMaximumWaitObjects ? "more than MAXIMUM_WAIT_OBJECTS (64) objects in one wait"
                                              : "more than THREAD_WAIT_OBJECTS (3) objects without a wait block array",
                  caller);
  }
  CheckWaitIrql(Count ? Object[0] : nullptr, Timeout, caller);
  std::array<DISPATCHER_HEADER*, kMaximumWaitObjects> objects{};
  for (ULONG i = 0; i < Count; ++i) objects[i] = static_cast<DISPATCHER_HEADER*>(Object[i]);
  return Wait(std::span(objects.data(), Count), WaitType == WaitAll, Timeout, caller);
}

NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, LARGE_INTEGER* Timeout) {
  PVOID object = nullptr;
  const NTSTATUS status = ObReferenceObjectByHandle(Handle, 0x100000 /* SYNCHRONIZE */, nullptr, KernelMode, &object,
                                                    nullptr);
  if (!NT_SUCCESS(status)) return status;
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  CheckWaitIrql(object, Timeout, caller);
  DISPATCHER_HEADER* const objects[] = {static_cast<DISPATCHER_HEADER*>(object)};
  NTSTATUS result = STATUS_INVALID_HANDLE;
  if (Waitable(objects[0])) result = Wait(objects, false, Timeout, caller);
  (void)Alertable;
  ob::DereferenceObject(object);
  return result;
}

NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE, BOOLEAN, LARGE_INTEGER* Interval) {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  if (ke::CurrentThread()->Irql() > APC_LEVEL) {
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, ke::CurrentThread()->Irql(), 0, caller,
                  "KeDelayExecutionThread above APC_LEVEL", caller);
  }
  const std::int64_t deadline = DeadlineOf(Interval);
  if (ke::WaitUntil([] { return false; }, deadline) == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  return STATUS_SUCCESS;
}

// Semaphores.
void NTAPI KeInitializeSemaphore(KSEMAPHORE* Semaphore, LONG Count, LONG Limit) {
  InitializeDispatcherHeader(Semaphore->Header, type::kSemaphore, sizeof(KSEMAPHORE), Count);
  Semaphore->Limit = Limit;
}

LONG NTAPI KeReadStateSemaphore(KSEMAPHORE* Semaphore) { return Semaphore->Header.SignalState; }

LONG NTAPI KeReleaseSemaphore(void* object, LONG, LONG Adjustment, BOOLEAN) {
  auto* s = static_cast<KSEMAPHORE*>(object);
  const LONG old = s->Header.SignalState;
  if (Adjustment <= 0 || old > s->Limit - Adjustment) RaiseAtDriverCall(STATUS_SEMAPHORE_LIMIT_EXCEEDED);
  s->Header.SignalState = old + Adjustment;
  ke::WakeWaiters();
  return old;
}

// Mutexes.
void NTAPI KeInitializeMutex(KMUTANT* Mutex, ULONG) {
  *Mutex = KMUTANT{};
  InitializeDispatcherHeader(Mutex->Header, type::kMutant, sizeof(KMUTANT), 1);
  Mutex->ApcDisable = 1;
}

LONG NTAPI KeReadStateMutex(KMUTANT* Mutex) { return Mutex->Header.SignalState; }

LONG NTAPI KeReleaseMutex(void* object, BOOLEAN) {
  auto* m = static_cast<KMUTANT*>(object);
  const LONG old = m->Header.SignalState;
  if (m->OwnerThread != ke::CurrentThread()->kthread() || old > 0) {
    // Releasing a mutex the thread does not own: Windows stops with THREAD_NOT_MUTEX_OWNER.
    RaiseBugCheck(THREAD_NOT_MUTEX_OWNER, reinterpret_cast<ULONG64>(m->OwnerThread),
                  reinterpret_cast<ULONG64>(m), reinterpret_cast<ULONG64>(ke::CurrentThread()->kthread()), 0,
                  "KeReleaseMutex by a thread that does not own the mutex");
  }
  if (++m->Header.SignalState == 1) m->OwnerThread = nullptr;
  ke::WakeWaiters();
  return old;
}

// The services programs wait with: handles referenced for the caller (a program's own only),
// the timeout and the handle array captured from its memory.
namespace {

NTSTATUS WaitOnHandles(std::span<const HANDLE> handles, bool all, const LARGE_INTEGER* Timeout, bool alertable) {
  std::optional<LARGE_INTEGER> timeout;
  if (Timeout) {
    timeout = mm::ReadCaller(Timeout);
    if (!timeout) return STATUS_ACCESS_VIOLATION;
  }
  std::array<PVOID, kMaximumWaitObjects> bodies{};
  std::array<DISPATCHER_HEADER*, kMaximumWaitObjects> objects{};
  NTSTATUS status = STATUS_SUCCESS;
  std::size_t referenced = 0;
  for (; referenced < handles.size(); ++referenced) {
    status = ObReferenceObjectByHandle(handles[referenced], 0x100000 /* SYNCHRONIZE */, nullptr, ExGetPreviousMode(),
                                       &bodies[referenced], nullptr);
    if (!NT_SUCCESS(status)) break;
    objects[referenced] = static_cast<DISPATCHER_HEADER*>(bodies[referenced]);
    // Only dispatcher objects have a DISPATCHER_HEADER to read (a key's body has none).
    const ob::ObjectType* kind = ob::HeaderOf(bodies[referenced])->type;
    const bool dispatcher = kind == &ob::EventType() || kind == &ob::SemaphoreType() || kind == &ob::MutantType() ||
                            kind == &ob::ThreadType() || kind == &ob::ProcessType() || kind == &ob::TimerType();
    if (!dispatcher || !Waitable(objects[referenced])) {
      status = STATUS_OBJECT_TYPE_MISMATCH;
      ++referenced;
      break;
    }
  }
  if (NT_SUCCESS(status)) {
    const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
    status = Wait(std::span(objects.data(), handles.size()), all, timeout ? &*timeout : nullptr, caller, true,
                  alertable);
  }
  for (std::size_t i = 0; i < referenced; ++i) {
    if (bodies[i]) ob::DereferenceObject(bodies[i]);
  }
  return status;
}

NTSTATUS ReferenceEvent(HANDLE handle, PVOID& body) {
  return ObReferenceObjectByHandle(handle, 0, &ob::EventType(), ExGetPreviousMode(), &body, nullptr);
}

}  // namespace

NTSTATUS NTAPI NtWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, LARGE_INTEGER* Timeout) {
  const HANDLE handles[] = {Handle};
  return WaitOnHandles(handles, false, Timeout, Alertable);
}

NTSTATUS NTAPI NtWaitForMultipleObjects(ULONG Count, HANDLE* Handles, int WaitType, BOOLEAN Alertable,
                                        LARGE_INTEGER* Timeout) {
  if (Count == 0 || Count > kMaximumWaitObjects) return STATUS_INVALID_PARAMETER_1;
  if (WaitType != WaitAll && WaitType != 1 /* WaitAny */) return STATUS_INVALID_PARAMETER_3;
  std::array<HANDLE, kMaximumWaitObjects> handles{};
  if (!mm::ReadCaller(handles.data(), Handles, Count * sizeof(HANDLE))) return STATUS_ACCESS_VIOLATION;
  return WaitOnHandles(std::span(handles.data(), Count), WaitType == WaitAll, Timeout, Alertable);
}

NTSTATUS NTAPI NtDelayExecution(BOOLEAN Alertable, LARGE_INTEGER* DelayInterval) {
  // No interval: for ever (Wine's Sleep(INFINITE) passes none).
  std::optional<LARGE_INTEGER> interval;
  if (DelayInterval) {
    interval = mm::ReadCaller(DelayInterval);
    if (!interval) return STATUS_ACCESS_VIOLATION;
  }
  ke::KernelThread* t = ke::CurrentThread();
  bool apc = false;
  const auto outcome = ke::WaitUntil(
      [t, Alertable, &apc] { return Abandoned(t, true) || (Alertable && (apc = ps::UserApcPending())); },
      DeadlineOf(interval ? &*interval : nullptr));
  if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  return apc ? STATUS_USER_APC : STATUS_SUCCESS;
}

NTSTATUS NTAPI NtCreateEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int EventType,
                             BOOLEAN InitialState) {
  if (!mm::WriteCaller(EventHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  if (EventType != 0 && EventType != 1) return STATUS_INVALID_PARAMETER_4;
  void* body = ob::CreateObject(ob::EventType(), sizeof(KEVENT));
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  KeInitializeEvent(static_cast<KEVENT*>(body), EventType, InitialState ? TRUE : FALSE);
  return ob::ReturnNamedHandle(body, ObjectAttributes, DesiredAccess ? DesiredAccess : 0x1F0003 /* EVENT_ALL_ACCESS */,
                               EventHandle);
}

NTSTATUS NTAPI NtSetEvent(HANDLE EventHandle, LONG* PreviousState) {
  PVOID body = nullptr;
  if (const NTSTATUS s = ReferenceEvent(EventHandle, body); !NT_SUCCESS(s)) return s;
  const LONG previous = KeSetEvent(static_cast<KEVENT*>(body), 0, FALSE);
  ob::DereferenceObject(body);
  if (PreviousState && !mm::WriteCaller(PreviousState, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtResetEvent(HANDLE EventHandle, LONG* PreviousState) {
  PVOID body = nullptr;
  if (const NTSTATUS s = ReferenceEvent(EventHandle, body); !NT_SUCCESS(s)) return s;
  const LONG previous = KeResetEvent(static_cast<KEVENT*>(body));
  ob::DereferenceObject(body);
  if (PreviousState && !mm::WriteCaller(PreviousState, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtClearEvent(HANDLE EventHandle) { return NtResetEvent(EventHandle, nullptr); }

// Drivers' named events: the same services from kernel mode, and the I/O manager's shortcuts, which
// create or open an event in \BaseNamedObjects, signaled when new, with a kernel handle.
NTSTATUS NTAPI ZwCreateEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int EventType,
                             BOOLEAN InitialState) {
  ke::KernelModeCall kernel;
  return NtCreateEvent(EventHandle, DesiredAccess, ObjectAttributes, EventType, InitialState);
}
NTSTATUS NTAPI ZwOpenEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  ke::KernelModeCall kernel;
  return NtOpenEvent(EventHandle, DesiredAccess, ObjectAttributes);
}
NTSTATUS NTAPI ZwSetEvent(HANDLE EventHandle, LONG* PreviousState) {
  ke::KernelModeCall kernel;
  return NtSetEvent(EventHandle, PreviousState);
}

namespace {

KEVENT* CreateNamedEvent(UNICODE_STRING* EventName, HANDLE* EventHandle, int type) {
  if (!EventName || !EventHandle) return nullptr;
  OBJECT_ATTRIBUTES a{sizeof(OBJECT_ATTRIBUTES), nullptr, EventName, OBJ_OPENIF | OBJ_KERNEL_HANDLE, nullptr, nullptr};
  HANDLE handle = nullptr;
  if (!NT_SUCCESS(ZwCreateEvent(&handle, 0x1F0003, &a, type, TRUE))) return nullptr;
  PVOID object = nullptr;
  if (!NT_SUCCESS(ObReferenceObjectByHandle(handle, 0, &ob::EventType(), KernelMode, &object, nullptr))) {
    (void)ZwClose(handle);
    return nullptr;
  }
  ob::DereferenceObject(object);  // the handle keeps it, as Windows returns it
  *EventHandle = handle;
  return static_cast<KEVENT*>(object);
}

}  // namespace

KEVENT* NTAPI IoCreateNotificationEvent(UNICODE_STRING* EventName, HANDLE* EventHandle) {
  return CreateNamedEvent(EventName, EventHandle, 0 /* NotificationEvent */);
}

KEVENT* NTAPI IoCreateSynchronizationEvent(UNICODE_STRING* EventName, HANDLE* EventHandle) {
  return CreateNamedEvent(EventName, EventHandle, 1 /* SynchronizationEvent */);
}

NTSTATUS NTAPI NtOpenEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return ob::OpenNamed(ObjectAttributes, ob::EventType(), DesiredAccess, EventHandle);
}
NTSTATUS NTAPI NtOpenSemaphore(HANDLE* SemaphoreHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return ob::OpenNamed(ObjectAttributes, ob::SemaphoreType(), DesiredAccess, SemaphoreHandle);
}
NTSTATUS NTAPI NtOpenMutant(HANDLE* MutantHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return ob::OpenNamed(ObjectAttributes, ob::MutantType(), DesiredAccess, MutantHandle);
}

NTSTATUS NTAPI NtCreateSemaphore(HANDLE* SemaphoreHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                 LONG InitialCount, LONG MaximumCount) {
  if (!mm::WriteCaller(SemaphoreHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  if (MaximumCount <= 0 || InitialCount < 0 || InitialCount > MaximumCount) return STATUS_INVALID_PARAMETER;
  void* body = ob::CreateObject(ob::SemaphoreType(), sizeof(KSEMAPHORE));
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  KeInitializeSemaphore(static_cast<KSEMAPHORE*>(body), InitialCount, MaximumCount);
  return ob::ReturnNamedHandle(body, ObjectAttributes, DesiredAccess ? DesiredAccess : 0x1F0003 /* SEMAPHORE_ALL_ACCESS */,
                               SemaphoreHandle);
}

NTSTATUS NTAPI NtReleaseSemaphore(HANDLE SemaphoreHandle, LONG ReleaseCount, LONG* PreviousCount) {
  if (ReleaseCount <= 0) return STATUS_INVALID_PARAMETER;
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(SemaphoreHandle, 0x2 /* SEMAPHORE_MODIFY_STATE */, &ob::SemaphoreType());
      !NT_SUCCESS(s)) {
    return s;
  }
  auto* semaphore = static_cast<KSEMAPHORE*>(ref.body());
  // Over the limit changes nothing: the caller hears of it (drivers get an exception instead).
  const LONG previous = semaphore->Header.SignalState;
  if (ReleaseCount > semaphore->Limit - previous) return STATUS_SEMAPHORE_LIMIT_EXCEEDED;
  (void)KeReleaseSemaphore(semaphore, 0, ReleaseCount, FALSE);
  if (PreviousCount && !mm::WriteCaller(PreviousCount, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtCreateMutant(HANDLE* MutantHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                              BOOLEAN InitialOwner) {
  if (!mm::WriteCaller(MutantHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  void* body = ob::CreateObject(ob::MutantType(), sizeof(KMUTANT));
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  auto* mutant = static_cast<KMUTANT*>(body);
  KeInitializeMutex(mutant, 0);
  mutant->ApcDisable = 0;  // a mutant, not a kernel mutex
  if (InitialOwner) {
    mutant->Header.SignalState = 0;
    mutant->OwnerThread = ke::CurrentThread()->kthread();
  }
  return ob::ReturnNamedHandle(body, ObjectAttributes, DesiredAccess ? DesiredAccess : 0x1F0001 /* MUTANT_ALL_ACCESS */,
                               MutantHandle);
}

NTSTATUS NTAPI NtReleaseMutant(HANDLE MutantHandle, LONG* PreviousCount) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(MutantHandle, 0, &ob::MutantType()); !NT_SUCCESS(s)) return s;
  auto* mutant = static_cast<KMUTANT*>(ref.body());
  if (mutant->OwnerThread != ke::CurrentThread()->kthread() || mutant->Header.SignalState > 0) {
    return STATUS_MUTANT_NOT_OWNED;
  }
  const LONG previous = KeReleaseMutex(mutant, FALSE);
  if (PreviousCount && !mm::WriteCaller(PreviousCount, previous)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
