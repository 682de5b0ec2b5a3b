/* The privileged forms a driver's code executes inline, each written the ways compilers and
   driver writers write them: IRQL reads and writes through every general register, raises and
   lowers on each side of and across DISPATCH_LEVEL, flags live across a write, cli/sti, and
   KUSER_SHARED_DATA reads. Built by gcc at -O0, -O2 and -Os and by clang at -O0 and -O2; the test
   loads each build with load-time rewriting on and off and compares what it printed: the checks,
   and a trace of every IRQL it read. With a service name it stops instead (--service NAME), and the
   test compares the stops both ways. */
#include <ntddk.h>

#include "../common/service_name.h"

/* The KPCR's bytes the rewriting stores to, as mingw-w64's DDK lays the KPCR out. */
C_ASSERT(FIELD_OFFSET(KPCR, Irql) == 0x50);
C_ASSERT(FIELD_OFFSET(KPCR, Unused0) == 0x54);

static ULONG g_checks, g_failures;
static char g_trace[512];
static ULONG g_traced;
static volatile int *volatile g_null;

#define CHECK(name, cond)                                  \
  do {                                                     \
    ++g_checks;                                            \
    if (!(cond)) {                                         \
      ++g_failures;                                        \
      DbgPrint("irql forms: FAIL %s\n", name);             \
    }                                                      \
  } while (0)

static void Trace(KIRQL irql)
{
    if (g_traced + 1 < sizeof g_trace) g_trace[g_traced++] = "0123456789abcdef"[irql & 15];
}

/* A write then a read through one register, by register: the rewriting emits each register's own
   encodings (REX prefixes, the byte registers sil/dil, r8b-r15b) and calls its own helper entry. */
#define THROUGH(reg)                                                        \
  static KIRQL __attribute__((noinline)) Through_##reg(KIRQL to)            \
  {                                                                         \
      register ULONG64 value __asm__(#reg) = to;                            \
      __asm__ __volatile__("mov %0, %%cr8" : : "r"(value) : "memory");      \
      __asm__ __volatile__("mov %%cr8, %0" : "=r"(value) : : "memory");     \
      return (KIRQL)value;                                                  \
  }
THROUGH(rax) THROUGH(rbx) THROUGH(rcx) THROUGH(rdx) THROUGH(rsi) THROUGH(rdi)
THROUGH(r8) THROUGH(r9) THROUGH(r10) THROUGH(r11) THROUGH(r12) THROUGH(r13) THROUGH(r14) THROUGH(r15)

typedef KIRQL (*ThroughFn)(KIRQL);

static void EveryRegister(void)
{
    static const ThroughFn through[] = {Through_rax, Through_rbx, Through_rcx, Through_rdx, Through_rsi,
                                        Through_rdi, Through_r8,  Through_r9,  Through_r10, Through_r11,
                                        Through_r12, Through_r13, Through_r14, Through_r15};
    /* From PASSIVE_LEVEL: within the low side, across up, within the high side, across down. */
    static const KIRQL path[] = {APC_LEVEL, PASSIVE_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, 12, DISPATCH_LEVEL,
                                 APC_LEVEL, HIGH_LEVEL, PASSIVE_LEVEL};
    ULONG i, j;
    for (i = 0; i < sizeof through / sizeof through[0]; ++i) {
        for (j = 0; j < sizeof path / sizeof path[0]; ++j) {
            const KIRQL seen = through[i](path[j]);
            Trace(seen);
            CHECK("a write and a read through one register", seen == path[j] && KeGetCurrentIrql() == path[j]);
        }
    }
}

/* A compare before the write and a branch on it after: the flags must survive the rewritten write,
   on its fast path and through the helper. */
static int __attribute__((noinline)) BelowFiveAcross(KIRQL to, ULONG64 x)
{
    unsigned char below;
    ULONG64 value = to;
    __asm__ __volatile__("cmp $5, %[x]\n\tmov %[v], %%cr8\n\tsetb %[b]"
                         : [b] "=q"(below)
                         : [v] "r"(value), [x] "r"(x)
                         : "cc", "memory");
    return below;
}

static void FlagsAcrossWrites(void)
{
    static const KIRQL path[] = {APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, APC_LEVEL, PASSIVE_LEVEL};
    ULONG j;
    for (j = 0; j < sizeof path / sizeof path[0]; ++j) {
        CHECK("flags kept across a write (below)", BelowFiveAcross(path[j], 3) == 1);
        CHECK("flags kept across a write (not below)", BelowFiveAcross(path[j], 7) == 0);
        Trace(KeGetCurrentIrql());
    }
}

/* The WDK's inline routines: every raise and its lower, nested. */
static void RaiseAndLower(void)
{
    static const KIRQL levels[] = {PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, 5, 12, HIGH_LEVEL};
    ULONG i, j;
    KIRQL a, b;
    for (i = 0; i < sizeof levels / sizeof levels[0]; ++i) {
        for (j = i; j < sizeof levels / sizeof levels[0]; ++j) {
            KeRaiseIrql(levels[i], &a);
            KeRaiseIrql(levels[j], &b);
            Trace(KeGetCurrentIrql());
            CHECK("nested raise", a == PASSIVE_LEVEL && b == levels[i] && KeGetCurrentIrql() == levels[j]);
            KeLowerIrql(b);
            CHECK("inner lower", KeGetCurrentIrql() == levels[i]);
            KeLowerIrql(a);
            CHECK("outer lower", KeGetCurrentIrql() == PASSIVE_LEVEL);
        }
    }
    a = KeRaiseIrqlToDpcLevel();
    CHECK("KeRaiseIrqlToDpcLevel", a == PASSIVE_LEVEL && KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(a);
    /* Many times: a raise and lower in a loop (the helper's path each time). */
    for (i = 0; i < 1000; ++i) {
        KeRaiseIrql(DISPATCH_LEVEL, &a);
        KeLowerIrql(a);
    }
    CHECK("a thousand raises undone", KeGetCurrentIrql() == PASSIVE_LEVEL);
}

/* cli and sti inline (the SDK's _disable/_enable), around work at each side of DISPATCH_LEVEL. */
static void InterruptFlag(void)
{
    volatile ULONG work = 0;
    KIRQL old;
    _disable();
    work += 1;
    _enable();
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    _disable();
    work += 2;
    Trace(KeGetCurrentIrql());
    _enable();
    KeLowerIrql(old);
    CHECK("cli and sti run", work == 3 && KeGetCurrentIrql() == PASSIVE_LEVEL);
}

/* KUSER_SHARED_DATA, read the ways the WDK's macros and drivers read it. */
static void SharedData(void)
{
    LARGE_INTEGER tick1, tick2, system1, system2;
    ULONGLONG interrupt1, interrupt2;
    RTL_OSVERSIONINFOW version = {sizeof version};
    volatile ULONG lowTick = *(volatile ULONG *)(0xFFFFF78000000320ULL);
    KeQueryTickCount(&tick1);
    interrupt1 = KeQueryInterruptTime();
    KeQuerySystemTime(&system1);
    system2.LowPart = SharedUserData->SystemTime.LowPart;
    system2.HighPart = SharedUserData->SystemTime.High1Time;
    interrupt2 = KeQueryInterruptTime();
    KeQueryTickCount(&tick2);
    CHECK("tick count goes forward", tick2.QuadPart >= tick1.QuadPart && (ULONG)tick1.QuadPart >= lowTick);
    CHECK("interrupt time goes forward", interrupt2 >= interrupt1 && interrupt1 > 0);
    CHECK("system time from the page", system2.QuadPart >= system1.QuadPart - 10000000);
    RtlGetVersion(&version);
    CHECK("the page's version is the kernel's",
          SharedUserData->NtMajorVersion == version.dwMajorVersion && SharedUserData->NtMinorVersion == version.dwMinorVersion);
    Trace((KIRQL)SharedUserData->NtMajorVersion);
}

/* ---- stops --------------------------------------------------------------------------------- */

static VOID NTAPI LowerInDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2)
{
    register ULONG64 passive __asm__("r13") = PASSIVE_LEVEL;
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(context);
    UNREFERENCED_PARAMETER(a1);
    UNREFERENCED_PARAMETER(a2);
    __asm__ __volatile__("mov %0, %%cr8" : : "r"(passive) : "memory");
}

static NTSTATUS Stop(PUNICODE_STRING path)
{
    if (Is(path, L"reserved_irql")) {
        __writecr8(16); /* reserved bits: #GP, a privileged instruction */
    } else if (Is(path, L"fault_after_write")) {
        /* The faulting store sits in the write's window, moved into its trampoline. */
        __asm__ __volatile__("mov %0, %%cr8\n\tmovl $1, (%1)" : : "r"(1ULL), "r"(g_null) : "memory");
    } else if (Is(path, L"fault_interrupts_off")) {
        _disable();
        *g_null = 1;
    } else if (Is(path, L"lower_in_dpc")) {
        KDPC dpc;
        KeInitializeDpc(&dpc, LowerInDpc, NULL);
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeFlushQueuedDpcs();
    } else {
        return STATUS_NOT_FOUND;
    }
    return STATUS_UNSUCCESSFUL;
}

static VOID Unload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DriverObject->DriverUnload = Unload;
    if (Stop(RegistryPath) != STATUS_NOT_FOUND) return STATUS_UNSUCCESSFUL;
    EveryRegister();
    FlagsAcrossWrites();
    RaiseAndLower();
    InterruptFlag();
    SharedData();
    g_trace[g_traced] = 0;
    DbgPrint("irql forms trace: %s\n", g_trace);
    DbgPrint("irql forms: %lu checks, %lu failed\n", g_checks, g_failures);
    return STATUS_SUCCESS;
}
