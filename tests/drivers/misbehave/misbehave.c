/* One misbehaviour per service name, chosen with `ntbox load misbehave.sys --service NAME`. */
#include <ntddk.h>

#include "../common/service_name.h"

/* mingw-w64 lacks the MSVC intrinsic; this is what it compiles to. */
static __inline__ __attribute__((noreturn)) void FastFail(unsigned int code)
{
    __asm__ __volatile__("int $0x29" : : "c"(code) : "memory");
    __builtin_unreachable();
}

static volatile int *volatile g_null;
static volatile int g_zero;

/* The IRP rules: one broken DeviceControl per service name (irp_*), reached through \\.\Misbehave. */
enum IrpMistake { kNone, kPendingUnmarked, kCompletePending, kCancelRoutineSet, kCompleteTwice };
static enum IrpMistake g_mistake;
static PIRP g_held;
static BOOLEAN g_keepDevice; /* device_left: DriverUnload forgets its device and link */

static void Unload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\Misbehave");
    if (DriverObject->DeviceObject && !g_keepDevice) {
        IoDeleteSymbolicLink(&link);
        IoDeleteDevice(DriverObject->DeviceObject);
    }
}

static NTSTATUS NTAPI CreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static VOID NTAPI CancelHeld(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    IoReleaseCancelSpinLock(irp->CancelIrql);
}

static NTSTATUS NTAPI DeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Information = 0;
    switch (g_mistake) {
    case kPendingUnmarked:
        g_held = irp; /* queued for later, but IoMarkIrpPending forgotten */
        return STATUS_PENDING;
    case kCompletePending:
        irp->IoStatus.Status = STATUS_PENDING;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_PENDING;
    case kCancelRoutineSet:
        IoSetCancelRoutine(irp, CancelHeld);
        irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    case kCompleteTwice:
        irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    default:
        irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    }
}

static NTSTATUS CreateDevice(PDRIVER_OBJECT DriverObject, enum IrpMistake mistake)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS status;
    RtlInitUnicodeString(&name, L"\\Device\\Misbehave");
    RtlInitUnicodeString(&link, L"\\DosDevices\\Misbehave");
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
    g_mistake = mistake;
    return STATUS_SUCCESS;
}

static KEVENT g_never;

static VOID NTAPI WaitForever(PVOID context)
{
    UNREFERENCED_PARAMETER(context);
    KeWaitForSingleObject(&g_never, Executive, KernelMode, FALSE, NULL);
}

/* Routines that break the x64 calling convention: they return with every register the caller
   expects kept (rbx, rbp, rsi, rdi, r12-r15) overwritten, as hand-written assembly that forgets to
   restore them does. */
VOID NTAPI ClobberingUnload(PDRIVER_OBJECT DriverObject);
VOID NTAPI ClobberingDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2);
__asm__(".text\n"
        ".globl ClobberingUnload\n"
        ".globl ClobberingDpc\n"
        "ClobberingUnload:\n"
        "ClobberingDpc:\n"
        "  movabs $0x5151515151515151, %rbx\n"
        "  mov %rbx, %rbp\n"
        "  mov %rbx, %rsi\n"
        "  mov %rbx, %rdi\n"
        "  mov %rbx, %r12\n"
        "  mov %rbx, %r13\n"
        "  mov %rbx, %r14\n"
        "  mov %rbx, %r15\n"
        "  ret\n");

static VOID NTAPI TimerDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
}

static volatile ULONG g_spins;

static VOID NTAPI SpinningDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    for (;;) g_spins = g_spins + 1;
}

static VOID NTAPI FaultingDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    *g_null = 1;
}

/* A DPC that drops to PASSIVE_LEVEL, as a driver trying to do file I/O from its timer might. */
static VOID NTAPI LowerInDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    KeLowerIrql(PASSIVE_LEVEL);
}

/* Pageable code: what #pragma alloc_text(PAGE, PagedRoutine) does with MSVC. */
__attribute__((section("PAGE"), noinline)) static ULONG PagedRoutine(ULONG x)
{
    PAGED_CODE();
    return x * 3 + 1;
}

static VOID NTAPI PagedFromDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    *(ULONG *)context = PagedRoutine(7);
}

/* The raise and lower routines as exported (mingw's headers inline them as mov cr8, which cannot
   tell a raise to a lower IRQL from a lower, nor can the hardware; Windows' verifier checks the
   routines). */
typedef KIRQL (NTAPI *RaiseRoutine)(KIRQL);
typedef VOID (NTAPI *LowerRoutine)(KIRQL);

static RaiseRoutine ExportedRaise(void)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"KfRaiseIrql");
    return (RaiseRoutine)MmGetSystemRoutineAddress(&name);
}

static LowerRoutine ExportedLower(void)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"KeLowerIrql");
    return (LowerRoutine)MmGetSystemRoutineAddress(&name);
}

/* The exported raise as an optimizing build calls it. */
__attribute__((optimize("O2"), noinline)) static KIRQL RaiseOptimized(RaiseRoutine raise, KIRQL to)
{
    return raise(to);
}

/* The inline raise as an optimizing build emits it: the cr8 read and write side by side. */
__attribute__((optimize("O2"), noinline)) static KIRQL RaiseInline(KIRQL to)
{
    KIRQL old;
    KeRaiseIrql(to, &old);
    return old;
}

/* One privileged instruction per service name (priv_NAME): each must end in a report or, where
   ntbox emulates it (cli, sti), run on; none may take the host down. */
static BOOLEAN PrivilegedInstruction(PCUNICODE_STRING path)
{
    ULONG64 v = 0;
    if (Is(path, L"priv_hlt")) __asm__ __volatile__("hlt");
    else if (Is(path, L"priv_cli_sti")) __asm__ __volatile__("cli\n\tsti");
    else if (Is(path, L"priv_rdmsr")) __asm__ __volatile__("rdmsr" : "=a"(v) : "c"(0x10) : "rdx");
    else if (Is(path, L"priv_wrmsr")) __asm__ __volatile__("wrmsr" : : "c"(0x10), "a"(0), "d"(0));
    else if (Is(path, L"priv_read_cr0")) __asm__ __volatile__("mov %%cr0, %0" : "=r"(v));
    else if (Is(path, L"priv_write_cr0")) __asm__ __volatile__("mov %0, %%cr0" : : "r"(v));
    else if (Is(path, L"priv_read_cr3")) __asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
    else if (Is(path, L"priv_write_cr4")) __asm__ __volatile__("mov %0, %%cr4" : : "r"(v));
    else if (Is(path, L"priv_read_dr7")) __asm__ __volatile__("mov %%dr7, %0" : "=r"(v));
    else if (Is(path, L"priv_write_dr7")) __asm__ __volatile__("mov %0, %%dr7" : : "r"(v));
    else if (Is(path, L"priv_invlpg")) __asm__ __volatile__("invlpg (%0)" : : "r"(&v) : "memory");
    else if (Is(path, L"priv_wbinvd")) __asm__ __volatile__("wbinvd");
    else if (Is(path, L"priv_invd")) __asm__ __volatile__("invd");
    else if (Is(path, L"priv_lidt")) __asm__ __volatile__("lidt (%0)" : : "r"(&v));
    else if (Is(path, L"priv_lgdt")) __asm__ __volatile__("lgdt (%0)" : : "r"(&v));
    else if (Is(path, L"priv_ltr")) __asm__ __volatile__("ltr %w0" : : "r"(0));
    else if (Is(path, L"priv_swapgs")) __asm__ __volatile__("swapgs");
    else if (Is(path, L"priv_clts")) __asm__ __volatile__("clts");
    else if (Is(path, L"priv_in")) __asm__ __volatile__("inb $0x60, %%al" : "=a"(v));
    else if (Is(path, L"priv_out")) __asm__ __volatile__("outb %%al, $0x80" : : "a"(0));
    else if (Is(path, L"priv_xsetbv")) __asm__ __volatile__("xsetbv" : : "c"(0), "a"(3), "d"(0));
    else if (Is(path, L"priv_rdpmc")) __asm__ __volatile__("rdpmc" : "=a"(v) : "c"(0) : "rdx");
    else if (Is(path, L"priv_sysret")) __asm__ __volatile__("sysretq");
    else if (Is(path, L"priv_iretq_garbage")) __asm__ __volatile__("push $0\n\tpush $0\n\tpush $0\n\tpush $0\n\tpush $0\n\tiretq");
    else if (Is(path, L"priv_ud2")) __asm__ __volatile__("ud2");
    else return FALSE;
    return TRUE;
}

NTKERNELAPI VOID NTAPI KeGenericCallDpc(PKDEFERRED_ROUTINE Routine, PVOID Context);
NTKERNELAPI VOID NTAPI KeSignalCallDpcDone(PVOID SystemArgument1);
NTKERNELAPI LOGICAL NTAPI KeSignalCallDpcSynchronize(PVOID SystemArgument2);

/* Processor 0's call returns without reaching the barrier the others wait at. */
static VOID NTAPI StrandingCall(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    if (KeGetCurrentProcessorNumberEx(NULL) != 0) KeSignalCallDpcSynchronize(a2);
    KeSignalCallDpcDone(a1);
}

__declspec(noinline) static void Misaligned(void)
{
    static volatile UCHAR bytes[16];
    *(volatile ULONG *)(bytes + 1) = 0x12345678;
}

__declspec(noinline) static void WriteNull(void)
{
    *g_null = 0x1234;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DriverObject->DriverUnload = Unload;
    DbgPrint("misbehave: %wZ\n", RegistryPath);
    if (Is(RegistryPath, L"null_write")) {
        WriteNull();
    } else if (Is(RegistryPath, L"kernel_address")) {
        return *(volatile int *)(ULONG_PTR)0x00001F0000000000ull;
    } else if (Is(RegistryPath, L"noncanonical")) {
        return *(volatile int *)(ULONG_PTR)0xDEAD00000000BEEFull;
    } else if (Is(RegistryPath, L"null_at_dispatch")) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        return *g_null;
    } else if (Is(RegistryPath, L"divide")) {
        return 10 / g_zero;
    } else if (Is(RegistryPath, L"nt_assert")) {
        NT_ASSERT(g_zero == 1);
    } else if (Is(RegistryPath, L"assert")) {
        ASSERT(g_zero == 1);
        DbgPrint("continued after ASSERT\n");
    } else if (Is(RegistryPath, L"fastfail")) {
        FastFail(7);
    } else if (Is(RegistryPath, L"breakpoint")) {
        DbgBreakPoint();
        __debugbreak();
        DbgPrint("continued after breakpoints\n");
    } else if (Is(RegistryPath, L"bugcheck")) {
        KeBugCheckEx(0xE2, 1, 2, 3, 4);
    } else if (Is(RegistryPath, L"privileged")) {
        __asm__ __volatile__("hlt"); /* __halt() */
    } else if (Is(RegistryPath, L"affinity_none")) {
        KeSetSystemAffinityThread((KAFFINITY)1 << 40);
    } else if (Is(RegistryPath, L"generic_call_stranded")) {
        KeGenericCallDpc(StrandingCall, NULL);
    } else if (Is(RegistryPath, L"generic_call_at_dispatch")) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeGenericCallDpc(StrandingCall, NULL);
        KeLowerIrql(old);
    } else if (Is(RegistryPath, L"double_free")) {
        PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'lbuD');
        ExFreePoolWithTag(p, 'lbuD');
        ExFreePoolWithTag(p, 'lbuD');
    } else if (Is(RegistryPath, L"wrong_tag")) {
        PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'gaT1');
        ExFreePoolWithTag(p, 'gaT2');
    } else if (Is(RegistryPath, L"leak")) {
        ExAllocatePoolWithTag(NonPagedPoolNx, 48, 'kaeL');
    } else if (Is(RegistryPath, L"fail")) {
        return STATUS_INSUFFICIENT_RESOURCES;
    } else if (Is(RegistryPath, L"bad_string")) {
        UNICODE_STRING s;
        RtlInitUnicodeString(&s, (PCWSTR)(ULONG_PTR)0x10); /* the fault is inside ntoskrnl */
    } else if (Is(RegistryPath, L"spinlock_twice")) {
        static KSPIN_LOCK lock;
        KIRQL a, b;
        KeAcquireSpinLock(&lock, &a);
        KeAcquireSpinLock(&lock, &b); /* spins forever on Windows */
    } else if (Is(RegistryPath, L"spinlock_garbage")) {
        static KSPIN_LOCK lock = 0x1234; /* never initialized: Windows spins forever */
        KIRQL old;
        KeAcquireSpinLock(&lock, &old);
    } else if (Is(RegistryPath, L"spinlock_unheld")) {
        static KSPIN_LOCK lock;
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeReleaseSpinLock(&lock, old);
    } else if (Is(RegistryPath, L"spinlock_release_passive")) {
        static KSPIN_LOCK lock;
        KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
    } else if (Is(RegistryPath, L"spinlock_at_passive")) {
        static KSPIN_LOCK lock;
        KeAcquireSpinLockAtDpcLevel(&lock);
    } else if (Is(RegistryPath, L"fast_mutex_twice")) {
        static FAST_MUTEX mutex;
        ExInitializeFastMutex(&mutex);
        ExAcquireFastMutex(&mutex);
        ExAcquireFastMutex(&mutex);
    } else if (Is(RegistryPath, L"leave_region")) {
        KeLeaveCriticalRegion();
    } else if (Is(RegistryPath, L"resource_not_owned")) {
        static ERESOURCE resource;
        ExInitializeResourceLite(&resource);
        KeEnterCriticalRegion();
        ExReleaseResourceLite(&resource);
    } else if (Is(RegistryPath, L"pool_overrun")) {
        UCHAR *p = ExAllocatePoolWithTag(NonPagedPoolNx, 20, 'nurO');
        p[32] = 1; /* the block ends at p + 32 (rounded), where its guard page starts */
    } else if (Is(RegistryPath, L"pool_slack_overrun")) {
        UCHAR *p = ExAllocatePoolWithTag(NonPagedPoolNx, 20, 'kalS');
        p[20] = 1; /* inside the alignment slack: seen when the block is freed */
        ExFreePoolWithTag(p, 'kalS');
    } else if (Is(RegistryPath, L"pool_use_after_free")) {
        volatile ULONG *p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'eerF');
        p[0] = 7;
        ExFreePoolWithTag((PVOID)p, 'eerF');
        return (NTSTATUS)p[0];
    } else if (Is(RegistryPath, L"timer_at_unload")) {
        static KTIMER timer;
        static KDPC dpc;
        LARGE_INTEGER due;
        due.QuadPart = -10LL * 1000 * 1000 * 60; /* a minute: still set when the driver unloads */
        KeInitializeDpc(&dpc, TimerDpc, NULL);
        KeInitializeTimer(&timer);
        KeSetTimer(&timer, due, &dpc);
    } else if (Is(RegistryPath, L"thread_at_unload")) {
        HANDLE thread;
        KeInitializeEvent(&g_never, NotificationEvent, FALSE);
        if (NT_SUCCESS(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, WaitForever, NULL)))
            ZwClose(thread);
    } else if (Is(RegistryPath, L"irp_pending_unmarked")) {
        return CreateDevice(DriverObject, kPendingUnmarked);
    } else if (Is(RegistryPath, L"irp_complete_pending")) {
        return CreateDevice(DriverObject, kCompletePending);
    } else if (Is(RegistryPath, L"irp_cancel_routine_set")) {
        return CreateDevice(DriverObject, kCancelRoutineSet);
    } else if (Is(RegistryPath, L"irp_complete_twice")) {
        return CreateDevice(DriverObject, kCompleteTwice);
    } else if (Is(RegistryPath, L"raise_to_lower")) {
        RaiseRoutine raise = ExportedRaise();
        KIRQL a;
        KeRaiseIrql(DISPATCH_LEVEL, &a);
        raise(APC_LEVEL); /* below the current IRQL: a lower in disguise */
    } else if (Is(RegistryPath, L"raise_to_lower_optimized")) {
        RaiseRoutine raise = ExportedRaise();
        KIRQL a;
        KeRaiseIrql(DISPATCH_LEVEL, &a);
        RaiseOptimized(raise, PASSIVE_LEVEL);
    } else if (Is(RegistryPath, L"lower_to_higher")) {
        ExportedLower()(DISPATCH_LEVEL); /* at PASSIVE_LEVEL: a raise in disguise */
    } else if (Is(RegistryPath, L"lower_in_dpc")) {
        static KDPC dpc;
        KeInitializeDpc(&dpc, LowerInDpc, NULL);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeFlushQueuedDpcs();
    } else if (Is(RegistryPath, L"irql_changes_ok")) {
        /* Legal changes every way the rules must not mistake for broken ones. */
        KIRQL a, b;
        KeRaiseIrql(APC_LEVEL, &a);
        b = RaiseInline(DISPATCH_LEVEL);
        KeRaiseIrql(DISPATCH_LEVEL, &b); /* to the same level */
        if (KeGetCurrentIrql() > APC_LEVEL) KeLowerIrql(APC_LEVEL);
        KeLowerIrql(a);
        DbgPrint("irql changes ok, now %u\n", (unsigned)KeGetCurrentIrql());
    } else if (Is(RegistryPath, L"free_live_resource")) {
        struct { ULONG header; ERESOURCE lock; } *p = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *p, 'seRF');
        ExInitializeResourceLite(&p->lock);
        ExFreePoolWithTag(p, 'seRF'); /* ExDeleteResourceLite forgotten */
    } else if (Is(RegistryPath, L"free_live_lookaside")) {
        struct { ULONG header; NPAGED_LOOKASIDE_LIST list; } *p = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *p, 'kLFF');
        ExInitializeNPagedLookasideList(&p->list, NULL, NULL, 0, 64, 'mItI', 0);
        ExFreePoolWithTag(p, 'kLFF'); /* ExDeleteNPagedLookasideList forgotten */
    } else if (Is(RegistryPath, L"free_live_timer")) {
        struct { ULONG header; KTIMER timer; KDPC dpc; } *p = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *p, 'miTF');
        LARGE_INTEGER due;
        due.QuadPart = -10LL * 1000 * 1000 * 60;
        KeInitializeDpc(&p->dpc, TimerDpc, NULL);
        KeInitializeTimer(&p->timer);
        KeSetTimer(&p->timer, due, &p->dpc);
        ExFreePoolWithTag(p, 'miTF'); /* KeCancelTimer forgotten: it would fire into freed memory */
    } else if (Is(RegistryPath, L"paged_code_at_dispatch")) {
        static KSPIN_LOCK lock;
        KIRQL old;
        ULONG v = PagedRoutine(1); /* fine at PASSIVE_LEVEL */
        KeAcquireSpinLock(&lock, &old);
        v += PagedRoutine(2);      /* pageable code under a spin lock */
        KeReleaseSpinLock(&lock, old);
        DbgPrint("paged code returned %lu\n", v);
    } else if (Is(RegistryPath, L"paged_code_in_dpc")) {
        static KDPC dpc;
        static ULONG result;
        KeInitializeDpc(&dpc, PagedFromDpc, &result);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeFlushQueuedDpcs();
    } else if (Is(RegistryPath, L"paged_pool_at_dispatch")) {
        volatile ULONG *p = ExAllocatePoolWithTag(PagedPool, 64, 'gaPP');
        KIRQL old;
        p[0] = 1;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        p[1] = p[0]; /* paged pool at DISPATCH_LEVEL */
        KeLowerIrql(old);
        ExFreePoolWithTag((PVOID)p, 'gaPP');
    } else if (Is(RegistryPath, L"paged_alloc_at_dispatch")) {
        KIRQL old;
        PVOID p;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        p = ExAllocatePoolWithTag(PagedPool, 64, 'gaPA'); /* paged pool where no page fault may happen */
        KeLowerIrql(old);
        if (p) ExFreePoolWithTag(p, 'gaPA');
    } else if (Is(RegistryPath, L"paged_free_at_dispatch")) {
        PVOID p = ExAllocatePoolWithTag(PagedPool, 64, 'gaPF');
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        ExFreePoolWithTag(p, 'gaPF');
        KeLowerIrql(old);
    } else if (Is(RegistryPath, L"zero_alloc")) {
        PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 0, 'oreZ');
        if (p) ExFreePoolWithTag(p, 'oreZ');
    } else if (Is(RegistryPath, L"dpc_fault_while_waiting")) {
        static KDPC dpc;
        KeInitializeEvent(&g_never, NotificationEvent, FALSE);
        KeInitializeDpc(&dpc, FaultingDpc, NULL);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeWaitForSingleObject(&g_never, Executive, KernelMode, FALSE, NULL); /* ended by the stop */
    } else if (Is(RegistryPath, L"execute_stack")) {
        volatile UCHAR code[8] = {0xC3};
        ((void (*)(void))(ULONG_PTR)code)();
    } else if (Is(RegistryPath, L"garbage_rsp")) {
        __asm__ __volatile__("mov $0x7b00000000, %%rsp\n\tret" ::: "memory");
    } else if (Is(RegistryPath, L"ret_into_kernel")) {
        /* rsp moved up into the frames of whoever called DriverEntry: the ret lands in the kernel's
           code with the driver's registers */
        __asm__ __volatile__("add $0x200, %%rsp\n\tret" ::: "memory");
    } else if (Is(RegistryPath, L"ret_to_data")) {
        /* rsp on the KPCR, whose first field the ret takes as the return address */
        __asm__ __volatile__("mov %%gs:0x18, %%rsp\n\tret" ::: "memory");
    } else if (Is(RegistryPath, L"leave_ac")) {
        /* Alignment checking on: harmless in kernel mode on Windows; ntbox's host code must cope. */
        __asm__ __volatile__("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq" ::: "cc");
        Misaligned(); /* the driver's own unaligned access: no #AC at CPL 0 */
        DbgPrint("cpu state: AC set, %d\n", 42);
        __asm__ __volatile__("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq" ::: "cc");
        return STATUS_SUCCESS; /* returns into host code with AC set */
    } else if (Is(RegistryPath, L"clobber_nonvolatile")) {
        static KDPC dpc;
        KeInitializeDpc(&dpc, ClobberingDpc, NULL);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeFlushQueuedDpcs();
        DriverObject->DriverUnload = ClobberingUnload;
        DbgPrint("cpu state: registers clobbered by a DPC\n");
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"leave_df")) {
        char from[32] = "copied forwards", to[32];
        __asm__ __volatile__("std" ::: "cc");
        RtlCopyMemory(to, from, sizeof from); /* memcpy, an export: the kernel clears DF first */
        DbgPrint("cpu state: %s\n", to);
        __asm__ __volatile__("std" ::: "cc");
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"load_fs")) {
        /* FS loaded with the user data selector: glibc's thread pointer is gone until repaired. */
        __asm__ __volatile__("mov %0, %%fs" : : "r"(0x2b) : "memory");
        DbgPrint("cpu state: FS loaded\n");
        __asm__ __volatile__("mov %0, %%fs" : : "r"(0x2b) : "memory");
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"null_fs")) {
        __asm__ __volatile__("mov %0, %%fs" : : "r"(0) : "memory"); /* Intel: the base becomes 0 */
        DbgPrint("cpu state: FS nulled\n");
        __asm__ __volatile__("mov %0, %%fs" : : "r"(0) : "memory");
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"write_shared_data")) {
        /* KUSER_SHARED_DATA is read-only to drivers here: the report names the address written. */
        ((volatile KUSER_SHARED_DATA *)SharedUserData)->TickCountMultiplier = 1;
    } else if (Is(RegistryPath, L"fault_after_irql_read")) {
        /* The IRQL read and the write after it share the rewriter's window: the write runs in the
           trampoline, and its fault must be reported at its place in this function. */
        volatile ULONG *nowhere = (volatile ULONG *)(ULONG_PTR)0x10;
        __asm__ __volatile__("movq %%cr8, %%rax\n\tmovl %%eax, (%0)" : : "r"(nowhere) : "rax", "memory");
    } else if (Is(RegistryPath, L"load_gs")) {
        __asm__ __volatile__("mov %0, %%gs" : : "r"(0x2b) : "memory"); /* the KPCR is gone */
        DbgPrint("cpu state: GS loaded, IRQL %u\n", (unsigned)KeGetCurrentIrql());
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"unmask_fp")) {
        unsigned int mxcsr = 0x0080, cw = 0x0300; /* every SSE exception but invalid, and every x87 one, unmasked */
        __asm__ __volatile__("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
        DbgPrint("cpu state: FP exceptions unmasked\n"); /* the kernel's time stamp divides */
        __asm__ __volatile__("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
        return STATUS_SUCCESS;
    } else if (Is(RegistryPath, L"single_step")) {
        __asm__ __volatile__("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\tnop" ::: "cc");
    } else if (Is(RegistryPath, L"spin_passive")) {
        for (;;) g_spins = g_spins + 1; /* a DriverEntry that never returns, at PASSIVE_LEVEL */
    } else if (Is(RegistryPath, L"spin_dispatch")) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        for (;;) g_spins = g_spins + 1; /* never returns, at DISPATCH_LEVEL: the DPC watchdog's */
    } else if (Is(RegistryPath, L"spin_in_dpc")) {
        static KDPC dpc;
        KeInitializeDpc(&dpc, SpinningDpc, NULL);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeFlushQueuedDpcs(); /* waits for a DPC that never ends */
    } else if (Is(RegistryPath, L"device_list_loop") || Is(RegistryPath, L"device_list_wild")) {
        /* The driver scribbles over its device list: the kernel walks it after DriverEntry and at
           unload. */
        NTSTATUS status = CreateDevice(DriverObject, kNone);
        if (!NT_SUCCESS(status)) return status;
        DriverObject->DeviceObject->NextDevice = Is(RegistryPath, L"device_list_loop")
                                                     ? DriverObject->DeviceObject
                                                     : (PDEVICE_OBJECT)(ULONG_PTR)0x00007FFF12345670ull;
        DbgPrint("device list corrupted\n");
    } else if (PrivilegedInstruction(RegistryPath)) {
        DbgPrint("continued after a privileged instruction\n");
    } else if (Is(RegistryPath, L"pageable_ok")) {
        /* Pageable code and paged pool used at PASSIVE_LEVEL between spin-locked stretches. */
        static KSPIN_LOCK lock;
        ULONG *p = ExAllocatePoolWithTag(PagedPool, 8192, 'gaPP');
        ULONG round;
        KIRQL old;
        for (round = 0; round < 3; ++round) {
            p[round] = PagedRoutine(round);
            KeAcquireSpinLock(&lock, &old);
            KeReleaseSpinLock(&lock, old);
            p[1024 + round] = p[round]; /* the block's second page */
        }
        DbgPrint("pageable ok: %lu %lu %lu\n", p[1024], p[1025], p[1026]);
        ExFreePoolWithTag(p, 'gaPP');
    } else if (Is(RegistryPath, L"device_left")) {
        g_keepDevice = TRUE;
        return CreateDevice(DriverObject, kNone);
    } else if (Is(RegistryPath, L"stack_overflow")) {
        volatile char big[64];
        big[0] = 1;
        return DriverEntry(DriverObject, RegistryPath) + big[0];
    }
    return STATUS_SUCCESS;
}
