/* Small runtime exports drivers import, as Microsoft documents them: a version check with
   VER_SET_CONDITION and RtlVerifyVersionInfo, ExUuidCreate, KeQueryActiveProcessors. Each check
   prints "misc_api: NAME ok" or "misc_api: NAME FAILED ...". */
#include <ntddk.h>

static void Check(const char *name, int ok, ULONG detail)
{
    if (ok) {
        DbgPrint("misc_api: %s ok\n", name);
    } else {
        DbgPrint("misc_api: %s FAILED 0x%08lx\n", name, detail);
    }
}

/* Whether the machine is at least major.minor (and build), as a driver asks "Windows 10 or later". */
static NTSTATUS AtLeast(ULONG major, ULONG minor, ULONG build)
{
    RTL_OSVERSIONINFOEXW v;
    ULONGLONG mask = 0;
    RtlZeroMemory(&v, sizeof v);
    v.dwOSVersionInfoSize = sizeof v;
    v.dwMajorVersion = major;
    v.dwMinorVersion = minor;
    v.dwBuildNumber = build;
    VER_SET_CONDITION(mask, VER_MAJORVERSION, VER_GREATER_EQUAL);
    VER_SET_CONDITION(mask, VER_MINORVERSION, VER_GREATER_EQUAL);
    VER_SET_CONDITION(mask, VER_BUILDNUMBER, VER_GREATER_EQUAL);
    return RtlVerifyVersionInfo(&v, VER_MAJORVERSION | VER_MINORVERSION | VER_BUILDNUMBER, mask);
}

/* ZwLoadDriver/ZwUnloadDriver of the service misc_target (the test makes it: FirstDriverSample). */
static void CheckLoadDriver(void)
{
    UNICODE_STRING target, absent;
    NTSTATUS s;
    RtlInitUnicodeString(&target, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\misc_target");
    RtlInitUnicodeString(&absent, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\no_such_service");
    s = ZwLoadDriver(&absent);
    Check("ZwLoadDriver of no service", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
    s = ZwLoadDriver(&target);
    Check("ZwLoadDriver", s == STATUS_SUCCESS, s);
    s = ZwLoadDriver(&target);
    Check("ZwLoadDriver of a loaded driver", s == STATUS_IMAGE_ALREADY_LOADED, s);
    s = ZwUnloadDriver(&target);
    Check("ZwUnloadDriver", s == STATUS_SUCCESS, s);
    s = ZwUnloadDriver(&target);
    Check("ZwUnloadDriver of an unloaded driver", s == STATUS_OBJECT_NAME_NOT_FOUND, s);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    RTL_OSVERSIONINFOW version;
    RTL_OSVERSIONINFOEXW v;
    ULONGLONG mask = 0;
    GUID a, b;
    KAFFINITY active;
    ULONG count;
    NTSTATUS s;
    (void)driver;
    (void)registryPath;

    version.dwOSVersionInfoSize = sizeof version;
    RtlGetVersion(&version);
    s = AtLeast(10, 0, 0);
    Check("RtlVerifyVersionInfo: Windows 10 or later", s == STATUS_SUCCESS, s);
    s = AtLeast(version.dwMajorVersion, version.dwMinorVersion, version.dwBuildNumber);
    Check("RtlVerifyVersionInfo: this very version", s == STATUS_SUCCESS, s);
    s = AtLeast(version.dwMajorVersion, version.dwMinorVersion, version.dwBuildNumber + 1);
    Check("RtlVerifyVersionInfo: a later build", s == STATUS_REVISION_MISMATCH, s);
    s = AtLeast(version.dwMajorVersion + 1, 0, 0);
    Check("RtlVerifyVersionInfo: a later major version", s == STATUS_REVISION_MISMATCH, s);
    RtlZeroMemory(&v, sizeof v);
    v.dwOSVersionInfoSize = sizeof v;
    v.dwPlatformId = VER_PLATFORM_WIN32_NT;
    VER_SET_CONDITION(mask, VER_PLATFORMID, VER_EQUAL);
    s = RtlVerifyVersionInfo(&v, VER_PLATFORMID, mask);
    Check("RtlVerifyVersionInfo: the NT platform", s == STATUS_SUCCESS, s);
    s = RtlVerifyVersionInfo(&v, 0, mask);
    Check("RtlVerifyVersionInfo: no type", s == STATUS_INVALID_PARAMETER, s);

    s = ExUuidCreate(&a);
    Check("ExUuidCreate", NT_SUCCESS(s) && (a.Data3 >> 12) == 4 && (a.Data4[0] & 0xC0) == 0x80, s);
    s = ExUuidCreate(&b);
    Check("ExUuidCreate twice", NT_SUCCESS(s) && RtlCompareMemory(&a, &b, sizeof a) != sizeof a, s);

    count = KeQueryActiveProcessorCount(NULL);
    active = KeQueryActiveProcessors();
    Check("KeQueryActiveProcessors", count > 0 && active == (((KAFFINITY)1 << count) - 1), (ULONG)active);
    CheckLoadDriver();
    DbgPrint("misc_api: done\n");
    return STATUS_SUCCESS;
}
