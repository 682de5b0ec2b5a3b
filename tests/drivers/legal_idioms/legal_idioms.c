/* Legal code the verifier must never stop: the documented IRQL, spin-lock, pool, wait and IRP
   idioms, each done the way the documentation allows. The test suite builds this one source with
   gcc at -O0, -O2 and -Os and with clang, and loads each build under Driver Verifier's standard
   checks: every build must run to "legal idioms: N checks, 0 failed" and unload with no stop. */
#include <ntddk.h>

/* Newer than mingw-w64's headers. */
#ifndef POOL_NX_ALLOCATION
#define POOL_NX_ALLOCATION 512
#endif

static ULONG g_checks, g_failures;

#define CHECK(name, cond)                                  \
  do {                                                     \
    ++g_checks;                                            \
    if (!(cond)) {                                         \
      ++g_failures;                                        \
      DbgPrint("legal idioms: FAIL %s\n", name);           \
    }                                                      \
  } while (0)

/* ---- IRQL ---------------------------------------------------------------------------------- */

/* Read the IRQL between a raise and its lower (an optimizing build keeps the raise's cr8 read,
   the second read and the lower's write close together). */
static void RaiseReadLower(KIRQL to)
{
    KIRQL old, now;
    KeRaiseIrql(to, &old);
    now = KeGetCurrentIrql();
    KeLowerIrql(old);
    CHECK("raise, read, lower", now == to && KeGetCurrentIrql() == old);
}

/* The raise written with the intrinsics, with a call and a branch between read and write. */
static KIRQL __attribute__((noinline)) Identity(KIRQL irql)
{
    return irql;
}

static void IntrinsicRaise(void)
{
    KIRQL old = (KIRQL)__readcr8();
    KIRQL target = Identity(DISPATCH_LEVEL);
    if (old < target)
        __writecr8(target);
    CHECK("intrinsic raise", KeGetCurrentIrql() == DISPATCH_LEVEL);
    __writecr8(old);
    CHECK("intrinsic lower", KeGetCurrentIrql() == PASSIVE_LEVEL);
}

static void IrqlIdioms(void)
{
    KIRQL a, b, c;
    KEVENT event;
    KSPIN_LOCK lock;
    KDPC dpc;

    RaiseReadLower(APC_LEVEL);
    RaiseReadLower(DISPATCH_LEVEL);
    RaiseReadLower(HIGH_LEVEL);

    a = KeRaiseIrqlToDpcLevel();
    CHECK("KeRaiseIrqlToDpcLevel", KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(a);

    /* Nested raises, lowered in reverse order; a raise to the current level. */
    KeRaiseIrql(APC_LEVEL, &a);
    KeRaiseIrql(DISPATCH_LEVEL, &b);
    KeRaiseIrql(DISPATCH_LEVEL, &c);
    CHECK("raise to the same level", c == DISPATCH_LEVEL);
    KeLowerIrql(c);
    KeLowerIrql(b);
    KeLowerIrql(a);
    CHECK("nested raises undone", KeGetCurrentIrql() == PASSIVE_LEVEL);

    /* What the documentation allows at any IRQL. */
    KeRaiseIrql(HIGH_LEVEL, &a);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeInitializeSpinLock(&lock);
    KeInitializeDpc(&dpc, NULL, NULL);
    KeLowerIrql(a);

    IntrinsicRaise();
}

/* What the DPC saw: the IRQL it ran at, after raising to HIGH_LEVEL, after lowering back. */
typedef struct DPC_SEEN {
    BOOLEAN ran;
    KIRQL entry, raised, lowered;
} DPC_SEEN;

/* A DPC routine runs at DISPATCH_LEVEL: it may raise above it and come back, never below. */
static VOID NTAPI IrqlDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    KIRQL old, now;
    DPC_SEEN *seen = (DPC_SEEN *)context;
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    KeRaiseIrql(HIGH_LEVEL, &old);
    now = KeGetCurrentIrql();
    KeLowerIrql(old);
    seen->entry = old;
    seen->raised = now;
    seen->lowered = KeGetCurrentIrql();
    seen->ran = TRUE;
    RaiseReadLower(DISPATCH_LEVEL);
    old = KeRaiseIrqlToDpcLevel();
    KeLowerIrql(old);
}

static void DpcIdioms(void)
{
    KDPC dpc;
    DPC_SEEN seen = {FALSE, 0, 0, 0};
    BOOLEAN queued;
    KeInitializeDpc(&dpc, IrqlDpc, &seen);
    queued = KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    CHECK("raise and lower inside a DPC",
          seen.ran && seen.entry == DISPATCH_LEVEL && seen.raised == HIGH_LEVEL && seen.lowered == DISPATCH_LEVEL);
    /* Said when it fails (seen once in 800 runs, with and without rewriting): which part. */
    if (!(seen.ran && seen.entry == DISPATCH_LEVEL && seen.raised == HIGH_LEVEL && seen.lowered == DISPATCH_LEVEL)) {
        DbgPrint("legal idioms: the DPC (queued: %u) %s: entry %u, raised %u, lowered %u\n", queued,
                 seen.ran ? "ran" : "had not run", seen.entry, seen.raised, seen.lowered);
    }
}

/* ---- Spin locks ---------------------------------------------------------------------------- */

static void SpinLockIdioms(void)
{
    KSPIN_LOCK first, second;
    KLOCK_QUEUE_HANDLE queued;
    KIRQL a, b;
    LIST_ENTRY head, entry;
    PLIST_ENTRY removed;

    KeInitializeSpinLock(&first);
    KeInitializeSpinLock(&second);
    KeAcquireSpinLock(&first, &a);
    KeAcquireSpinLockAtDpcLevel(&second); /* a second lock, in a fixed order */
    KeReleaseSpinLockFromDpcLevel(&second);
    KeReleaseSpinLock(&first, a);

    a = KeAcquireSpinLockRaiseToDpc(&first);
    KeReleaseSpinLock(&first, a);

    KeAcquireInStackQueuedSpinLock(&first, &queued);
    KeAcquireSpinLock(&second, &b); /* at DISPATCH_LEVEL already: b is DISPATCH_LEVEL */
    KeReleaseSpinLock(&second, b);
    KeReleaseInStackQueuedSpinLock(&queued);

    KeRaiseIrql(DISPATCH_LEVEL, &a);
    if (KeTryToAcquireSpinLockAtDpcLevel(&first))
        KeReleaseSpinLockFromDpcLevel(&first);
    KeAcquireInStackQueuedSpinLockAtDpcLevel(&second, &queued);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&queued);
    KeLowerIrql(a);

    InitializeListHead(&head);
    ExInterlockedInsertTailList(&head, &entry, &first);
    removed = ExInterlockedRemoveHeadList(&head, &first);
    CHECK("interlocked list", removed == &entry && IsListEmpty(&head));
    CHECK("spin locks all released", KeGetCurrentIrql() == PASSIVE_LEVEL);
}

/* ---- Pool ---------------------------------------------------------------------------------- */

typedef ULONG (*ThunkRoutine)(void);

static void PoolIdioms(void)
{
    static const UCHAR kReturn42[] = {0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3}; /* mov eax, 42; ret */
    NPAGED_LOOKASIDE_LIST lookaside;
    PVOID nonPaged, paged, fromList;
    PUCHAR code;
    KIRQL old;

    /* Nonpaged pool is usable at DISPATCH_LEVEL, allocated and freed there. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    nonPaged = ExAllocatePoolWithTag(NonPagedPoolNx, 128, 'gLeL');
    CHECK("nonpaged pool at DISPATCH_LEVEL", nonPaged != NULL);
    if (nonPaged) {
        RtlFillMemory(nonPaged, 128, 0x5A);
        ExFreePoolWithTag(nonPaged, 'gLeL');
    }
    KeLowerIrql(old);

    /* Paged pool at PASSIVE_LEVEL and APC_LEVEL. */
    paged = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, 'gLeL');
    CHECK("paged pool at PASSIVE_LEVEL", paged != NULL);
    if (paged) {
        KeRaiseIrql(APC_LEVEL, &old);
        RtlZeroMemory(paged, 3 * PAGE_SIZE);
        KeLowerIrql(old);
        ExFreePoolWithTag(paged, 'gLeL');
    }
    KeRaiseIrql(APC_LEVEL, &old);
    paged = ExAllocatePoolWithTag(PagedPool, 64, 'gLeL');
    if (paged) ExFreePoolWithTag(paged, 'gLeL');
    KeLowerIrql(old);

    /* NonPagedPool is NonPagedPoolExecute: code may run from it. */
    code = ExAllocatePoolWithTag(NonPagedPool, sizeof kReturn42, 'gLeL');
    CHECK("executable pool", code != NULL);
    if (code) {
        RtlCopyMemory(code, kReturn42, sizeof kReturn42);
        CHECK("code runs from NonPagedPoolExecute", ((ThunkRoutine)(ULONG_PTR)code)() == 42);
        ExFreePoolWithTag(code, 'gLeL');
    }

    /* ExAllocatePool2 zeroes; lookaside lists at DISPATCH_LEVEL. */
    nonPaged = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32, 'gLeL');
    CHECK("ExAllocatePool2 zeroes", nonPaged && ((PULONG)nonPaged)[7] == 0);
    if (nonPaged) ExFreePoolWithTag(nonPaged, 'gLeL');
    ExInitializeNPagedLookasideList(&lookaside, NULL, NULL, POOL_NX_ALLOCATION, 48, 'gLeL', 0);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    fromList = ExAllocateFromNPagedLookasideList(&lookaside);
    if (fromList) ExFreeToNPagedLookasideList(&lookaside, fromList);
    KeLowerIrql(old);
    CHECK("lookaside list at DISPATCH_LEVEL", fromList != NULL);
    ExDeleteNPagedLookasideList(&lookaside);
}

/* ---- Waits --------------------------------------------------------------------------------- */

static VOID NTAPI SignalDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    KeSetEvent((PKEVENT)context, IO_NO_INCREMENT, FALSE); /* from DISPATCH_LEVEL */
}

static void WaitIdioms(void)
{
    KEVENT event, other;
    KTIMER timer;
    KDPC dpc;
    KSEMAPHORE semaphore;
    KMUTEX mutex;
    LARGE_INTEGER zero, due, shortDelay;
    PVOID objects[2];
    NTSTATUS status;
    KIRQL old;

    zero.QuadPart = 0;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    KeInitializeEvent(&other, NotificationEvent, TRUE);

    /* A zero timeout is a poll: legal at DISPATCH_LEVEL. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    status = KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    KeLowerIrql(old);
    CHECK("poll at DISPATCH_LEVEL times out", status == STATUS_TIMEOUT);
    status = KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    CHECK("event set at DISPATCH_LEVEL wakes a waiter", status == STATUS_SUCCESS);

    /* A timer with a DPC that signals an event; wait for the event. */
    KeInitializeTimerEx(&timer, NotificationTimer);
    KeInitializeDpc(&dpc, SignalDpc, &event);
    due.QuadPart = -10 * 1000; /* 1 ms */
    KeSetTimer(&timer, due, &dpc);
    status = KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    CHECK("timer DPC signals", status == STATUS_SUCCESS);
    status = KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL);
    CHECK("expired timer is signaled", status == STATUS_SUCCESS);
    KeCancelTimer(&timer);

    KeInitializeSemaphore(&semaphore, 0, 2);
    KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 1, FALSE);
    objects[0] = &semaphore;
    objects[1] = &other;
    status = KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
    CHECK("wait all", status == STATUS_SUCCESS);

    KeInitializeMutex(&mutex, 0);
    status = KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL);
    CHECK("mutex acquired", status == STATUS_SUCCESS);
    status = KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL); /* recursive */
    KeReleaseMutex(&mutex, FALSE);
    KeReleaseMutex(&mutex, FALSE);
    CHECK("mutex recursion", status == STATUS_SUCCESS);

    shortDelay.QuadPart = -10; /* 1 us */
    KeDelayExecutionThread(KernelMode, FALSE, &shortDelay);
}

/* ---- IRPs ---------------------------------------------------------------------------------- */

#define IOCTL_LEGAL_NOW CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_LEGAL_LATER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)

static KDPC g_completeDpc;
static PIRP g_pending;

static VOID NTAPI CompleteDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    PIRP irp = g_pending;
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    g_pending = NULL;
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = sizeof(ULONG);
    *(PULONG)irp->AssociatedIrp.SystemBuffer = 0x1A7E;
    IoCompleteRequest(irp, IO_NO_INCREMENT); /* completion at DISPATCH_LEVEL */
}

static NTSTATUS NTAPI Dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    UNREFERENCED_PARAMETER(device);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL &&
        stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_LEGAL_LATER) {
        IoMarkIrpPending(irp);
        g_pending = irp;
        KeInsertQueueDpc(&g_completeDpc, NULL, NULL);
        return STATUS_PENDING;
    }
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        *(PULONG)irp->AssociatedIrp.SystemBuffer = 0x0E0E;
        irp->IoStatus.Information = sizeof(ULONG);
    }
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS Send(PDEVICE_OBJECT device, ULONG code, PULONG out)
{
    KEVENT done;
    IO_STATUS_BLOCK iosb;
    PIRP irp;
    NTSTATUS status;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(code, device, NULL, 0, out, sizeof *out, FALSE, &done, &iosb);
    if (!irp) return STATUS_INSUFFICIENT_RESOURCES;
    status = IoCallDriver(device, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
        status = iosb.Status;
    }
    return status;
}

/* An IRP of the driver's own: the completion routine takes it back and frees it. */
static NTSTATUS NTAPI TakeBack(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    UNREFERENCED_PARAMETER(device);
    *(NTSTATUS *)context = irp->IoStatus.Status;
    IoFreeIrp(irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void IrpIdioms(PDRIVER_OBJECT driver)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    NTSTATUS status, taken = STATUS_UNSUCCESSFUL;
    ULONG out = 0;
    PIRP irp;
    PIO_STACK_LOCATION next;

    RtlInitUnicodeString(&name, L"\\Device\\LegalIdioms");
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    CHECK("IoCreateDevice", NT_SUCCESS(status));
    if (!NT_SUCCESS(status)) return;
    driver->MajorFunction[IRP_MJ_CREATE] = Dispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = Dispatch;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = Dispatch;
    KeInitializeDpc(&g_completeDpc, CompleteDpc, NULL);
    device->Flags &= ~DO_DEVICE_INITIALIZING;

    status = Send(device, IOCTL_LEGAL_NOW, &out);
    CHECK("IRP completed at once", status == STATUS_SUCCESS && out == 0x0E0E);
    status = Send(device, IOCTL_LEGAL_LATER, &out);
    CHECK("IRP pended, completed from a DPC", status == STATUS_SUCCESS && out == 0x1A7E);

    irp = IoAllocateIrp(device->StackSize, FALSE);
    CHECK("IoAllocateIrp", irp != NULL);
    if (irp) {
        next = IoGetNextIrpStackLocation(irp);
        next->MajorFunction = IRP_MJ_CREATE;
        IoSetCompletionRoutine(irp, TakeBack, &taken, TRUE, TRUE, TRUE);
        status = IoCallDriver(device, irp);
        CHECK("own IRP taken back", status == STATUS_SUCCESS && taken == STATUS_SUCCESS);
    }
    IoDeleteDevice(device);
}

/* ---- Entry --------------------------------------------------------------------------------- */

static VOID NTAPI Unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = Unload;
    IrqlIdioms();
    DpcIdioms();
    SpinLockIdioms();
    PoolIdioms();
    WaitIdioms();
    IrpIdioms(DriverObject);
    DbgPrint("legal idioms: %lu checks, %lu failed\n", g_checks, g_failures);
    return g_failures ? STATUS_UNSUCCESSFUL : STATUS_SUCCESS;
}
