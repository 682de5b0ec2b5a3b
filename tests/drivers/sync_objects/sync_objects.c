/* The kernel's locks and lists, from a driver's side. SYNC_IOCTL_CHECKS runs each API's
   contract single-threaded (spin locks, fast and guarded mutexes, regions, ERESOURCE, push locks,
   interlocked lists, S-lists, lookaside lists, remove locks); SYNC_IOCTL_CONTEND runs system
   threads that fight over one lock around a read-sleep-write of a counter, so a lock that did
   not exclude would lose updates. */
#include <ntddk.h>

#include "sync_shared.h"

/* Push locks: exported since Windows 8, not declared by mingw-w64's headers. */
typedef ULONG_PTR EX_PUSH_LOCK;
NTKERNELAPI VOID NTAPI ExInitializePushLock(EX_PUSH_LOCK *PushLock);
NTKERNELAPI VOID NTAPI ExAcquirePushLockExclusiveEx(EX_PUSH_LOCK *PushLock, ULONG Flags);
NTKERNELAPI VOID NTAPI ExAcquirePushLockSharedEx(EX_PUSH_LOCK *PushLock, ULONG Flags);
NTKERNELAPI VOID NTAPI ExReleasePushLockExclusiveEx(EX_PUSH_LOCK *PushLock, ULONG Flags);
NTKERNELAPI VOID NTAPI ExReleasePushLockSharedEx(EX_PUSH_LOCK *PushLock, ULONG Flags);
/* ntifs.h declares it; ntddk.h does not. */
NTSYSAPI NTSTATUS NTAPI ZwYieldExecution(VOID);

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SyncUnload;
static DRIVER_DISPATCH SyncCreateClose;
static DRIVER_DISPATCH SyncDeviceControl;

static PDEVICE_OBJECT g_device;
static ULONG g_checks, g_failures;

#define CHECK(name, got, want)                                                                 \
  do {                                                                                         \
    ULONG_PTR got_ = (ULONG_PTR)(got), want_ = (ULONG_PTR)(want);                               \
    ++g_checks;                                                                                \
    if (got_ != want_) {                                                                       \
      ++g_failures;                                                                            \
      DbgPrint("sync: FAIL %s: got %Iu, want %Iu\n", name, got_, want_);                       \
    }                                                                                          \
  } while (0)

static void CheckSpinLocks(void) {
  KSPIN_LOCK lock;
  KLOCK_QUEUE_HANDLE handle;
  KIRQL old;
  KeInitializeSpinLock(&lock);
  CHECK("spin lock free after init", KeTestSpinLock(&lock), TRUE);
  KeAcquireSpinLock(&lock, &old);
  CHECK("KeAcquireSpinLock returns the old IRQL", old, PASSIVE_LEVEL);
  CHECK("KeAcquireSpinLock raises to DISPATCH_LEVEL", KeGetCurrentIrql(), DISPATCH_LEVEL);
  CHECK("a held spin lock tests busy", KeTestSpinLock(&lock), FALSE);
  CHECK("try-acquire of a held spin lock fails", KeTryToAcquireSpinLockAtDpcLevel(&lock), FALSE);
  KeReleaseSpinLock(&lock, old);
  CHECK("KeReleaseSpinLock restores the IRQL", KeGetCurrentIrql(), PASSIVE_LEVEL);
  CHECK("spin lock free after release", KeTestSpinLock(&lock), TRUE);

  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeAcquireSpinLockAtDpcLevel(&lock);
  CHECK("AtDpcLevel keeps DISPATCH_LEVEL", KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeReleaseSpinLockFromDpcLevel(&lock);
  CHECK("try-acquire of a free spin lock succeeds", KeTryToAcquireSpinLockAtDpcLevel(&lock), TRUE);
  KeReleaseSpinLockFromDpcLevel(&lock);
  KeLowerIrql(old);

  KeAcquireInStackQueuedSpinLock(&lock, &handle);
  CHECK("queued spin lock raises to DISPATCH_LEVEL", KeGetCurrentIrql(), DISPATCH_LEVEL);
  CHECK("queued spin lock holds the lock", KeTestSpinLock(&lock), FALSE);
  CHECK("queued spin lock saves the old IRQL", handle.OldIrql, PASSIVE_LEVEL);
  KeReleaseInStackQueuedSpinLock(&handle);
  CHECK("queued spin lock release restores the IRQL", KeGetCurrentIrql(), PASSIVE_LEVEL);
  CHECK("queued spin lock released", KeTestSpinLock(&lock), TRUE);

  old = KeAcquireSpinLockForDpc(&lock);
  CHECK("KeAcquireSpinLockForDpc at PASSIVE_LEVEL returns it", old, PASSIVE_LEVEL);
  KeReleaseSpinLockForDpc(&lock, old);
  CHECK("KeReleaseSpinLockForDpc restores the IRQL", KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void CheckMutexes(void) {
  FAST_MUTEX fast;
  KGUARDED_MUTEX guarded;
  ExInitializeFastMutex(&fast);
  ExAcquireFastMutex(&fast);
  CHECK("ExAcquireFastMutex raises to APC_LEVEL", KeGetCurrentIrql(), APC_LEVEL);
  CHECK("a fast mutex records its owner", fast.Owner, KeGetCurrentThread());
  CHECK("ExTryToAcquireFastMutex of a held mutex fails", ExTryToAcquireFastMutex(&fast), FALSE);
  ExReleaseFastMutex(&fast);
  CHECK("ExReleaseFastMutex restores the IRQL", KeGetCurrentIrql(), PASSIVE_LEVEL);
  CHECK("ExTryToAcquireFastMutex of a free mutex succeeds", ExTryToAcquireFastMutex(&fast), TRUE);
  ExReleaseFastMutex(&fast);

  KeEnterCriticalRegion();
  CHECK("KeAreApcsDisabled in a critical region", KeAreApcsDisabled(), TRUE);
  ExAcquireFastMutexUnsafe(&fast);
  CHECK("ExAcquireFastMutexUnsafe keeps the IRQL", KeGetCurrentIrql(), PASSIVE_LEVEL);
  ExReleaseFastMutexUnsafe(&fast);
  KeLeaveCriticalRegion();
  CHECK("KeAreApcsDisabled after the region", KeAreApcsDisabled(), FALSE);

  KeInitializeGuardedMutex(&guarded);
  KeAcquireGuardedMutex(&guarded);
  CHECK("a guarded mutex disables all APCs", KeAreAllApcsDisabled(), TRUE);
  CHECK("KeTryToAcquireGuardedMutex of a held mutex fails", KeTryToAcquireGuardedMutex(&guarded), FALSE);
  KeReleaseGuardedMutex(&guarded);
  CHECK("the guarded region ends with the release", KeAreAllApcsDisabled(), FALSE);
}

static void CheckResources(void) {
  PERESOURCE r = (PERESOURCE)ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(ERESOURCE), 'cnyS');
  EX_PUSH_LOCK push;
  if (!r) {
    CHECK("ERESOURCE allocation", 0, 1);
    return;
  }
  CHECK("ExInitializeResourceLite", ExInitializeResourceLite(r), STATUS_SUCCESS);
  KeEnterCriticalRegion();
  CHECK("exclusive acquire", ExAcquireResourceExclusiveLite(r, TRUE), TRUE);
  CHECK("exclusive recursion", ExAcquireResourceExclusiveLite(r, TRUE), TRUE);
  CHECK("shared acquire by the exclusive owner", ExAcquireResourceSharedLite(r, TRUE), TRUE);
  CHECK("ExIsResourceAcquiredExclusiveLite", ExIsResourceAcquiredExclusiveLite(r), TRUE);
  CHECK("ExIsResourceAcquiredSharedLite counts the recursion", ExIsResourceAcquiredSharedLite(r), 3);
  ExReleaseResourceLite(r);
  ExReleaseResourceLite(r);
  ExConvertExclusiveToSharedLite(r);
  CHECK("converted to shared", ExIsResourceAcquiredExclusiveLite(r), FALSE);
  CHECK("still held shared", ExIsResourceAcquiredSharedLite(r), 1);
  CHECK("shared recursion", ExAcquireSharedStarveExclusive(r, FALSE), TRUE);
  ExReleaseResourceLite(r);
  ExReleaseResourceForThreadLite(r, ExGetCurrentResourceThread());
  CHECK("released", ExIsResourceAcquiredSharedLite(r), 0);
  CHECK("no waiters", ExGetExclusiveWaiterCount(r) + ExGetSharedWaiterCount(r), 0);
  KeLeaveCriticalRegion();
  CHECK("ExDeleteResourceLite", ExDeleteResourceLite(r), STATUS_SUCCESS);
  ExFreePoolWithTag(r, 'cnyS');

  ExInitializePushLock(&push);
  KeEnterCriticalRegion();
  ExAcquirePushLockSharedEx(&push, 0);
  ExAcquirePushLockSharedEx(&push, 0);
  CHECK("a push lock held shared twice", push != 0, TRUE);
  ExReleasePushLockSharedEx(&push, 0);
  ExReleasePushLockSharedEx(&push, 0);
  ExAcquirePushLockExclusiveEx(&push, 0);
  CHECK("a push lock held exclusive", push != 0, TRUE);
  ExReleasePushLockExclusiveEx(&push, 0);
  CHECK("a released push lock is zero", push, 0);
  KeLeaveCriticalRegion();
}

typedef struct ITEM {
  LIST_ENTRY Link;
  SINGLE_LIST_ENTRY Single;
  int Value;
} ITEM;

typedef struct DECLSPEC_ALIGN(16) SITEM {
  SLIST_ENTRY Entry;
  int Value;
} SITEM;

static void CheckLists(void) {
  KSPIN_LOCK lock;
  LIST_ENTRY head;
  SINGLE_LIST_ENTRY single;
  ITEM a = {0}, b = {0}, c = {0};
  PLIST_ENTRY e;
  SLIST_HEADER DECLSPEC_ALIGN(16) slist;
  static SITEM s[3];
  NPAGED_LOOKASIDE_LIST lookaside;
  LOOKASIDE_LIST_EX lookasideEx;
  PVOID blocks[6];
  int i;
  ULONG sum = 5;

  KeInitializeSpinLock(&lock);
  InitializeListHead(&head);
  a.Value = 1, b.Value = 2, c.Value = 3;
  CHECK("insert into an empty list returns NULL", ExInterlockedInsertTailList(&head, &a.Link, &lock), NULL);
  CHECK("insert tail returns the old last", ExInterlockedInsertTailList(&head, &b.Link, &lock), &a.Link);
  CHECK("insert head returns the old first", ExInterlockedInsertHeadList(&head, &c.Link, &lock), &a.Link);
  e = ExInterlockedRemoveHeadList(&head, &lock);
  CHECK("remove head: the head insert", CONTAINING_RECORD(e, ITEM, Link)->Value, 3);
  e = ExInterlockedRemoveHeadList(&head, &lock);
  CHECK("remove head: first tail insert", CONTAINING_RECORD(e, ITEM, Link)->Value, 1);
  e = ExInterlockedRemoveHeadList(&head, &lock);
  CHECK("remove head: second tail insert", CONTAINING_RECORD(e, ITEM, Link)->Value, 2);
  CHECK("remove from an empty list", ExInterlockedRemoveHeadList(&head, &lock), NULL);
  CHECK("the list lock is free again", KeTestSpinLock(&lock), TRUE);
  single.Next = NULL;
  ExInterlockedPushEntryList(&single, &a.Single, &lock);
  CHECK("push returns the old first", ExInterlockedPushEntryList(&single, &b.Single, &lock), &a.Single);
  CHECK("pop is LIFO", ExInterlockedPopEntryList(&single, &lock), &b.Single);
  CHECK("ExInterlockedAddUlong returns the old value", ExInterlockedAddUlong(&sum, 3, &lock), 5);
  CHECK("ExInterlockedAddUlong adds", sum, 8);

  InitializeSListHead(&slist);
  for (i = 0; i < 3; ++i) {
    s[i].Value = i;
    InterlockedPushEntrySList(&slist, &s[i].Entry);
  }
  CHECK("S-list depth", ExQueryDepthSList(&slist), 3);
  CHECK("S-list pop is LIFO", ((SITEM *)InterlockedPopEntrySList(&slist))->Value, 2);
  CHECK("S-list depth after a pop", ExQueryDepthSList(&slist), 2);
  CHECK("S-list flush returns the first", ((SITEM *)InterlockedFlushSList(&slist))->Value, 1);
  CHECK("S-list empty after a flush", ExQueryDepthSList(&slist), 0);
  CHECK("S-list pop of an empty list", InterlockedPopEntrySList(&slist), NULL);

  ExInitializeNPagedLookasideList(&lookaside, NULL, NULL, 0, 48, 'kooL', 0);
  for (i = 0; i < 6; ++i) blocks[i] = ExAllocateFromNPagedLookasideList(&lookaside);
  CHECK("lookaside allocations", blocks[0] != NULL && blocks[5] != NULL, TRUE);
  CHECK("lookaside counts allocations", lookaside.L.TotalAllocates, 6);
  CHECK("an empty lookaside misses", lookaside.L.AllocateMisses, 6);
  for (i = 0; i < 6; ++i) ExFreeToNPagedLookasideList(&lookaside, blocks[i]);
  CHECK("lookaside keeps up to its depth", ExQueryDepthSList(&lookaside.L.ListHead), lookaside.L.Depth);
  CHECK("frees beyond the depth go to pool", lookaside.L.FreeMisses, 6 - lookaside.L.Depth);
  /* The last block cached is the first handed out again. */
  blocks[0] = ExAllocateFromNPagedLookasideList(&lookaside);
  CHECK("a cached block is reused", blocks[0], blocks[lookaside.L.Depth - 1]);
  ExFreeToNPagedLookasideList(&lookaside, blocks[0]);
  ExDeleteNPagedLookasideList(&lookaside);

  CHECK("ExInitializeLookasideListEx",
        ExInitializeLookasideListEx(&lookasideEx, NULL, NULL, NonPagedPoolNx, 0, 64, 'xEoL', 0), STATUS_SUCCESS);
  blocks[0] = ExAllocateFromLookasideListEx(&lookasideEx);
  CHECK("a LOOKASIDE_LIST_EX block", blocks[0] != NULL, TRUE);
  ExFreeToLookasideListEx(&lookasideEx, blocks[0]);
  CHECK("the block is cached", ExAllocateFromLookasideListEx(&lookasideEx), blocks[0]);
  ExFreeToLookasideListEx(&lookasideEx, blocks[0]);
  ExDeleteLookasideListEx(&lookasideEx);
}

/* A system thread that holds a remove lock a while, then releases it. */
static VOID HoldRemoveLock(PVOID context) {
  LARGE_INTEGER delay;
  delay.QuadPart = -10 * 1000 * 5; /* 5 ms */
  KeDelayExecutionThread(KernelMode, FALSE, &delay);
  IoReleaseRemoveLock((PIO_REMOVE_LOCK)context, (PVOID)2);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static void CheckRemoveLock(void) {
  IO_REMOVE_LOCK lock;
  HANDLE thread;
  IoInitializeRemoveLock(&lock, 'mRyS', 0, 0);
  CHECK("IoAcquireRemoveLock", IoAcquireRemoveLock(&lock, (PVOID)1), STATUS_SUCCESS);
  CHECK("a second IoAcquireRemoveLock", IoAcquireRemoveLock(&lock, (PVOID)2), STATUS_SUCCESS);
  CHECK("PsCreateSystemThread",
        PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, HoldRemoveLock, &lock), STATUS_SUCCESS);
  ZwClose(thread);
  /* Waits for the thread's release. */
  IoReleaseRemoveLockAndWait(&lock, (PVOID)1);
  CHECK("the remove lock drained", lock.Common.IoCount, 0);
  CHECK("acquire after removal", IoAcquireRemoveLock(&lock, (PVOID)3), STATUS_DELETE_PENDING);
}

/* Contention. */
static ULONG g_kind;
static FAST_MUTEX g_fast;
static KGUARDED_MUTEX g_guarded;
static ERESOURCE g_resource;
static EX_PUSH_LOCK g_push;
static KSPIN_LOCK g_spin;
static KMUTEX g_kmutex;
static volatile LONG g_counter, g_inside, g_maxInside, g_contended, g_readers, g_maxReaders;

static void NoteMax(volatile LONG *max, LONG value) {
  LONG seen;
  while ((seen = *max) < value && InterlockedCompareExchange(max, value, seen) != seen) {
  }
}

static void Critical(BOOLEAN sleep) {
  LONG value;
  NoteMax(&g_maxInside, InterlockedIncrement(&g_inside));
  value = g_counter;
  if (sleep) {
    LARGE_INTEGER delay;
    delay.QuadPart = -1; /* lets the other threads run while the lock is held */
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
  }
  g_counter = value + 1;
  InterlockedDecrement(&g_inside);
}

static void Reader(void) {
  LARGE_INTEGER delay;
  delay.QuadPart = -1;
  NoteMax(&g_maxReaders, InterlockedIncrement(&g_readers));
  KeDelayExecutionThread(KernelMode, FALSE, &delay);
  InterlockedDecrement(&g_readers);
}

static VOID Contender(PVOID context) {
  int round;
  UNREFERENCED_PARAMETER(context);
  for (round = 0; round < SYNC_ROUNDS; ++round) {
    switch (g_kind) {
      case SYNC_LOCK_FAST_MUTEX:
        if (!ExTryToAcquireFastMutex(&g_fast)) {
          InterlockedIncrement(&g_contended);
          ExAcquireFastMutex(&g_fast);
        }
        Critical(TRUE);
        ExReleaseFastMutex(&g_fast);
        break;
      case SYNC_LOCK_GUARDED_MUTEX:
        if (!KeTryToAcquireGuardedMutex(&g_guarded)) {
          InterlockedIncrement(&g_contended);
          KeAcquireGuardedMutex(&g_guarded);
        }
        Critical(TRUE);
        KeReleaseGuardedMutex(&g_guarded);
        break;
      case SYNC_LOCK_RESOURCE:
        KeEnterCriticalRegion();
        if (round % 2) {
          ExAcquireResourceSharedLite(&g_resource, TRUE);
          Reader();
        } else {
          if (!ExAcquireResourceExclusiveLite(&g_resource, FALSE)) {
            InterlockedIncrement(&g_contended);
            ExAcquireResourceExclusiveLite(&g_resource, TRUE);
          }
          Critical(TRUE);
        }
        ExReleaseResourceLite(&g_resource);
        KeLeaveCriticalRegion();
        break;
      case SYNC_LOCK_PUSH_LOCK:
        KeEnterCriticalRegion();
        if (round % 2) {
          ExAcquirePushLockSharedEx(&g_push, 0);
          Reader();
          ExReleasePushLockSharedEx(&g_push, 0);
        } else {
          ExAcquirePushLockExclusiveEx(&g_push, 0);
          Critical(TRUE);
          ExReleasePushLockExclusiveEx(&g_push, 0);
        }
        KeLeaveCriticalRegion();
        break;
      case SYNC_LOCK_SPIN_LOCK: {
        KIRQL old;
        KeAcquireSpinLock(&g_spin, &old);
        Critical(FALSE);
        KeReleaseSpinLock(&g_spin, old);
        ZwYieldExecution();
        break;
      }
      case SYNC_LOCK_QUEUED_SPIN_LOCK: {
        KLOCK_QUEUE_HANDLE handle;
        KeAcquireInStackQueuedSpinLock(&g_spin, &handle);
        Critical(FALSE);
        KeReleaseInStackQueuedSpinLock(&handle);
        ZwYieldExecution();
        break;
      }
      case SYNC_LOCK_KMUTEX:
        KeWaitForSingleObject(&g_kmutex, Executive, KernelMode, FALSE, NULL);
        Critical(TRUE);
        KeReleaseMutex(&g_kmutex, FALSE);
        break;
    }
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static NTSTATUS Contend(ULONG kind, SYNC_CONTENTION *result) {
  PVOID threads[SYNC_THREADS];
  KWAIT_BLOCK waitBlocks[SYNC_THREADS];
  NTSTATUS status;
  int i, n = 0;
  if (kind >= SYNC_LOCK_KINDS) return STATUS_INVALID_PARAMETER;
  g_kind = kind;
  g_counter = g_inside = g_maxInside = g_contended = g_readers = g_maxReaders = 0;
  ExInitializeFastMutex(&g_fast);
  KeInitializeGuardedMutex(&g_guarded);
  ExInitializePushLock(&g_push);
  KeInitializeSpinLock(&g_spin);
  KeInitializeMutex(&g_kmutex, 0);
  status = ExInitializeResourceLite(&g_resource);
  if (!NT_SUCCESS(status)) return status;
  RtlZeroMemory(result, sizeof *result);
  for (i = 0; i < SYNC_THREADS; ++i) {
    HANDLE handle;
    status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Contender, NULL);
    if (!NT_SUCCESS(status)) break;
    status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &threads[n], NULL);
    ZwClose(handle);
    if (!NT_SUCCESS(status)) break;
    ++n;
  }
  if (n) KeWaitForMultipleObjects(n, threads, WaitAll, Executive, KernelMode, FALSE, NULL, waitBlocks);
  for (i = 0; i < n; ++i) ObDereferenceObject(threads[i]);
  ExDeleteResourceLite(&g_resource);
  result->Counter = (unsigned)g_counter;
  result->MaxInside = (ULONG)g_maxInside;
  result->Contended = (ULONG)g_contended;
  result->MaxReaders = (ULONG)g_maxReaders;
  result->ThreadStatus = NT_SUCCESS(status) ? 0 : (ULONG)status;
  DbgPrint("sync: kind %lu counter %lu max inside %lu contended %lu max readers %lu\n", kind, result->Counter,
           result->MaxInside, result->Contended, result->MaxReaders);
  return STATUS_SUCCESS;
}

static NTSTATUS SyncDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  const ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
  const ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  ULONG_PTR information = 0;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case SYNC_IOCTL_CHECKS:
      if (out < sizeof(SYNC_CHECKS)) {
        status = STATUS_BUFFER_TOO_SMALL;
        break;
      }
      g_checks = g_failures = 0;
      CheckSpinLocks();
      CheckMutexes();
      CheckResources();
      CheckLists();
      CheckRemoveLock();
      ((SYNC_CHECKS *)irp->AssociatedIrp.SystemBuffer)->Checks = g_checks;
      ((SYNC_CHECKS *)irp->AssociatedIrp.SystemBuffer)->Failures = g_failures;
      DbgPrint("sync: %lu checks, %lu failures\n", g_checks, g_failures);
      status = STATUS_SUCCESS;
      information = sizeof(SYNC_CHECKS);
      break;
    case SYNC_IOCTL_CONTEND:
      if (in < sizeof(ULONG) || out < sizeof(SYNC_CONTENTION)) {
        status = STATUS_BUFFER_TOO_SMALL;
        break;
      }
      {
        SYNC_CONTENTION result;
        status = Contend(*(ULONG *)irp->AssociatedIrp.SystemBuffer, &result);
        if (NT_SUCCESS(status)) {
          RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, &result, sizeof result);
          information = sizeof result;
        }
      }
      break;
  }
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS SyncCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static VOID SyncUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING dosName;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\SyncObjects");
  IoDeleteSymbolicLink(&dosName);
  IoDeleteDevice(g_device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  UNICODE_STRING ntName, dosName;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registryPath);
  RtlInitUnicodeString(&ntName, L"\\Device\\SyncObjects");
  status = IoCreateDevice(driver, 0, &ntName, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&dosName, L"\\DosDevices\\SyncObjects");
  status = IoCreateSymbolicLink(&dosName, &ntName);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = SyncCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = SyncCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SyncDeviceControl;
  driver->DriverUnload = SyncUnload;
  return STATUS_SUCCESS;
}
