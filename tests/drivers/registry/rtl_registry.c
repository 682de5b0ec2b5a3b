/* The Rtl registry helpers as drivers use them (Microsoft's documentation of RtlQueryRegistryValues
   and its table): a service's Parameters key written with RtlWriteRegistryValue, read back with
   DIRECT entries, defaults, REQUIRED, TYPECHECK, SUBKEY/TOPKEY, a query routine (a REG_MULTI_SZ one
   string at a time, every value of a key, NOVALUE), DELETE, RtlCheckRegistryKey,
   RtlCreateRegistryKey and RtlDeleteRegistryValue. Each check prints "rtl_registry: NAME ok" or
   "rtl_registry: NAME FAILED ...". */
#include <ntddk.h>

#ifndef RTL_QUERY_REGISTRY_NOSTRING
#define RTL_QUERY_REGISTRY_NOSTRING 0x00000080
#endif
#ifndef RTL_QUERY_REGISTRY_TYPECHECK
#define RTL_QUERY_REGISTRY_TYPECHECK 0x00000100
#define RTL_QUERY_REGISTRY_TYPECHECK_SHIFT 24
#endif

#define KEY L"rtl_registry\\Parameters"

static void Check(const char *name, int ok, ULONG detail)
{
    if (ok) {
        DbgPrint("rtl_registry: %s ok\n", name);
    } else {
        DbgPrint("rtl_registry: %s FAILED 0x%08lx\n", name, detail);
    }
}

struct Seen {
    int strings;         /* REG_SZ calls for the list */
    WCHAR joined[64];    /* the list's strings, joined by '+' */
    int values;          /* values seen enumerating the key */
    int topValues;       /* the same from a TOPKEY entry after a SUBKEY one */
    int novalue;         /* NOVALUE calls with no name */
};

static NTSTATUS NTAPI OnListString(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry)
{
    struct Seen *seen = (struct Seen *)context;
    (void)name;
    (void)length;
    (void)entry;
    const WCHAR *from = (const WCHAR *)data;
    size_t at = 0;
    if (type != REG_SZ) return STATUS_OBJECT_TYPE_MISMATCH;
    while (seen->joined[at]) at++;
    if (seen->strings++ && at + 1 < 64) seen->joined[at++] = L'+';
    while (*from && at + 1 < 64) seen->joined[at++] = *from++;
    seen->joined[at] = 0;
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI OnValue(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry)
{
    struct Seen *seen = (struct Seen *)context;
    (void)type;
    (void)data;
    (void)length;
    (void)entry;
    if (name) {
        seen->values++;
    } else {
        seen->novalue++;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI OnTopValue(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry)
{
    (void)type;
    (void)data;
    (void)length;
    (void)entry;
    if (name) ((struct Seen *)context)->topValues++;
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI Refuse(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry)
{
    (void)name;
    (void)type;
    (void)data;
    (void)length;
    (void)context;
    (void)entry;
    return STATUS_ACCESS_DENIED;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    NTSTATUS s;
    ULONG number = 42, got = 0, fallback = 7, fallbackDefault = 99, missing = 0;
    UCHAR blob[6] = {1, 2, 3, 4, 5, 6};
    LONG raw[4];
    UNICODE_STRING text = {0, 0, NULL}, path = {0, 0, NULL};
    WCHAR fixedBuffer[4];
    UNICODE_STRING fixed = {0, sizeof fixedBuffer, fixedBuffer};
    struct Seen seen;
    RTL_QUERY_REGISTRY_TABLE table[8];
    (void)driver;
    (void)registryPath;
    RtlZeroMemory(&seen, sizeof seen);

    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Number", REG_DWORD, &number, sizeof number);
    Check("write REG_DWORD", NT_SUCCESS(s), s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Text", REG_SZ, L"hello", sizeof L"hello");
    Check("write REG_SZ", NT_SUCCESS(s), s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Path", REG_EXPAND_SZ, L"%SystemRoot%\\x",
                              sizeof L"%SystemRoot%\\x");
    Check("write REG_EXPAND_SZ", NT_SUCCESS(s), s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"List", REG_MULTI_SZ, L"a\0bc\0", sizeof L"a\0bc\0");
    Check("write REG_MULTI_SZ", NT_SUCCESS(s), s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Blob", REG_BINARY, blob, sizeof blob);
    Check("write REG_BINARY", NT_SUCCESS(s), s);
    /* RtlWriteRegistryValue created Parameters (its parent exists); a key is created one level at
       a time, as ZwCreateKey does. */
    s = RtlCreateRegistryKey(RTL_REGISTRY_SERVICES, KEY L"\\Deeper\\Still");
    Check("RtlCreateRegistryKey needs its parent", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    s = RtlCreateRegistryKey(RTL_REGISTRY_SERVICES, KEY L"\\Nested");
    Check("RtlCreateRegistryKey", NT_SUCCESS(s), s);
    s = RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, KEY L"\\Nested");
    Check("RtlCheckRegistryKey present", s == STATUS_SUCCESS, s);
    s = RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, KEY L"\\Absent");
    Check("RtlCheckRegistryKey absent", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY L"\\Nested", L"Inner", REG_DWORD, &number, sizeof number);
    Check("write in a subkey", NT_SUCCESS(s), s);
    s = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Gone", REG_DWORD, &number, sizeof number);
    Check("write a value to delete", NT_SUCCESS(s), s);

    /* DIRECT entries: a DWORD, a string into an allocated buffer, binary with a negative size, a
       default for an absent value, an expanded REG_EXPAND_SZ, a value deleted once read. */
    RtlZeroMemory(table, sizeof table);
    raw[0] = -(LONG)sizeof raw;
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Number";
    table[0].EntryContext = &got;
    table[0].DefaultType = REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[1].Name = L"Text";
    table[1].EntryContext = &text;
    table[2].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[2].Name = L"Blob";
    table[2].EntryContext = raw;
    table[3].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[3].Name = L"Absent";
    table[3].EntryContext = &fallback;
    table[3].DefaultType = REG_DWORD;
    table[3].DefaultData = &fallbackDefault;
    table[3].DefaultLength = sizeof fallbackDefault;
    table[4].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[4].Name = L"Path";
    table[4].EntryContext = &path;
    table[5].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_DELETE;
    table[5].Name = L"Gone";
    table[5].EntryContext = &missing;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, NULL, NULL);
    Check("query DIRECT", NT_SUCCESS(s), s);
    Check("DIRECT REG_DWORD", got == 42, got);
    Check("DIRECT REG_SZ allocated", text.Buffer && text.Length == 10 && text.MaximumLength == 12 &&
                                         RtlCompareMemory(text.Buffer, L"hello", 12) == 12, text.Length);
    Check("DIRECT REG_BINARY", RtlCompareMemory(raw, blob, sizeof blob) == sizeof blob, raw[0]);
    Check("DIRECT default", fallback == 99, fallback);
    Check("DIRECT REG_EXPAND_SZ expanded", path.Buffer && path.Length == sizeof L"C:\\Windows\\x" - 2 &&
                                               RtlCompareMemory(path.Buffer, L"C:\\Windows\\x", path.Length) == path.Length,
          path.Length);
    Check("DELETE", missing == 42 && RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, KEY) == STATUS_SUCCESS, missing);
    if (text.Buffer) RtlFreeUnicodeString(&text);
    if (path.Buffer) RtlFreeUnicodeString(&path);
    RtlZeroMemory(table, sizeof table);
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
    table[0].Name = L"Gone";
    table[0].EntryContext = &missing;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, NULL, NULL);
    Check("DELETE removed the value, REQUIRED", s == STATUS_OBJECT_NAME_NOT_FOUND, s);

    /* A buffer too small for a string; a type that does not match the TYPECHECK. */
    RtlZeroMemory(table, sizeof table);
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[0].Name = L"Text";
    table[0].EntryContext = &fixed;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, NULL, NULL);
    Check("DIRECT into a small buffer", s == STATUS_BUFFER_TOO_SMALL, s);
    RtlZeroMemory(table, sizeof table);
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Text";
    table[0].EntryContext = &got;
    table[0].DefaultType = REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, NULL, NULL);
    Check("TYPECHECK mismatch", s == STATUS_OBJECT_TYPE_MISMATCH, s);

    /* Query routines: a list one string at a time; every value of the key; NOVALUE; SUBKEY then
       TOPKEY; a routine's failure ends the query with it. */
    RtlZeroMemory(table, sizeof table);
    table[0].QueryRoutine = OnListString;
    table[0].Name = L"List";
    table[1].QueryRoutine = OnValue;
    table[2].QueryRoutine = OnValue;
    table[2].Flags = RTL_QUERY_REGISTRY_NOVALUE;
    table[3].Flags = RTL_QUERY_REGISTRY_SUBKEY;
    table[3].Name = L"Nested";
    table[4].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[4].Name = L"Inner";
    table[4].EntryContext = &number;
    table[5].QueryRoutine = OnTopValue;
    table[5].Flags = RTL_QUERY_REGISTRY_TOPKEY;
    number = 0;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, &seen, NULL);
    Check("query routines", NT_SUCCESS(s), s);
    Check("REG_MULTI_SZ string by string",
          seen.strings == 2 && RtlCompareMemory(seen.joined, L"a+bc", sizeof L"a+bc") == sizeof L"a+bc", seen.strings);
    /* Number, Text, Path, the list's two strings, Blob */
    Check("every value", seen.values == 6, seen.values);
    Check("TOPKEY", seen.topValues == 6, seen.topValues);
    Check("NOVALUE", seen.novalue == 1, seen.novalue);
    Check("SUBKEY", number == 42, number);
    RtlZeroMemory(table, sizeof table);
    table[0].QueryRoutine = Refuse;
    table[0].Name = L"Number";
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY, table, NULL, NULL);
    Check("a routine's failure", s == STATUS_ACCESS_DENIED, s);

    /* Absent keys: an error, unless OPTIONAL. */
    RtlZeroMemory(table, sizeof table);
    table[0].QueryRoutine = OnValue;
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, KEY L"\\Absent", table, &seen, NULL);
    Check("absent key", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    s = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES | RTL_REGISTRY_OPTIONAL, KEY L"\\Absent", table, &seen, NULL);
    Check("absent key, OPTIONAL", NT_SUCCESS(s), s);

    s = RtlDeleteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Blob");
    Check("RtlDeleteRegistryValue", NT_SUCCESS(s), s);
    s = RtlDeleteRegistryValue(RTL_REGISTRY_SERVICES, KEY, L"Blob");
    Check("RtlDeleteRegistryValue again", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    {
        UNICODE_STRING routine;
        RtlInitUnicodeString(&routine, L"RtlQueryRegistryValues");
        Check("MmGetSystemRoutineAddress", MmGetSystemRoutineAddress(&routine) == (PVOID)RtlQueryRegistryValues, 0);
    }
    DbgPrint("rtl_registry: done\n");
    return STATUS_SUCCESS;
}
