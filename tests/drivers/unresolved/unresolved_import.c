/* Imports two ntoskrnl.exe routines and one from a module that does not exist. */
#include <ntddk.h>

NTSTATUS NTAPI NtboxNoSuchRoutine(void);
NTSTATUS NTAPI NtboxNoSuchRoutineEither(ULONG value);
NTSTATUS NTAPI AbsentFunction(void);

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    DbgPrint("this line must never print\n");
    NtboxNoSuchRoutine();
    NtboxNoSuchRoutineEither(1);
    return AbsentFunction();
}
