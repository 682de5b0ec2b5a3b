/* Runtime services drivers import, each used as Microsoft's documentation describes: affinity
   (KeSetSystemAffinityThread(Ex), the group variant), calls on every processor (KeGenericCallDpc
   with its barrier, KeIpiGenericCall), the kernel stack (IoGetStackLimits,
   KeExpandKernelStackAndCallout), quota pool (ExAllocatePoolWithQuotaTag raising or failing),
   timers the system allocates (ExAllocateTimer, ExSetTimer, ExDeleteTimer) and
   KeSetCoalescableTimer. Built by clang for __try/__except. Each check prints
   "runtime_api: NAME ok" or "runtime_api: NAME FAILED ...". */
#include <ntddk.h>

#undef ExAllocatePoolWithQuotaTag

#define HUGE_POOL ((SIZE_T)1 << 40)

static void Check(const char *name, int ok, ULONG_PTR detail) {
  if (ok) {
    DbgPrint("runtime_api: %s ok\n", name);
  } else {
    DbgPrint("runtime_api: %s FAILED 0x%Ix\n", name, detail);
  }
}

/* An IRQL read and a write in one rewriter window (clang's __try covers calls, so this is one). */
static __declspec(noinline) void WriteAfterIrqlRead(volatile ULONG *where) {
  __asm__ __volatile__("movq %%cr8, %%rax\n\tmovl %%eax, (%0)" : : "r"(where) : "rax", "memory");
}

/* ---- affinity ---- */
static void CheckAffinity(KAFFINITY active) {
  ULONG home = KeGetCurrentProcessorNumberEx(NULL), i, moved = 0, wanted = 0;
  KAFFINITY previous, nested;
  GROUP_AFFINITY group, old;
  for (i = 0; i < 64; ++i) {
    if (!(active & ((KAFFINITY)1 << i))) continue;
    ++wanted;
    KeSetSystemAffinityThread((KAFFINITY)1 << i);
    if (KeGetCurrentProcessorNumberEx(NULL) == i && KeGetCurrentProcessorNumber() == i) ++moved;
    KeRevertToUserAffinityThread();
  }
  Check("KeSetSystemAffinityThread runs on each processor", moved == wanted && wanted >= 1, moved);
  Check("KeRevertToUserAffinityThread", KeGetCurrentProcessorNumberEx(NULL) == home, KeGetCurrentProcessorNumberEx(NULL));
  previous = KeSetSystemAffinityThreadEx(active);
  Check("KeSetSystemAffinityThreadEx: none before", previous == 0, previous);
  nested = KeSetSystemAffinityThreadEx((KAFFINITY)1 << (RtlFindMostSignificantBit(active)));
  Check("KeSetSystemAffinityThreadEx nested: the outer set", nested == active, nested);
  Check("KeSetSystemAffinityThreadEx: on the last processor",
        KeGetCurrentProcessorNumberEx(NULL) == (ULONG)RtlFindMostSignificantBit(active), KeGetCurrentProcessorNumberEx(NULL));
  KeRevertToUserAffinityThreadEx(nested);
  KeRevertToUserAffinityThreadEx(previous);
  Check("KeRevertToUserAffinityThreadEx", KeGetCurrentProcessorNumberEx(NULL) == home, KeGetCurrentProcessorNumberEx(NULL));
  RtlZeroMemory(&group, sizeof group);
  group.Mask = 1;
  KeSetSystemGroupAffinityThread(&group, &old);
  Check("KeSetSystemGroupAffinityThread", KeGetCurrentProcessorNumberEx(NULL) == 0 && old.Mask == 0, old.Mask);
  KeRevertToUserGroupAffinityThread(&old);
  Check("KeRevertToUserGroupAffinityThread", KeGetCurrentProcessorNumberEx(NULL) == home, 0);
}

/* ---- KeGenericCallDpc ---- */
typedef struct GENERIC_CALL {
  volatile LONG64 seen;       /* processors the routine ran on */
  volatile LONG calls, wrongIrql, beforeBarrier, earlyPass, leaders;
  LONG processors;
} GENERIC_CALL;

static VOID GenericRoutine(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2) {
  GENERIC_CALL *g = context;
  UNREFERENCED_PARAMETER(dpc);
  InterlockedIncrement(&g->calls);
  InterlockedOr64(&g->seen, (LONG64)1 << KeGetCurrentProcessorNumberEx(NULL));
  if (KeGetCurrentIrql() != DISPATCH_LEVEL) InterlockedIncrement(&g->wrongIrql);
  InterlockedIncrement(&g->beforeBarrier);
  if (KeSignalCallDpcSynchronize(arg2)) InterlockedIncrement(&g->leaders);
  /* Past the barrier every processor has arrived at it. */
  if (g->beforeBarrier != g->processors) InterlockedIncrement(&g->earlyPass);
  if (KeSignalCallDpcSynchronize(arg2)) InterlockedIncrement(&g->leaders);
  KeSignalCallDpcDone(arg1);
}

static void CheckGenericCall(KAFFINITY active, ULONG count) {
  GENERIC_CALL g;
  RtlZeroMemory(&g, sizeof g);
  g.processors = (LONG)count;
  KeGenericCallDpc(GenericRoutine, &g);
  Check("KeGenericCallDpc on every processor", (KAFFINITY)g.seen == active && g.calls == (LONG)count, (ULONG_PTR)g.seen);
  Check("KeGenericCallDpc at DISPATCH_LEVEL", g.wrongIrql == 0, g.wrongIrql);
  Check("KeSignalCallDpcSynchronize waits for all", g.earlyPass == 0, g.earlyPass);
  Check("KeSignalCallDpcSynchronize: TRUE on one processor a barrier", g.leaders == 2, g.leaders);
}

/* ---- KeIpiGenericCall ---- */
static volatile LONG64 g_ipiSeen;
static volatile LONG g_ipiWrongIrql;

static ULONG_PTR IpiRoutine(ULONG_PTR argument) {
  ULONG n = KeGetCurrentProcessorNumberEx(NULL);
  InterlockedOr64(&g_ipiSeen, (LONG64)1 << n);
  if (KeGetCurrentIrql() != IPI_LEVEL) InterlockedIncrement(&g_ipiWrongIrql);
  return argument + n;
}

static void CheckIpi(KAFFINITY active) {
  ULONG home = KeGetCurrentProcessorNumberEx(NULL);
  ULONG_PTR r = KeIpiGenericCall(IpiRoutine, 100);
  Check("KeIpiGenericCall on every processor", (KAFFINITY)g_ipiSeen == active, (ULONG_PTR)g_ipiSeen);
  Check("KeIpiGenericCall at IPI_LEVEL", g_ipiWrongIrql == 0, g_ipiWrongIrql);
  Check("KeIpiGenericCall returns this processor's result", r == 100 + home, r);
  Check("KeIpiGenericCall restores IRQL and processor",
        KeGetCurrentIrql() == PASSIVE_LEVEL && KeGetCurrentProcessorNumberEx(NULL) == home, KeGetCurrentIrql());
}

/* ---- the kernel stack ---- */
static VOID Callout(PVOID parameter) {
  ULONG_PTR low, high;
  IoGetStackLimits(&low, &high);
  *(ULONG_PTR *)parameter = high - (ULONG_PTR)&low;
}

static void CheckStack(void) {
  ULONG_PTR low = 0, high = 0, used = 0;
  NTSTATUS s;
  IoGetStackLimits(&low, &high);
  Check("IoGetStackLimits brackets the stack", low < (ULONG_PTR)&low && (ULONG_PTR)&low < high, (ULONG_PTR)&low);
  Check("IoGetRemainingStackSize", IoGetRemainingStackSize() > 0x3000 && IoGetRemainingStackSize() < high - low,
        IoGetRemainingStackSize());
  Check("IoGetInitialStack", (ULONG_PTR)IoGetInitialStack() == high, (ULONG_PTR)IoGetInitialStack());
  s = KeExpandKernelStackAndCallout(Callout, &used, MAXIMUM_EXPANSION_SIZE);
  Check("KeExpandKernelStackAndCallout", s == STATUS_SUCCESS && used != 0, s);
  s = KeExpandKernelStackAndCallout(Callout, &used, MAXIMUM_EXPANSION_SIZE + 1);
  Check("KeExpandKernelStackAndCallout beyond the maximum", s == STATUS_INVALID_PARAMETER_3, s);
  used = 0;
  s = KeExpandKernelStackAndCalloutEx(Callout, &used, KERNEL_STACK_SIZE, TRUE, NULL);
  Check("KeExpandKernelStackAndCalloutEx", s == STATUS_SUCCESS && used != 0, s);
}

/* ---- quota pool ---- */
static void CheckQuotaPool(void) {
  PVOID p = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, 64, 'tQtR');
  NTSTATUS caught = STATUS_SUCCESS;
  Check("ExAllocatePoolWithQuotaTag", p != NULL, 0);
  if (p) ExFreePoolWithTag(p, 'tQtR');
  p = ExAllocatePoolWithQuota(PagedPool, 32);
  Check("ExAllocatePoolWithQuota", p != NULL, 0);
  if (p) ExFreePool(p);
  p = ExAllocatePoolWithQuotaTag((POOL_TYPE)(NonPagedPoolNx | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), HUGE_POOL, 'tQtR');
  Check("ExAllocatePoolWithQuotaTag fails instead of raising", p == NULL, (ULONG_PTR)p);
  __try {
    p = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, HUGE_POOL, 'tQtR');
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    caught = GetExceptionCode();
  }
  Check("ExAllocatePoolWithQuotaTag raises on failure", caught == STATUS_INSUFFICIENT_RESOURCES, caught);
  caught = STATUS_SUCCESS;
  __try {
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, HUGE_POOL, 'tQtR');
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    caught = GetExceptionCode();
  }
  Check("ExAllocatePool2 with POOL_FLAG_RAISE_ON_FAILURE raises", caught == STATUS_INSUFFICIENT_RESOURCES, caught);
  /* A fault in a write the load-time rewriter moved next to an IRQL read (into its trampoline)
     reaches this function's __except, at the write's own address. */
  caught = STATUS_SUCCESS;
  __try {
    WriteAfterIrqlRead((volatile ULONG *)(ULONG_PTR)0x10);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    caught = GetExceptionCode();
  }
  Check("a fault beside an IRQL read reaches __except", caught == STATUS_ACCESS_VIOLATION, caught);
}

/* ---- timers the system allocates ---- */
typedef struct TIMER_STATE {
  KEVENT fired, deleted;
  volatile LONG count, wrongIrql, stopAt;
  PEX_TIMER self;
  BOOLEAN deleteInCallback;
} TIMER_STATE;

static VOID TimerCallback(PEX_TIMER timer, PVOID context) {
  TIMER_STATE *s = context;
  if (KeGetCurrentIrql() != DISPATCH_LEVEL) InterlockedIncrement(&s->wrongIrql);
  if (timer != s->self) InterlockedIncrement(&s->wrongIrql);
  if (InterlockedIncrement(&s->count) == s->stopAt) {
    if (s->deleteInCallback) {
      EXT_DELETE_PARAMETERS params;
      ExInitializeDeleteTimerParameters(&params);
      params.DeleteCallback = NULL;
      ExDeleteTimer(timer, FALSE, FALSE, &params);
    }
    KeSetEvent(&s->fired, IO_NO_INCREMENT, FALSE);
  }
}

static VOID TimerDeleted(PVOID context) { KeSetEvent(&((TIMER_STATE *)context)->deleted, IO_NO_INCREMENT, FALSE); }

static NTSTATUS WaitFor(PVOID object) {
  LARGE_INTEGER timeout;
  timeout.QuadPart = -10LL * 1000 * 1000 * 10; /* a bound, not a sleep: 10 s */
  return KeWaitForSingleObject(object, Executive, KernelMode, FALSE, &timeout);
}

static void CheckExTimers(void) {
  static TIMER_STATE s;
  EXT_SET_PARAMETERS set;
  EXT_DELETE_PARAMETERS del;
  PEX_TIMER t;
  BOOLEAN r;
  NTSTATUS w;
  KTIMER kt;
  KDPC dpc;

  RtlZeroMemory(&s, sizeof s);
  KeInitializeEvent(&s.fired, NotificationEvent, FALSE);
  KeInitializeEvent(&s.deleted, NotificationEvent, FALSE);
  Check("ExAllocateTimer refuses HIGH_RESOLUTION with NO_WAKE",
        ExAllocateTimer(TimerCallback, &s, EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE) == NULL, 0);

  /* One-shot. */
  t = ExAllocateTimer(TimerCallback, &s, EX_TIMER_HIGH_RESOLUTION);
  s.self = t;
  s.stopAt = 1;
  ExInitializeSetTimerParameters(&set);
  r = ExSetTimer(t, -10000, 0, &set);
  w = WaitFor(&s.fired);
  Check("ExSetTimer one-shot fires its callback", t && !r && w == STATUS_SUCCESS && s.count == 1, w);
  Check("ExTimerCallback at DISPATCH_LEVEL with its timer", s.wrongIrql == 0, s.wrongIrql);
  ExInitializeDeleteTimerParameters(&del);
  del.DeleteCallback = TimerDeleted;
  del.DeleteContext = &s;
  r = ExDeleteTimer(t, TRUE, TRUE, &del);
  Check("ExDeleteTimer of an expired timer", !r && KeReadStateEvent(&s.deleted), r);

  /* Periodic, then cancelled and deleted with a wait. */
  KeClearEvent(&s.fired);
  KeClearEvent(&s.deleted);
  s.count = 0;
  s.stopAt = 3;
  t = ExAllocateTimer(TimerCallback, &s, 0);
  s.self = t;
  r = ExSetTimer(t, -10000, 10000, NULL);
  w = WaitFor(&s.fired);
  Check("ExSetTimer periodic", w == STATUS_SUCCESS && s.count >= 3, s.count);
  Check("ExCancelTimer of a periodic timer", ExCancelTimer(t, NULL) == TRUE, 0);
  Check("ExCancelTimer again", ExCancelTimer(t, NULL) == FALSE, 0);
  r = ExSetTimer(t, -10LL * 1000 * 1000 * 3600, 0, NULL);
  r = ExDeleteTimer(t, TRUE, TRUE, &del);
  Check("ExDeleteTimer cancels a set timer", r == TRUE && KeReadStateEvent(&s.deleted), r);

  /* Deleted from its own callback: the delete callback runs after it returns. */
  KeClearEvent(&s.fired);
  KeClearEvent(&s.deleted);
  s.count = 0;
  s.stopAt = 1;
  s.deleteInCallback = TRUE;
  t = ExAllocateTimer(TimerCallback, &s, 0);
  s.self = t;
  ExSetTimer(t, -10000, 10000, NULL);
  w = WaitFor(&s.fired);
  Check("ExDeleteTimer from its callback", w == STATUS_SUCCESS && s.count == 1, s.count);

  /* A notification timer is a dispatcher object: waited on with no callback. */
  t = ExAllocateTimer(NULL, NULL, EX_TIMER_NOTIFICATION);
  ExSetTimer(t, -10000, 0, NULL);
  w = WaitFor(t);
  Check("EX_TIMER_NOTIFICATION is waitable", w == STATUS_SUCCESS, w);
  ExDeleteTimer(t, TRUE, FALSE, NULL);

  KeInitializeTimerEx(&kt, NotificationTimer);
  KeInitializeDpc(&dpc, (PKDEFERRED_ROUTINE)NULL, NULL);
  {
    LARGE_INTEGER due;
    due.QuadPart = -10000;
    r = KeSetCoalescableTimer(&kt, due, 0, 50, NULL);
  }
  w = WaitFor(&kt);
  Check("KeSetCoalescableTimer", !r && w == STATUS_SUCCESS, w);
}

/* ---- bits and bitmaps ---- */
static void CheckBitmap(void) {
  ULONG buffer[3];
  RTL_BITMAP map;
  ULONG at;
  Check("RtlFindMostSignificantBit", RtlFindMostSignificantBit(0x8001) == 15 && RtlFindMostSignificantBit(0) == -1, 0);
  Check("RtlFindLeastSignificantBit", RtlFindLeastSignificantBit(0x8010) == 4 && RtlFindLeastSignificantBit(0) == -1, 0);
  buffer[2] = 0xDEADBEEF; /* past the 70 bits: never touched */
  RtlInitializeBitMap(&map, buffer, 70);
  RtlSetAllBits(&map);
  RtlClearAllBits(&map);
  Check("RtlClearAllBits", RtlNumberOfClearBits(&map) == 70 && RtlNumberOfSetBits(&map) == 0, RtlNumberOfSetBits(&map));
  RtlSetBits(&map, 30, 5);
  Check("RtlSetBits across a ULONG", buffer[0] == 0xC0000000 && buffer[1] == 0x7 && RtlAreBitsSet(&map, 30, 5) &&
        RtlAreBitsClear(&map, 35, 35), buffer[0]);
  at = RtlFindClearBitsAndSet(&map, 10, 28);
  Check("RtlFindClearBitsAndSet after the hint", at == 35 && RtlTestBit(&map, 44) && !RtlTestBit(&map, 45), at);
  at = RtlFindClearBits(&map, 30, 60);
  Check("RtlFindClearBits wraps to the start", at == 0, at);
  at = RtlFindClearBits(&map, 31, 0);
  Check("RtlFindClearBits with no room", at == 0xFFFFFFFF, at);
  at = RtlFindSetBitsAndClear(&map, 15, 0);
  Check("RtlFindSetBitsAndClear", at == 30 && RtlNumberOfSetBits(&map) == 0, at);
  RtlSetBit(&map, 69);
  RtlClearBit(&map, 69);
  RtlSetBit(&map, 3);
  Check("RtlSetBit, RtlClearBit, RtlTestBit", RtlTestBit(&map, 3) && !RtlTestBit(&map, 69), buffer[2]);
  Check("bits past the bitmap's size untouched", (buffer[2] & ~0x3Fu) == (0xDEADBEEFu & ~0x3Fu), buffer[2]);
}

static void CheckExports(void) {
  static const WCHAR *names[] = {
      L"KeSetSystemAffinityThread", L"KeRevertToUserAffinityThread", L"KeSetSystemAffinityThreadEx",
      L"KeRevertToUserAffinityThreadEx", L"KeSetSystemGroupAffinityThread", L"KeRevertToUserGroupAffinityThread",
      L"KeGenericCallDpc", L"KeSignalCallDpcDone", L"KeSignalCallDpcSynchronize", L"KeIpiGenericCall",
      L"KeExpandKernelStackAndCallout", L"KeExpandKernelStackAndCalloutEx", L"IoGetStackLimits", L"IoGetInitialStack",
      L"ExAllocatePoolWithQuotaTag", L"ExAllocatePoolWithQuota", L"ExAllocateTimer", L"ExSetTimer", L"ExCancelTimer",
      L"ExDeleteTimer", L"KeSetCoalescableTimer", L"RtlInitializeBitMap", L"RtlFindClearBitsAndSet",
      L"RtlNumberOfSetBits", L"RtlFindMostSignificantBit"};
  ULONG i, found = 0;
  for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, names[i]);
    if (MmGetSystemRoutineAddress(&name)) ++found;
  }
  Check("MmGetSystemRoutineAddress", found == sizeof names / sizeof names[0], found);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath) {
  KAFFINITY active = KeQueryActiveProcessors();
  ULONG count = KeQueryActiveProcessorCount(NULL);
  UNREFERENCED_PARAMETER(driver);
  UNREFERENCED_PARAMETER(registryPath);
  CheckAffinity(active);
  CheckGenericCall(active, count);
  CheckIpi(active);
  CheckStack();
  CheckQuotaPool();
  CheckExTimers();
  CheckBitmap();
  CheckExports();
  DbgPrint("runtime_api: done\n");
  return STATUS_SUCCESS;
}
