/* The same WDK idioms in C, in two files that both use ntstrsafe (its routines must not clash at
   link time), with a switch on CTL_CODE(0x8000, ...) values. */
#include <ntddk.h>
#include <ntstrsafe.h>

#include "public.h"

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD WdkStyleCUnload;
NTSTATUS FormatCode(_Out_writes_(Count) PWCHAR Buffer, _In_ size_t Count, _In_ ULONG Code);

static UNICODE_STRING g_Name = RTL_CONSTANT_STRING(L"WdkStyleC");

_Use_decl_annotations_
VOID WdkStyleCUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static PCSTR Describe(ULONG code)
{
    switch (code) {
    case IOCTL_WDKSTYLE_REVERSE: return "reverse";
    case IOCTL_WDKSTYLE_DESCRIBE: return "describe";
    case IOCTL_WDKSTYLE_NEITHER: return "neither";
    default: return "unknown";
    }
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WCHAR text[32];
    CHAR narrow[32];
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = WdkStyleCUnload;
    status = FormatCode(text, RTL_NUMBER_OF(text), IOCTL_WDKSTYLE_DESCRIBE);
    if (!NT_SUCCESS(status)) return status;
    status = RtlStringCbPrintfA(narrow, sizeof narrow, "%s", Describe(IOCTL_WDKSTYLE_DESCRIBE));
    if (!NT_SUCCESS(status)) return status;
    DbgPrint("%wZ: %ws is %s\n", &g_Name, text, narrow);
    return STATUS_SUCCESS;
}
