// Ke exports: IRQL, time, processor stall, bugcheck.
#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

KIRQL NTAPI KeGetCurrentIrql();
KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql);
KIRQL NTAPI KeRaiseIrqlToDpcLevel();
void NTAPI KeLowerIrql(KIRQL NewIrql);

void NTAPI KeQuerySystemTime(LARGE_INTEGER* CurrentTime);
void NTAPI KeQuerySystemTimePrecise(LARGE_INTEGER* CurrentTime);
void NTAPI KeQueryTickCount(LARGE_INTEGER* TickCount);
ULONG NTAPI KeQueryTimeIncrement();
ULONGLONG NTAPI KeQueryInterruptTime();
LARGE_INTEGER NTAPI KeQueryPerformanceCounter(LARGE_INTEGER* PerformanceFrequency);
void NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);

struct KEVENT;
void NTAPI KeInitializeEvent(KEVENT* Event, int Type, BOOLEAN State);
LONG NTAPI KeSetEvent(KEVENT* Event, LONG Increment, BOOLEAN Wait);
LONG NTAPI KeResetEvent(KEVENT* Event);
void NTAPI KeClearEvent(KEVENT* Event);
LONG NTAPI KeReadStateEvent(KEVENT* Event);
NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, int WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                     LARGE_INTEGER* Timeout);
struct KWAIT_BLOCK;
NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], int WaitType, int WaitReason,
                                        KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, LARGE_INTEGER* Timeout,
                                        KWAIT_BLOCK* WaitBlockArray);
NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, LARGE_INTEGER* Timeout);
NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, LARGE_INTEGER* Interval);

struct KSEMAPHORE;
void NTAPI KeInitializeSemaphore(KSEMAPHORE* Semaphore, LONG Count, LONG Limit);
LONG NTAPI KeReadStateSemaphore(KSEMAPHORE* Semaphore);
LONG NTAPI KeReleaseSemaphore(void* Semaphore, LONG Increment, LONG Adjustment, BOOLEAN Wait);
struct KMUTANT;
void NTAPI KeInitializeMutex(KMUTANT* Mutex, ULONG Level);
LONG NTAPI KeReadStateMutex(KMUTANT* Mutex);
LONG NTAPI KeReleaseMutex(void* Mutex, BOOLEAN Wait);

struct KDPC;
struct KTIMER;
using PKDEFERRED_ROUTINE_FN = void(NTAPI*)(KDPC*, PVOID, PVOID, PVOID);
void NTAPI KeInitializeDpc(KDPC* Dpc, PKDEFERRED_ROUTINE_FN DeferredRoutine, PVOID DeferredContext);
void NTAPI KeInitializeThreadedDpc(KDPC* Dpc, PKDEFERRED_ROUTINE_FN DeferredRoutine, PVOID DeferredContext);
BOOLEAN NTAPI KeInsertQueueDpc(KDPC* Dpc, PVOID SystemArgument1, PVOID SystemArgument2);
BOOLEAN NTAPI KeRemoveQueueDpc(KDPC* Dpc);
void NTAPI KeSetTargetProcessorDpc(KDPC* Dpc, CCHAR Number);
void NTAPI KeSetImportanceDpc(KDPC* Dpc, int Importance);
void NTAPI KeFlushQueuedDpcs();
void NTAPI KeInitializeTimer(KTIMER* Timer);
void NTAPI KeInitializeTimerEx(KTIMER* Timer, int Type);
BOOLEAN NTAPI KeSetTimer(KTIMER* Timer, LARGE_INTEGER DueTime, KDPC* Dpc);
BOOLEAN NTAPI KeSetTimerEx(KTIMER* Timer, LARGE_INTEGER DueTime, LONG Period, KDPC* Dpc);
BOOLEAN NTAPI KeCancelTimer(KTIMER* Timer);
BOOLEAN NTAPI KeReadStateTimer(KTIMER* Timer);

// Spin locks (ke/SpinLock.cpp).
struct KLOCK_QUEUE_HANDLE;
void NTAPI KeInitializeSpinLock(KSPIN_LOCK* SpinLock);
KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(KSPIN_LOCK* SpinLock);
void NTAPI KeReleaseSpinLock(KSPIN_LOCK* SpinLock, KIRQL NewIrql);
void NTAPI KeAcquireSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock);
void NTAPI KeReleaseSpinLockFromDpcLevel(KSPIN_LOCK* SpinLock);
BOOLEAN NTAPI KeTryToAcquireSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock);
BOOLEAN NTAPI KeTestSpinLock(KSPIN_LOCK* SpinLock);
KIRQL NTAPI KeAcquireSpinLockForDpc(KSPIN_LOCK* SpinLock);
void NTAPI KeReleaseSpinLockForDpc(KSPIN_LOCK* SpinLock, KIRQL OldIrql);
void NTAPI KeAcquireInStackQueuedSpinLock(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle);
void NTAPI KeReleaseInStackQueuedSpinLock(KLOCK_QUEUE_HANDLE* LockHandle);
void NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle);
void NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(KLOCK_QUEUE_HANDLE* LockHandle);
void NTAPI KeAcquireInStackQueuedSpinLockForDpc(KSPIN_LOCK* SpinLock, KLOCK_QUEUE_HANDLE* LockHandle);
void NTAPI KeReleaseInStackQueuedSpinLockForDpc(KLOCK_QUEUE_HANDLE* LockHandle);

// Device queues (ke/DeviceQueue.cpp).
struct KDEVICE_QUEUE;
struct KDEVICE_QUEUE_ENTRY;
void NTAPI KeInitializeDeviceQueue(KDEVICE_QUEUE* DeviceQueue);
BOOLEAN NTAPI KeInsertDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry);
BOOLEAN NTAPI KeInsertByKeyDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry, ULONG SortKey);
KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveDeviceQueue(KDEVICE_QUEUE* DeviceQueue);
KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveByKeyDeviceQueue(KDEVICE_QUEUE* DeviceQueue, ULONG SortKey);
KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveByKeyDeviceQueueIfBusy(KDEVICE_QUEUE* DeviceQueue, ULONG SortKey);
BOOLEAN NTAPI KeRemoveEntryDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry);

// Affinity and calls on every processor (ke/Affinity.cpp).
struct GROUP_AFFINITY;
void NTAPI KeSetSystemAffinityThread(ULONG_PTR Affinity);
void NTAPI KeRevertToUserAffinityThread();
ULONG_PTR NTAPI KeSetSystemAffinityThreadEx(ULONG_PTR Affinity);
void NTAPI KeRevertToUserAffinityThreadEx(ULONG_PTR Affinity);
void NTAPI KeSetSystemGroupAffinityThread(GROUP_AFFINITY* Affinity, GROUP_AFFINITY* PreviousAffinity);
void NTAPI KeRevertToUserGroupAffinityThread(GROUP_AFFINITY* PreviousAffinity);
void NTAPI KeGenericCallDpc(PKDEFERRED_ROUTINE_FN Routine, PVOID Context);
void NTAPI KeSignalCallDpcDone(PVOID SystemArgument1);
ULONG NTAPI KeSignalCallDpcSynchronize(PVOID SystemArgument2);
ULONG_PTR NTAPI KeIpiGenericCall(ULONG_PTR(NTAPI* BroadcastFunction)(ULONG_PTR), ULONG_PTR Context);

// Kernel stacks (ke/KernelStack.cpp).
using PEXPAND_STACK_CALLOUT = void(NTAPI*)(PVOID Parameter);
NTSTATUS NTAPI KeExpandKernelStackAndCallout(PEXPAND_STACK_CALLOUT Callout, PVOID Parameter, SIZE_T Size);
NTSTATUS NTAPI KeExpandKernelStackAndCalloutEx(PEXPAND_STACK_CALLOUT Callout, PVOID Parameter, SIZE_T Size,
                                               BOOLEAN Wait, PVOID Context);
BOOLEAN NTAPI KeSetCoalescableTimer(KTIMER* Timer, LARGE_INTEGER DueTime, ULONG Period, ULONG TolerableDelay, KDPC* Dpc);

// Critical and guarded regions (ke/Region.cpp).
void NTAPI KeEnterCriticalRegion();
void NTAPI KeLeaveCriticalRegion();
void NTAPI KeEnterGuardedRegion();
void NTAPI KeLeaveGuardedRegion();
BOOLEAN NTAPI KeAreApcsDisabled();
BOOLEAN NTAPI KeAreAllApcsDisabled();

// Guarded mutexes (ex/FastMutex.cpp, the fast mutex's twin).
struct KGUARDED_MUTEX;
void NTAPI KeInitializeGuardedMutex(KGUARDED_MUTEX* Mutex);
void NTAPI KeAcquireGuardedMutex(KGUARDED_MUTEX* Mutex);
BOOLEAN NTAPI KeTryToAcquireGuardedMutex(KGUARDED_MUTEX* Mutex);
void NTAPI KeReleaseGuardedMutex(KGUARDED_MUTEX* Mutex);
void NTAPI KeAcquireGuardedMutexUnsafe(KGUARDED_MUTEX* Mutex);
void NTAPI KeReleaseGuardedMutexUnsafe(KGUARDED_MUTEX* Mutex);

[[noreturn]] void NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                     ULONG_PTR P4);
[[noreturn]] void NTAPI KeBugCheck(ULONG BugCheckCode);

// QueryPerformanceCounter's frequency on Windows 10: 10 MHz.
constexpr LONGLONG kPerformanceFrequency = 10000000;

// NtContinue: the caller's thread resumes user mode with Context once the service returns to
// the system-call entry (ntdll ends every thread's start and every exception so).
NTSTATUS NTAPI NtContinue(PVOID Context, BOOLEAN TestAlert);
// A program raises an exception (RtlRaiseException): first chance, it is dispatched from the
// program's KiUserExceptionDispatcher; second chance (nobody handled it), the program ends with it.
NTSTATUS NTAPI NtRaiseException(PVOID ExceptionRecord, PVOID Context, BOOLEAN FirstChance);

// Time services for programs (ke/Time.cpp).
NTSTATUS NTAPI NtQuerySystemTime(LARGE_INTEGER* SystemTime);
NTSTATUS NTAPI NtQueryPerformanceCounter(LARGE_INTEGER* PerformanceCounter, LARGE_INTEGER* PerformanceFrequency);

// Events and waits for programs (ke/Wait.cpp); named objects and alertable waits are to come.
NTSTATUS NTAPI NtWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, LARGE_INTEGER* Timeout);
NTSTATUS NTAPI NtWaitForMultipleObjects(ULONG Count, HANDLE* Handles, int WaitType, BOOLEAN Alertable,
                                        LARGE_INTEGER* Timeout);
NTSTATUS NTAPI NtDelayExecution(BOOLEAN Alertable, LARGE_INTEGER* DelayInterval);
// Named: in \BaseNamedObjects and the session's directory, shared with drivers (Global\...).
NTSTATUS NTAPI ZwCreateEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int EventType,
                             BOOLEAN InitialState);
NTSTATUS NTAPI ZwOpenEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI ZwSetEvent(HANDLE EventHandle, LONG* PreviousState);
KEVENT* NTAPI IoCreateNotificationEvent(UNICODE_STRING* EventName, HANDLE* EventHandle);
KEVENT* NTAPI IoCreateSynchronizationEvent(UNICODE_STRING* EventName, HANDLE* EventHandle);
NTSTATUS NTAPI NtOpenEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtOpenSemaphore(HANDLE* SemaphoreHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtOpenMutant(HANDLE* MutantHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtCreateSemaphore(HANDLE* SemaphoreHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                 LONG InitialCount, LONG MaximumCount);
NTSTATUS NTAPI NtReleaseSemaphore(HANDLE SemaphoreHandle, LONG ReleaseCount, LONG* PreviousCount);
NTSTATUS NTAPI NtCreateMutant(HANDLE* MutantHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                              BOOLEAN InitialOwner);
NTSTATUS NTAPI NtReleaseMutant(HANDLE MutantHandle, LONG* PreviousCount);
NTSTATUS NTAPI NtCreateEvent(HANDLE* EventHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int EventType,
                             BOOLEAN InitialState);
NTSTATUS NTAPI NtSetEvent(HANDLE EventHandle, LONG* PreviousState);
NTSTATUS NTAPI NtResetEvent(HANDLE EventHandle, LONG* PreviousState);
NTSTATUS NTAPI NtClearEvent(HANDLE EventHandle);

}  // namespace ntbox::nt
