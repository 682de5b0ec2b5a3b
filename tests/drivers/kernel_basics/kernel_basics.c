/* Kernel basics a C driver uses, each checked in the driver and printed for the host test:
 * IRQL read, raised and lowered inline (CR8), the tick count and system time read inline from
 * KUSER_SHARED_DATA, the exported time routines, every printf format, Rtl strings and pool. */
#include <ntddk.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

/* Data exports mingw-w64 does not declare. */
__declspec(dllimport) extern ULONG NtBuildNumber;


#define CHECK(cond) \
    do { if (!(cond)) { DbgPrint("FAIL %s at line %d\n", #cond, __LINE__); ++g_failures; } } while (0)

static int g_failures;

static void IrqlChecks(void)
{
    KIRQL old, inner;
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    CHECK(old == PASSIVE_LEVEL);
    CHECK(KeGetCurrentIrql() == DISPATCH_LEVEL);
    inner = KeRaiseIrqlToDpcLevel();
    CHECK(inner == DISPATCH_LEVEL);
    KeRaiseIrql(HIGH_LEVEL, &inner);
    CHECK(KeGetCurrentIrql() == HIGH_LEVEL);
    KeLowerIrql(inner);
    CHECK(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(old);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    _disable();
    _enable();
    DbgPrint("IRQL ok: inline cr8 raise/lower, now %u\n", (unsigned)KeGetCurrentIrql());
}

static void TimeChecks(void)
{
    LARGE_INTEGER tick1, tick2, system, perf, freq;
    ULONGLONG interrupt;
    KeQueryTickCount(&tick1);   /* inline: KUSER_SHARED_DATA.TickCount */
    KeQuerySystemTime(&system); /* inline: KUSER_SHARED_DATA.SystemTime */
    interrupt = KeQueryInterruptTime();
    CHECK(tick1.QuadPart >= 0);
    /* 100 ns units since 1601: any date after 2020 is above this. */
    CHECK(system.QuadPart > 132223104000000000LL);
    CHECK(interrupt > 0);
    CHECK(KeQueryTimeIncrement() == 156250);
    KeStallExecutionProcessor(20000); /* 20 ms: more than one 15.625 ms tick */
    KeQueryTickCount(&tick2);
    CHECK(tick2.QuadPart > tick1.QuadPart);
    perf = KeQueryPerformanceCounter(&freq);
    CHECK(freq.QuadPart == 10000000);
    CHECK(perf.QuadPart > 0);
    CHECK(SharedUserData->NtMajorVersion == 10);
    DbgPrint("TIME ok: ticks advanced by %I64d, system time %I64u\n", tick2.QuadPart - tick1.QuadPart,
             (ULONGLONG)system.QuadPart);
}

/* Shared-data reads folded into arithmetic, as optimizing compilers emit them (clang -O2 adds a
 * tick count straight from KUSER_SHARED_DATA): NtMajorVersion (10) and NtMinorVersion (0) as the
 * memory operand of add, sub, and, or, xor and adc at 8, 32 and 64 bits, with the carry they set. */
static void FoldedSharedDataChecks(void)
{
    volatile ULONG *major = &SharedUserData->NtMajorVersion;
    volatile UCHAR *majorByte = (volatile UCHAR *)major;
    volatile ULONG64 *both = (volatile ULONG64 *)major; /* 10 | 0 << 32 */
    ULONG v;
    ULONG64 q;
    UCHAR b, carry;
    v = 5;
    __asm__ __volatile__("addl %1, %0" : "+r"(v) : "m"(*major));
    CHECK(v == 15);
    v = 25;
    __asm__ __volatile__("subl %1, %0" : "+r"(v) : "m"(*major));
    CHECK(v == 15);
    v = 0xFF;
    __asm__ __volatile__("andl %1, %0" : "+r"(v) : "m"(*major));
    CHECK(v == 10);
    v = 0x20;
    __asm__ __volatile__("orl %1, %0" : "+r"(v) : "m"(*major));
    CHECK(v == 0x2A);
    v = 0xF;
    __asm__ __volatile__("xorl %1, %0" : "+r"(v) : "m"(*major));
    CHECK(v == 5);
    q = 1;
    __asm__ __volatile__("addq %1, %0" : "+r"(q) : "m"(*both));
    CHECK(q == 11);
    b = 0xFB;
    __asm__ __volatile__("addb %2, %0\n\tsetc %1" : "+q"(b), "=q"(carry) : "m"(*majorByte));
    CHECK(b == 5 && carry == 1);
    v = 0xFFFFFFFF;
    carry = 0;
    __asm__ __volatile__("stc\n\tadcl %2, %0\n\tsetc %1" : "+r"(v), "=q"(carry) : "m"(*major) : "cc");
    CHECK(v == 10 && carry == 1);
    v = 3;
    __asm__ __volatile__("subl %2, %0\n\tsetc %1" : "+r"(v), "=q"(carry) : "m"(*major) : "cc");
    CHECK(v == (ULONG)-7 && carry == 1);
    DbgPrint("FOLD ok: add, sub, and, or, xor, adc with KUSER_SHARED_DATA operands\n");
}

static void FormatChecks(void)
{
    UNICODE_STRING us = RTL_CONSTANT_STRING(L"Unicode");
    ANSI_STRING as = RTL_CONSTANT_STRING("Ansi");
    char buffer[64];
    int n;
    DbgPrint("FMT %%wZ=[%wZ] %%Z=[%Z] %%ws=[%ws] %%S=[%S] %%hs=[%hs] %%ls=[%ls]\n", &us, &as, L"wide",
             L"wideS", "narrow", L"wideL");
    DbgPrint("FMT %%s=[%s] %%c=[%c] %%C=[%C] %%5s=[%5s] %%-5s=[%-5s] %%.2s=[%.2s]\n", "str", 'c', L'W', "ab",
             "ab", "abcdef");
    DbgPrint("FMT %%d=[%d] %%i=[%i] %%u=[%u] %%x=[%x] %%X=[%X] %%o=[%o]\n", -42, 42, 4294967295u, 0xbeef,
             0xBEEF, 8);
    DbgPrint("FMT %%ld=[%ld] %%lx=[%lx] %%I64d=[%I64d] %%I64x=[%I64x] %%lld=[%lld] %%llu=[%llu]\n", -1L,
             0xFFFFFFFFUL, -5000000000LL, 0x123456789ABCDEFULL, -7LL, 18446744073709551615ULL);
    DbgPrint("FMT %%p=[%p] %%08x=[%08x] %%-6d=[%-6d] %%+d=[%+d] %% d=[% d] %%#x=[%#x] %%#o=[%#o]\n",
             (PVOID)0x1234ABCDull, 0x1F, 7, 5, 5, 255, 8);
    DbgPrint("FMT %%*d=[%*d] %%-*d=[%-*d] %%.*d=[%.*d] %%hd=[%hd] %%hhx=[%hhx] %%Iu=[%Iu]\n", 5, 42, 4, 1, 3, 7,
             (short)-2, 0x1FF, (SIZE_T)123);
    DbgPrint("FMT %%wZ(null)=[%wZ] %%s(null)=[%s] %%%%=[%%]\n", (PUNICODE_STRING)NULL, (char *)NULL);
    n = _snprintf(buffer, 4, "%s", "abcdef");
    CHECK(n == -1);
    n = _snprintf(buffer, sizeof buffer, "%d-%s", 12, "ab");
    CHECK(n == 5);
    CHECK(strcmp(buffer, "12-ab") == 0);
    n = sprintf(buffer, "%I64X", 0xABCDEF0123ULL);
    CHECK(n == 10 && strcmp(buffer, "ABCDEF0123") == 0);
    {
        WCHAR wide[32];
        n = _snwprintf(wide, 32, L"%s=%d", L"w", 9);
        CHECK(n == 3 && wcscmp(wide, L"w=9") == 0);
    }
}

static void StringAndPoolChecks(void)
{
    UNICODE_STRING a, b, number, converted;
    ANSI_STRING ansi;
    WCHAR storage[32];
    ULONG value = 0;
    PVOID p, q, r;

    RtlInitUnicodeString(&a, L"Hello");
    RtlInitUnicodeString(&b, L"hello");
    CHECK(a.Length == 10 && a.MaximumLength == 12);
    CHECK(!RtlEqualUnicodeString(&a, &b, FALSE));
    CHECK(RtlEqualUnicodeString(&a, &b, TRUE));
    CHECK(RtlCompareUnicodeString(&a, &b, FALSE) < 0);

    number.Buffer = storage;
    number.Length = 0;
    number.MaximumLength = sizeof storage;
    CHECK(RtlIntegerToUnicodeString(48879, 16, &number) == STATUS_SUCCESS);
    CHECK(RtlUnicodeStringToInteger(&number, 16, &value) == STATUS_SUCCESS && value == 48879);
    CHECK(RtlAppendUnicodeToString(&number, L"-x") == STATUS_SUCCESS);

    CHECK(RtlUnicodeStringToAnsiString(&ansi, &a, TRUE) == STATUS_SUCCESS);
    CHECK(ansi.Length == 5 && strcmp(ansi.Buffer, "Hello") == 0);
    CHECK(RtlAnsiStringToUnicodeString(&converted, &ansi, TRUE) == STATUS_SUCCESS);
    CHECK(RtlEqualUnicodeString(&converted, &a, FALSE));
    RtlFreeAnsiString(&ansi);
    RtlFreeUnicodeString(&converted);

    p = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'tseT');
    q = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 'oreZ');
    r = ExAllocatePool(PagedPool, 8);
    CHECK(p && q && r);
    CHECK(((ULONG_PTR)p & 15) == 0);
    CHECK(((UCHAR *)q)[0] == 0 && ((UCHAR *)q)[63] == 0);
    /* Pool lives in kernel space, above the user range. */
    CHECK((ULONG_PTR)p > (ULONG_PTR)MmHighestUserAddress);
    ExFreePoolWithTag(p, 'tseT');
    ExFreePool(q);
    ExFreePool(r);
    DbgPrint("STRINGS ok: %wZ\n", &number);
}

static void VersionChecks(void)
{
    RTL_OSVERSIONINFOW info;
    ULONG major = 0, minor = 0, build = 0;
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"RtlGetVersion");
    info.dwOSVersionInfoSize = sizeof info;
    CHECK(RtlGetVersion(&info) == STATUS_SUCCESS);
    PsGetVersion(&major, &minor, &build, NULL);
    CHECK(major == info.dwMajorVersion && build == info.dwBuildNumber);
    CHECK(MmGetSystemRoutineAddress(&name) == (PVOID)RtlGetVersion);
    DbgPrint("VERSION %lu.%lu.%lu (NtBuildNumber %lu)\n", major, minor, build, NtBuildNumber & 0xFFFF);
}

static void Unload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    DbgPrint("kernel_basics unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DbgPrint("kernel_basics: %wZ, %wZ\n", &DriverObject->DriverName, RegistryPath);
    IrqlChecks();
    TimeChecks();
    FoldedSharedDataChecks();
    FormatChecks();
    StringAndPoolChecks();
    VersionChecks();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "RESULT %d failure(s)\n", g_failures);
    DriverObject->DriverUnload = Unload;
    return g_failures ? STATUS_UNSUCCESSFUL : STATUS_SUCCESS;
}
