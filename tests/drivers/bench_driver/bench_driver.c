/* Loops the benchmarks call through the driver's own exports. */
#include <ntddk.h>

__declspec(dllexport) ULONG64 ReadIrqlLoop(ULONG64 count)
{
    ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) sum += KeGetCurrentIrql(); /* mov rax, cr8: trapped */
    return sum;
}

__declspec(dllexport) ULONG64 EmptyLoop(ULONG64 count)
{
    volatile ULONG64 sum = 0;
    for (ULONG64 i = 0; i < count; ++i) sum += i;
    return sum;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return STATUS_SUCCESS;
}
