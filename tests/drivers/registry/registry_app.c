/* The registry API of advapi32 (Wine's, over ntbox's NtCreateKey, NtSetValueKey ... system calls)
   against the machine's registry, which `ntbox reg` and drivers see too. One behaviour per argument:
     write        creates HKLM\SOFTWARE\ntbox-test\Sub and HKCU\Software\ntbox-test with values, reads
                  them back every way a program does, enumerates, deletes what it should
     read NAME    prints HKLM\SOFTWARE\ntbox-test's value NAME (as `reg add` or a driver wrote it)
     bad          hostile pointers to the services: an error, never a crash
   Prints one line a check; the exit code is the number of the first failed check, 0 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <winternl.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

void NTAPI RtlInitUnicodeString(UNICODE_STRING *, const WCHAR *);
NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, ULONG, void *, ULONG, ULONG *);
NTSTATUS NTAPI NtOpenKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSTATUS NTAPI NtSetValueKey(HANDLE, UNICODE_STRING *, ULONG, ULONG, void *, ULONG);
NTSTATUS NTAPI NtQueryKey(HANDLE, ULONG, void *, ULONG, ULONG *);

static int g_check;
#define CHECK(cond, what)                                            \
    do {                                                             \
        ++g_check;                                                   \
        if (!(cond)) {                                               \
            printf("FAILED %d: %s\n", g_check, what);                \
            return g_check;                                          \
        }                                                            \
    } while (0)

static int Write(void)
{
    HKEY key, sub, user;
    DWORD disposition = 0, type = 0, size, dword = 42;
    char text[64];
    LONG r = RegCreateKeyExA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test\\Sub", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &sub,
                             &disposition);
    CHECK(r == ERROR_SUCCESS && disposition == REG_CREATED_NEW_KEY, "RegCreateKeyEx makes both levels");
    r = RegCreateKeyExA(HKEY_LOCAL_MACHINE, "software\\NTBOX-TEST", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, &disposition);
    CHECK(r == ERROR_SUCCESS && disposition == REG_OPENED_EXISTING_KEY, "names compare without case");
    CHECK(RegSetValueExA(key, "Greeting", 0, REG_SZ, (const BYTE *)"hello from a program", 21) == 0, "REG_SZ");
    CHECK(RegSetValueExA(key, "Answer", 0, REG_DWORD, (const BYTE *)&dword, 4) == 0, "REG_DWORD");
    CHECK(RegSetValueExA(key, "List", 0, REG_MULTI_SZ, (const BYTE *)"one\0two\0", 9) == 0, "REG_MULTI_SZ");
    CHECK(RegSetValueExA(sub, NULL, 0, REG_SZ, (const BYTE *)"default", 8) == 0, "a key's default value");

    size = sizeof text;
    r = RegQueryValueExA(key, "Greeting", NULL, &type, (BYTE *)text, &size);
    CHECK(r == 0 && type == REG_SZ && size == 21 && strcmp(text, "hello from a program") == 0, "read back REG_SZ");
    size = 0;
    CHECK(RegQueryValueExA(key, "Greeting", NULL, &type, NULL, &size) == 0 && size == 21, "size query");
    size = 4;
    CHECK(RegQueryValueExA(key, "Greeting", NULL, &type, (BYTE *)text, &size) == ERROR_MORE_DATA && size == 21,
          "ERROR_MORE_DATA with the size needed");
    dword = 0;
    size = 4;
    CHECK(RegQueryValueExA(key, "answer", NULL, &type, (BYTE *)&dword, &size) == 0 && type == REG_DWORD && dword == 42,
          "read back REG_DWORD, any case");
    dword = 0;
    size = 4;
    CHECK(RegGetValueA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test", "Answer", RRF_RT_REG_DWORD, NULL, &dword, &size) == 0 &&
              dword == 42,
          "RegGetValue");
    CHECK(RegQueryValueExA(key, "Missing", NULL, NULL, NULL, NULL) == ERROR_FILE_NOT_FOUND, "a missing value");

    DWORD subkeys = 0, values = 0, maxName = 0;
    CHECK(RegQueryInfoKeyA(key, NULL, NULL, NULL, &subkeys, NULL, NULL, &values, &maxName, NULL, NULL, NULL) == 0 &&
              subkeys == 1 && values == 3 && maxName == 8,
          "RegQueryInfoKey counts");
    char name[32];
    DWORD nameSize = sizeof name;
    CHECK(RegEnumKeyExA(key, 0, name, &nameSize, NULL, NULL, NULL, NULL) == 0 && strcmp(name, "Sub") == 0,
          "RegEnumKeyEx keeps the case a key was created with");
    nameSize = sizeof name;
    CHECK(RegEnumKeyExA(key, 1, name, &nameSize, NULL, NULL, NULL, NULL) == ERROR_NO_MORE_ITEMS, "end of subkeys");
    const char *order[] = {"Greeting", "Answer", "List"};
    for (DWORD i = 0; i < 3; ++i) {
        nameSize = sizeof name;
        CHECK(RegEnumValueA(key, i, name, &nameSize, NULL, NULL, NULL, NULL) == 0 && strcmp(name, order[i]) == 0,
              "RegEnumValue in the order values were set");
    }
    nameSize = sizeof name;
    CHECK(RegEnumValueA(key, 3, name, &nameSize, NULL, NULL, NULL, NULL) == ERROR_NO_MORE_ITEMS, "end of values");

    CHECK(RegDeleteKeyA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test") == ERROR_ACCESS_DENIED,
          "a key with subkeys is not deleted");
    CHECK(RegDeleteValueA(key, "List") == 0, "RegDeleteValue");
    CHECK(RegDeleteValueA(key, "List") == ERROR_FILE_NOT_FOUND, "deleted once");
    CHECK(RegDeleteKeyA(key, "Sub") == 0, "RegDeleteKey");
    CHECK(RegSetValueExA(sub, "After", 0, REG_DWORD, (const BYTE *)&dword, 4) == ERROR_KEY_DELETED,
          "a handle to a deleted key");
    RegCloseKey(sub);
    CHECK(RegOpenKeyExA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test\\Sub", 0, KEY_READ, &sub) == ERROR_FILE_NOT_FOUND,
          "gone");

    HKEY readOnly;
    CHECK(RegOpenKeyExA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test", 0, KEY_READ, &readOnly) == 0, "open for reading");
    CHECK(RegSetValueExA(readOnly, "X", 0, REG_DWORD, (const BYTE *)&dword, 4) == ERROR_ACCESS_DENIED,
          "no writes through a read-only handle");
    RegCloseKey(readOnly);

    CHECK(RegCreateKeyExA(HKEY_CURRENT_USER, "Software\\ntbox-test", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &user, NULL) == 0,
          "HKEY_CURRENT_USER");
    CHECK(RegSetValueExA(user, "Theme", 0, REG_SZ, (const BYTE *)"dark", 5) == 0, "a user setting");
    RegCloseKey(user);
    RegCloseKey(key);
    printf("registry checks passed: %d\n", g_check);
    return 0;
}

static int Read(const char *value)
{
    char text[256];
    DWORD size = sizeof text - 1, type = 0;
    LONG r = RegGetValueA(HKEY_LOCAL_MACHINE, "SOFTWARE\\ntbox-test", value, RRF_RT_ANY, &type, text, &size);
    if (r != ERROR_SUCCESS) {
        printf("%s: error %ld\n", value, r);
        return 1;
    }
    if (type == REG_DWORD)
        printf("%s = %lu (REG_DWORD)\n", value, *(DWORD *)text);
    else
        printf("%s = %s (type %lu)\n", value, text, type);
    return 0;
}

static int Bad(void)
{
    HANDLE key, other;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    ULONG got;
    BYTE buffer[64];
    RtlInitUnicodeString(&name, L"\\Registry\\Machine\\SOFTWARE");
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    CHECK(NtOpenKey(&key, KEY_ALL_ACCESS, &attributes) == STATUS_SUCCESS, "NtOpenKey");
    CHECK(NtOpenKey((HANDLE *)(ULONG_PTR)0x10, KEY_READ, &attributes) == STATUS_ACCESS_VIOLATION, "bad handle pointer");
    CHECK(NtOpenKey(&other, KEY_READ, (OBJECT_ATTRIBUTES *)(ULONG_PTR)0xfffff80000000000ull) == STATUS_ACCESS_VIOLATION,
          "kernel-address attributes");
    UNICODE_STRING wild = {8, 8, (WCHAR *)(ULONG_PTR)0x20};
    CHECK(NtQueryValueKey(key, &wild, 2, buffer, sizeof buffer, &got) == STATUS_ACCESS_VIOLATION, "bad value name");
    CHECK(NtQueryKey(key, 0, (void *)(ULONG_PTR)0x30, 64, &got) == STATUS_ACCESS_VIOLATION, "bad output buffer");
    CHECK(NtQueryKey(key, 0, buffer, sizeof buffer, (ULONG *)(ULONG_PTR)0x40) == STATUS_ACCESS_VIOLATION,
          "bad result length");
    RtlInitUnicodeString(&name, L"X");
    CHECK(NtSetValueKey(key, &name, 0, REG_BINARY, (void *)(ULONG_PTR)0x50, 16) == STATUS_ACCESS_VIOLATION, "bad data");
    CHECK(NtQueryKey(key, 77, buffer, sizeof buffer, &got) == STATUS_INVALID_PARAMETER, "unknown class");
    CHECK(NtQueryKey(key, 3, buffer, 2, &got) == STATUS_BUFFER_TOO_SMALL && got == 2 * 26 + 4, "name needs more room");
    CHECK(NtQueryKey(key, 3, buffer, sizeof buffer, &got) == STATUS_SUCCESS &&
              memcmp(buffer + 4, L"\\REGISTRY\\MACHINE\\SOFTWARE", 52) == 0,
          "KeyNameInformation is the full path");
    RtlInitUnicodeString(&name, L"\\Device\\Null");
    CHECK(NtOpenKey(&other, KEY_READ, &attributes) == STATUS_OBJECT_NAME_NOT_FOUND ||
              NtOpenKey(&other, KEY_READ, &attributes) == STATUS_OBJECT_TYPE_MISMATCH,
          "no key outside \\REGISTRY");
    printf("hostile pointers refused: %d\n", g_check);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "write") == 0) return Write();
    if (argc >= 3 && strcmp(argv[1], "read") == 0) return Read(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "bad") == 0) return Bad();
    printf("usage: registry_app write | read NAME | bad\n");
    return 100;
}
