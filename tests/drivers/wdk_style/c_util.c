/* The second C file of wdk_style_c: ntstrsafe again. */
#include <ntddk.h>
#include <ntstrsafe.h>

NTSTATUS FormatCode(_Out_writes_(Count) PWCHAR Buffer, _In_ size_t Count, _In_ ULONG Code)
{
    return RtlStringCchPrintfW(Buffer, Count, L"%08X", Code);
}
