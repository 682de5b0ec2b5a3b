/* Test drivers that do one thing per service name (`ntbox load X.sys --service NAME`, or a
   service of that name): whether DriverEntry's registry path ends in \NAME. */
#pragma once
#include <ntddk.h>

static BOOLEAN Is(PCUNICODE_STRING path, PCWSTR name)
{
    UNICODE_STRING suffix;
    USHORT skip;
    RtlInitUnicodeString(&suffix, name);
    if (path->Length < suffix.Length) return FALSE;
    skip = (USHORT)((path->Length - suffix.Length) / sizeof(WCHAR));
    if (skip > 0 && path->Buffer[skip - 1] != L'\\') return FALSE;
    return wcsncmp(path->Buffer + skip, suffix.Buffer, suffix.Length / sizeof(WCHAR)) == 0;
}
