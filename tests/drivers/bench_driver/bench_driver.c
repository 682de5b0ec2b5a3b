/* What the benchmarks call: loops through the driver's own exports, and \Device\NtboxBench
   (\DosDevices\NtboxBench) whose METHOD_BUFFERED IOCTL echoes its input, for round trips. */
#include <ntddk.h>

#define IOCTL_BENCH_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

__declspec(dllexport) ULONG64 ReadIrqlLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) sum += KeGetCurrentIrql(); /* mov rax, cr8: trapped */
    return sum;
}

__declspec(dllexport) ULONG64 ReadTickCountLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    LARGE_INTEGER ticks;
    for (ULONG64 i = 0; i < count; ++i) {
        KeQueryTickCount(&ticks); /* a read of KUSER_SHARED_DATA.TickCount: trapped, or rewritten */
        sum += ticks.QuadPart;
    }
    return sum;
}

__declspec(dllexport) ULONG64 EmptyLoop(ULONG64 count)
{
    volatile ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) sum += i;
    return sum;
}

/* KeRaiseIrql/KeLowerIrql as x64 drivers compile them: inline writes of cr8. */
static __inline__ __attribute__((always_inline)) ULONG64 RaiseLowerLoop(KIRQL level, ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        KIRQL old;
        KeRaiseIrql(level, &old);
        KeLowerIrql(old);
        sum += old;
    }
    return sum;
}

/* To DISPATCH_LEVEL: across it, each write checked by the kernel. */
__declspec(dllexport) ULONG64 InlineRaiseLowerLoop(ULONG64 count) { return RaiseLowerLoop(DISPATCH_LEVEL, count); }

/* To APC_LEVEL: the IRQL stays on one side, no kernel check is due. */
__declspec(dllexport) ULONG64 InlineRaiseLowerApcLoop(ULONG64 count) { return RaiseLowerLoop(APC_LEVEL, count); }

/* _disable/_enable (cli, sti) around a little work. */
__declspec(dllexport) ULONG64 CliStiLoop(ULONG64 count)
{
    volatile ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        _disable();
        sum += i;
        _enable();
    }
    return sum;
}

/* The exported routines ntoskrnl also offers (what a driver gets through MmGetSystemRoutineAddress). */
typedef KIRQL (NTAPI *RAISE)(KIRQL);
typedef VOID (NTAPI *LOWER)(KIRQL);
static RAISE g_raise;
static LOWER g_lower;

__declspec(dllexport) ULONG64 ExportedRaiseLowerLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        KIRQL old = g_raise(DISPATCH_LEVEL);
        g_lower(old);
        sum += old;
    }
    return sum;
}

static KSPIN_LOCK g_lock;

__declspec(dllexport) ULONG64 SpinLockLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        KIRQL old;
        KeAcquireSpinLock(&g_lock, &old);
        sum += old;
        KeReleaseSpinLock(&g_lock, old);
    }
    return sum;
}

__attribute__((section("PAGE"), noinline)) static ULONG64 PagedAdd(ULONG64 a, ULONG64 b)
{
    return a + b;
}

/* Pageable code between spin-locked stretches: under the verifier's IRQL checking each acquire
   trims pageable memory and the next call pages the PAGE section back in. */
__declspec(dllexport) ULONG64 PagedCodeSpinLockLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        KIRQL old;
        sum = PagedAdd(sum, i);
        KeAcquireSpinLock(&g_lock, &old);
        KeReleaseSpinLock(&g_lock, old);
    }
    return sum;
}

__declspec(dllexport) ULONG64 QueuedSpinLockLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) {
        KLOCK_QUEUE_HANDLE handle;
        KeAcquireInStackQueuedSpinLock(&g_lock, &handle);
        sum += handle.OldIrql;
        KeReleaseInStackQueuedSpinLock(&handle);
    }
    return sum;
}

static NTSTATUS Complete(PIRP Irp, NTSTATUS status, ULONG_PTR information)
{
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS BenchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS BenchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(Irp);
    ULONG in = sl->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = sl->Parameters.DeviceIoControl.OutputBufferLength;
    UNREFERENCED_PARAMETER(DeviceObject);
#ifdef BENCH_PAGED_CODE
    PAGED_CODE(); /* a DBG build's one cr8 read per request, as Microsoft's IOCTL sample has */
#endif
    if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_BENCH_ECHO) {
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    /* The system buffer holds the input; it is also the output. */
    return Complete(Irp, STATUS_SUCCESS, in < out ? in : out);
}

static VOID BenchUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\NtboxBench");
    IoDeleteSymbolicLink(&link);
    if (DriverObject->DeviceObject) IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"KfRaiseIrql");
    g_raise = (RAISE)MmGetSystemRoutineAddress(&name);
    RtlInitUnicodeString(&name, L"KeLowerIrql");
    g_lower = (LOWER)MmGetSystemRoutineAddress(&name);
    if (!g_raise || !g_lower) return STATUS_PROCEDURE_NOT_FOUND;
    KeInitializeSpinLock(&g_lock);
    RtlInitUnicodeString(&name, L"\\Device\\NtboxBench");
    RtlInitUnicodeString(&link, L"\\DosDevices\\NtboxBench");
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = BenchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = BenchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BenchDeviceControl;
    DriverObject->DriverUnload = BenchUnload;
    return STATUS_SUCCESS;
}
