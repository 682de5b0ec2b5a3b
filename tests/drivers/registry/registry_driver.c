/* A driver that uses the registry as drivers do: its service key and Parameters subkey (RegistryPath,
   relative opens), values `ntbox reg add` wrote, and a key a program wrote (the same registry). */
#include <ntddk.h>

static void Print(const char *what, NTSTATUS status)
{
    DbgPrint("registry_driver: %s: 0x%08lx\n", what, (ULONG)status);
}

static NTSTATUS OpenRelative(HANDLE root, const WCHAR *name, HANDLE *key, ULONG *disposition)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES a;
    RtlInitUnicodeString(&u, name);
    InitializeObjectAttributes(&a, &u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwCreateKey(key, KEY_ALL_ACCESS, &a, 0, NULL, REG_OPTION_NON_VOLATILE, disposition);
}

static void ShowValue(HANDLE key, const WCHAR *name)
{
    UCHAR buffer[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 128];
    KEY_VALUE_PARTIAL_INFORMATION *info = (KEY_VALUE_PARTIAL_INFORMATION *)buffer;
    UNICODE_STRING u;
    ULONG got = 0;
    RtlInitUnicodeString(&u, name);
    RtlZeroMemory(buffer, sizeof buffer);
    NTSTATUS s = ZwQueryValueKey(key, &u, KeyValuePartialInformation, buffer, sizeof buffer - 2, &got);
    if (!NT_SUCCESS(s)) {
        DbgPrint("registry_driver: %ws: 0x%08lx\n", name, (ULONG)s);
    } else if (info->Type == REG_DWORD) {
        DbgPrint("registry_driver: %ws = %lu\n", name, *(ULONG *)info->Data);
    } else if (info->Type == REG_SZ) {
        DbgPrint("registry_driver: %ws = %ws\n", name, (WCHAR *)info->Data);
    }
}

static void DriverUnload(PDRIVER_OBJECT driver)
{
    (void)driver;
    DbgPrint("registry_driver: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    HANDLE service, parameters, shared;
    OBJECT_ATTRIBUTES a;
    UNICODE_STRING u;
    ULONG disposition = 0, one = 1, index, got;
    NTSTATUS s;
    driver->DriverUnload = DriverUnload;

    InitializeObjectAttributes(&a, registryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    s = ZwOpenKey(&service, KEY_READ | KEY_CREATE_SUB_KEY, &a);
    if (!NT_SUCCESS(s)) {
        Print("ZwOpenKey(RegistryPath)", s);
        return s;
    }
    s = OpenRelative(service, L"Parameters", &parameters, &disposition);
    if (!NT_SUCCESS(s)) {
        Print("ZwCreateKey(Parameters)", s);
        ZwClose(service);
        return s;
    }
    DbgPrint("registry_driver: Parameters %s\n", disposition == REG_CREATED_NEW_KEY ? "created" : "opened");
    ShowValue(parameters, L"Greeting");
    RtlInitUnicodeString(&u, L"SeenByDriver");
    Print("ZwSetValueKey(SeenByDriver)", ZwSetValueKey(parameters, &u, 0, REG_DWORD, &one, sizeof one));

    for (index = 0;; ++index) {
        UCHAR buffer[sizeof(KEY_VALUE_BASIC_INFORMATION) + 64 * sizeof(WCHAR)];
        KEY_VALUE_BASIC_INFORMATION *info = (KEY_VALUE_BASIC_INFORMATION *)buffer;
        s = ZwEnumerateValueKey(parameters, index, KeyValueBasicInformation, buffer, sizeof buffer - 2, &got);
        if (s == STATUS_NO_MORE_ENTRIES) break;
        if (!NT_SUCCESS(s)) {
            Print("ZwEnumerateValueKey", s);
            break;
        }
        info->Name[info->NameLength / sizeof(WCHAR)] = 0;
        DbgPrint("registry_driver: value %lu: %ws\n", index, info->Name);
    }

    /* What a program wrote, in the same registry. */
    RtlInitUnicodeString(&u, L"\\Registry\\Machine\\SOFTWARE\\ntbox-test");
    InitializeObjectAttributes(&a, &u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    s = ZwOpenKey(&shared, KEY_ALL_ACCESS, &a);
    if (NT_SUCCESS(s)) {
        static const WCHAR text[] = L"written by registry_driver";
        ShowValue(shared, L"Answer");
        RtlInitUnicodeString(&u, L"FromDriver");
        Print("ZwSetValueKey(FromDriver)", ZwSetValueKey(shared, &u, 0, REG_SZ, (PVOID)text, sizeof text));
        ZwClose(shared);
    } else {
        Print("ZwOpenKey(SOFTWARE\\ntbox-test)", s);
    }
    ZwClose(parameters);
    ZwClose(service);
    return STATUS_SUCCESS;
}
