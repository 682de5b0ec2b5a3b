/* Events and waits through Wine's ntdll: notification and synchronization events, single and
   multiple waits with and without timeouts, a delay, and refusals. The exit code is the number of
   the first check that failed, 42 when none did. */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>

NTSTATUS NTAPI NtCreateEvent(HANDLE *, ACCESS_MASK, void *, int, BOOLEAN);
NTSTATUS NTAPI NtSetEvent(HANDLE, LONG *);
NTSTATUS NTAPI NtResetEvent(HANDLE, LONG *);
NTSTATUS NTAPI NtWaitForSingleObject(HANDLE, BOOLEAN, LARGE_INTEGER *);
NTSTATUS NTAPI NtWaitForMultipleObjects(ULONG, HANDLE *, int, BOOLEAN, LARGE_INTEGER *);
NTSTATUS NTAPI NtDelayExecution(BOOLEAN, LARGE_INTEGER *);
NTSTATUS NTAPI NtQueryPerformanceCounter(LARGE_INTEGER *, LARGE_INTEGER *);
NTSTATUS NTAPI NtClose(HANDLE);
NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);

static int Run(void)
{
    HANDLE manual, automatic, both[2];
    LARGE_INTEGER now, zero, ms, before, after, frequency;
    LONG previous = -1;
    zero.QuadPart = 0;
    ms.QuadPart = -10000 * 20; /* 20 ms, relative */

    if (NtCreateEvent(&manual, EVENT_ALL_ACCESS, NULL, 0 /* NotificationEvent */, FALSE)) return 1;
    if (NtCreateEvent(&automatic, EVENT_ALL_ACCESS, NULL, 1 /* SynchronizationEvent */, TRUE)) return 2;
    if (NtWaitForSingleObject(manual, FALSE, &zero) != STATUS_TIMEOUT) return 3;
    if (NtSetEvent(manual, &previous) || previous != 0) return 4;
    if (NtWaitForSingleObject(manual, FALSE, &zero) != STATUS_WAIT_0) return 5;
    if (NtWaitForSingleObject(manual, FALSE, NULL) != STATUS_WAIT_0) return 6; /* stays signaled */
    if (NtResetEvent(manual, &previous) || previous != 1) return 7;
    if (NtWaitForSingleObject(automatic, FALSE, &zero) != STATUS_WAIT_0) return 8;
    if (NtWaitForSingleObject(automatic, FALSE, &zero) != STATUS_TIMEOUT) return 9; /* consumed */

    NtSetEvent(automatic, NULL);
    both[0] = manual;
    both[1] = automatic;
    if (NtWaitForMultipleObjects(2, both, 1 /* WaitAny */, FALSE, &zero) != STATUS_WAIT_0 + 1) return 10;
    NtSetEvent(automatic, NULL);
    if (NtWaitForMultipleObjects(2, both, 0 /* WaitAll */, FALSE, &zero) != STATUS_TIMEOUT) return 11;
    NtSetEvent(manual, NULL);
    if (NtWaitForMultipleObjects(2, both, 0, FALSE, &zero) != STATUS_WAIT_0) return 12;

    /* A timed wait and a delay take about as long as asked. */
    NtResetEvent(manual, NULL);
    NtQueryPerformanceCounter(&before, &frequency);
    if (NtWaitForSingleObject(manual, FALSE, &ms) != STATUS_TIMEOUT) return 13;
    if (NtDelayExecution(FALSE, &ms)) return 14;
    NtQueryPerformanceCounter(&after, NULL);
    if ((after.QuadPart - before.QuadPart) * 1000 / frequency.QuadPart < 39) return 15;

    /* Refusals. */
    if (NtWaitForSingleObject((HANDLE)(ULONG_PTR)0x1230, FALSE, &zero) != STATUS_INVALID_HANDLE) return 16;
    if (NtWaitForMultipleObjects(2, (HANDLE *)(ULONG_PTR)0xfffff80000001000ull, 1, FALSE, &zero) !=
        STATUS_ACCESS_VIOLATION) return 17;
    if (NtWaitForMultipleObjects(0, both, 1, FALSE, &zero) != STATUS_INVALID_PARAMETER_1) return 18;
    if (NtWaitForSingleObject(manual, FALSE, (LARGE_INTEGER *)(ULONG_PTR)0x10) != STATUS_ACCESS_VIOLATION) return 19;
    if (NtSetEvent((HANDLE)(ULONG_PTR)0x1230, NULL) != STATUS_INVALID_HANDLE) return 20;
    if (NtCreateEvent((HANDLE *)(ULONG_PTR)0xfffff80000001000ull, EVENT_ALL_ACCESS, NULL, 0, FALSE) !=
        STATUS_ACCESS_VIOLATION) return 21;
    (void)now;
    NtClose(manual);
    NtClose(automatic);
    return 42;
}

void __stdcall NtProcessStartup(void *peb)
{
    (void)peb;
    NtTerminateProcess((HANDLE)(LONG_PTR)-1, Run());
}
