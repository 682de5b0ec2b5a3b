/* Reports the offsets and sizes mingw-w64's DDK headers give the structures ntbox shares with
 * drivers, one "LAYOUT name value" line each; the host test compares them with its own. */
#include <ntddk.h>
#include <stddef.h>

#define NTBOX_SIZE(T) DbgPrint("LAYOUT %s %Iu\n", #T, (SIZE_T)sizeof(T));
#define NTBOX_FIELD(T, M) DbgPrint("LAYOUT %s.%s %Iu\n", #T, #M, (SIZE_T)offsetof(T, M));

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
#include "layout_fields.h"
    return STATUS_SUCCESS;
}
