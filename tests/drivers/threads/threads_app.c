/* Threads in a program on Wine's DLLs: CreateThread (suspended too), waits on threads, exit codes,
   critical sections and SRW locks under contention (they sleep in NtWaitForAlertByThreadId),
   condition variables, TLS slots and static TLS, ExitThread, TerminateThread. With an argument,
   one way for a process with threads to end:
     exitfromthread   a second thread calls ExitProcess(7) while the first waits forever
     crashinthread    a second thread writes through a bad pointer
     mainexitthread   the first thread calls ExitThread; the last one's exit code is the process's
   "timers" checks waitable timers instead: manual-reset, periodic, cancelled, with a completion
   routine (a user APC), named. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 4
#define ROUNDS 20000

static CRITICAL_SECTION g_section;
static SRWLOCK g_srw = SRWLOCK_INIT;
static CONDITION_VARIABLE g_ready = CONDITION_VARIABLE_INIT;
static volatile LONG g_counter, g_shared, g_queue;
static DWORD g_slot;
static __thread int t_static = 5;

static DWORD WINAPI Worker(void *arg)
{
    int index = (int)(INT_PTR)arg;
    TlsSetValue(g_slot, (void *)(INT_PTR)(index + 100));
    t_static += index;
    for (int i = 0; i < ROUNDS; ++i) {
        EnterCriticalSection(&g_section);
        g_shared = g_shared + 1; /* a plain read-modify-write the section protects */
        LeaveCriticalSection(&g_section);
        InterlockedIncrement(&g_counter);
        if (i % 1000 == 0) Sleep(0);
    }
    if ((INT_PTR)TlsGetValue(g_slot) != index + 100 || t_static != 5 + index) return 999;
    return (DWORD)index * 10;
}

static DWORD WINAPI Producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; ++i) {
        AcquireSRWLockExclusive(&g_srw);
        ++g_queue;
        ReleaseSRWLockExclusive(&g_srw);
        WakeConditionVariable(&g_ready);
    }
    return 0;
}

static DWORD WINAPI TakesMutex(void *arg)
{
    HANDLE mutex = (HANDLE)arg;
    DWORD busy = WaitForSingleObject(mutex, 0);        /* owned by the first thread */
    BOOL foreign = ReleaseMutex(mutex);                /* not this thread's to release */
    DWORD error = GetLastError();
    return busy == WAIT_TIMEOUT && !foreign && error == ERROR_NOT_OWNER ? 0 : 1;
}

static DWORD WINAPI Sleeper(void *arg)
{
    (void)arg;
    Sleep(INFINITE);
    return 1;
}

static DWORD WINAPI Exiter(void *arg)
{
    ExitThread((DWORD)(INT_PTR)arg);
}

static DWORD WINAPI EndsProcess(void *arg)
{
    (void)arg;
    printf("second thread ends the process\n");
    fflush(stdout);
    ExitProcess(7);
}

static DWORD WINAPI Crashes(void *arg)
{
    (void)arg;
    printf("second thread about to fault\n");
    fflush(stdout);
    *(volatile int *)(INT_PTR)0x30 = 1;
    return 0;
}

/* Returns once the first thread has ended (arg: a handle to it), so that it is the last. */
static DWORD WINAPI Outlives(void *arg)
{
    WaitForSingleObject((HANDLE)arg, INFINITE);
    printf("last thread returns 5\n");
    fflush(stdout);
    return 5;
}

static int Check(int ok, const char *what)
{
    if (!ok) printf("FAILED: %s (error %lu)\n", what, GetLastError());
    return ok ? 0 : 1;
}

static volatile LONG g_spins, g_stopSpinning, g_woke;

static DWORD WINAPI Counts(void *arg)
{
    (void)arg;
    while (!g_stopSpinning) InterlockedIncrement(&g_spins);
    return 0;
}

static DWORD WINAPI WaitsForEvent(void *event)
{
    WaitForSingleObject((HANDLE)event, INFINITE);
    InterlockedIncrement(&g_woke);
    return 0;
}

/* SuspendThread and ResumeThread: a thread counting in its own code stops and goes on again, a
   thread in a wait stays stopped after the wait is satisfied, a suspended thread can be ended. */
static int Suspension(void)
{
    DWORD code = 0;
    HANDLE counter = CreateThread(NULL, 0, Counts, NULL, 0, NULL);
    while (g_spins < 1000) Sleep(0);
    DWORD first = SuspendThread(counter);
    /* SuspendThread is asynchronous, as on Windows: the count stops soon after, then stays. */
    LONG a = g_spins, b;
    for (int i = 0; i < 200; ++i) {
        Sleep(10);
        if (g_spins == a) break;
        a = g_spins;
    }
    Sleep(40);
    b = g_spins;
    DWORD second = SuspendThread(counter);
    DWORD r1 = ResumeThread(counter), r2 = ResumeThread(counter);
    while (g_spins == b) Sleep(0);
    printf("counting thread: suspend %lu %lu, stopped %s, resume %lu %lu, counting again\n", first, second,
           a == b ? "yes" : "no", r1, r2);
    HANDLE event = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE waiter = CreateThread(NULL, 0, WaitsForEvent, event, 0, NULL);
    Sleep(10);
    SuspendThread(waiter);
    SetEvent(event);
    Sleep(40);
    LONG woke = g_woke;
    ResumeThread(waiter);
    WaitForSingleObject(waiter, INFINITE);
    printf("waiting thread: ran while suspended %ld, after resume %ld\n", woke, g_woke);
    SuspendThread(counter);
    TerminateThread(counter, 5);
    DWORD ended = WaitForSingleObject(counter, 5000);
    GetExitCodeThread(counter, &code);
    printf("suspended thread terminated: wait %lu, exit code %lu\n", ended, code);
    return 0;
}

static volatile LONG g_fired;
static ULONGLONG g_firedAt;

static VOID CALLBACK TimerRoutine(LPVOID arg, DWORD low, DWORD high)
{
    g_fired += arg == &g_fired;
    g_firedAt = ((ULONGLONG)high << 32) | low;
}

static int Timers(void)
{
    LARGE_INTEGER due;
    FILETIME before;
    due.QuadPart = -200000; /* 20 ms from now */
    HANDLE manual = CreateWaitableTimerA(NULL, TRUE, NULL);
    SetWaitableTimer(manual, &due, 0, NULL, NULL, FALSE);
    DWORD m1 = WaitForSingleObject(manual, 5000), m2 = WaitForSingleObject(manual, 0);
    HANDLE periodic = CreateWaitableTimerA(NULL, FALSE, NULL);
    due.QuadPart = -100000;
    SetWaitableTimer(periodic, &due, 10, NULL, NULL, FALSE);
    DWORD p1 = WaitForSingleObject(periodic, 5000), p2 = WaitForSingleObject(periodic, 5000);
    DWORD p3 = WaitForSingleObject(periodic, 5000);
    CancelWaitableTimer(periodic);
    DWORD cancelled = WaitForSingleObject(periodic, 50);
    GetSystemTimeAsFileTime(&before);
    due.QuadPart = -100000;
    SetWaitableTimer(manual, &due, 0, TimerRoutine, (LPVOID)&g_fired, FALSE);
    DWORD apc = SleepEx(5000, TRUE);
    ULONGLONG start = ((ULONGLONG)before.dwHighDateTime << 32) | before.dwLowDateTime;
    HANDLE named = CreateWaitableTimerA(NULL, TRUE, "ntbox-timer");
    HANDLE opened = OpenWaitableTimerA(TIMER_ALL_ACCESS, FALSE, "ntbox-timer");
    due.QuadPart = -10000;
    SetWaitableTimer(opened, &due, 0, NULL, NULL, FALSE);
    DWORD n = WaitForSingleObject(named, 5000);
    printf("timers: manual %lu %lu, periodic %lu %lu %lu, cancelled %lu, apc %lu %ld %d, named %lu\n", m1, m2, p1,
           p2, p3, cancelled, apc, (long)g_fired, g_firedAt >= start, n);
    CloseHandle(manual);
    CloseHandle(periodic);
    CloseHandle(named);
    CloseHandle(opened);
    return 0;
}

int main(int argc, char **argv)
{
    HANDLE threads[WORKERS];
    DWORD code, id;
    int failed = 0;
    if (argc > 1 && strcmp(argv[1], "suspend") == 0) return Suspension();
    if (argc > 1 && strcmp(argv[1], "timers") == 0) return Timers();
    if (argc > 1 && strcmp(argv[1], "exitfromthread") == 0) {
        CreateThread(NULL, 0, EndsProcess, NULL, 0, NULL);
        Sleep(INFINITE);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "crashinthread") == 0) {
        HANDLE t = CreateThread(NULL, 0, Crashes, NULL, 0, NULL);
        WaitForSingleObject(t, INFINITE);
        printf("not reached\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "mainexitthread") == 0) {
        HANDLE first = NULL;
        DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &first, SYNCHRONIZE, FALSE, 0);
        printf("first thread exits\n");
        fflush(stdout);
        CreateThread(NULL, 0, Outlives, first, 0, NULL);
        ExitThread(0);
    }

    InitializeCriticalSection(&g_section);
    g_slot = TlsAlloc();
    TlsSetValue(g_slot, (void *)1);
    for (int i = 0; i < WORKERS; ++i) {
        threads[i] = CreateThread(NULL, 0, Worker, (void *)(INT_PTR)i, i == 0 ? CREATE_SUSPENDED : 0, &id);
        failed += Check(threads[i] != NULL && id != 0 && id != GetCurrentThreadId(), "CreateThread");
    }
    failed += Check(WaitForSingleObject(threads[0], 50) == WAIT_TIMEOUT, "a suspended thread does not run");
    failed += Check(ResumeThread(threads[0]) == 1, "ResumeThread returns the previous count");
    failed += Check(WaitForMultipleObjects(WORKERS, threads, TRUE, INFINITE) == WAIT_OBJECT_0, "wait for all");
    for (int i = 0; i < WORKERS; ++i) {
        failed += Check(GetExitCodeThread(threads[i], &code) && code == (DWORD)i * 10, "exit codes");
        CloseHandle(threads[i]);
    }
    failed += Check(g_counter == WORKERS * ROUNDS && g_shared == WORKERS * ROUNDS, "every increment counted");
    failed += Check((INT_PTR)TlsGetValue(g_slot) == 1 && t_static == 5, "TLS is per thread");
    printf("%d threads, %ld increments under a critical section\n", WORKERS, g_shared);

    HANDLE producer = CreateThread(NULL, 0, Producer, NULL, 0, NULL);
    int consumed = 0;
    AcquireSRWLockExclusive(&g_srw);
    while (consumed < 100) {
        while (g_queue == 0) SleepConditionVariableSRW(&g_ready, &g_srw, INFINITE, 0);
        consumed += g_queue;
        g_queue = 0;
    }
    ReleaseSRWLockExclusive(&g_srw);
    WaitForSingleObject(producer, INFINITE);
    printf("consumed %d items through a condition variable\n", consumed);

    HANDLE semaphore = CreateSemaphoreA(NULL, 1, 2, NULL);
    LONG previous = -1;
    failed += Check(semaphore && ReleaseSemaphore(semaphore, 1, &previous) && previous == 1, "ReleaseSemaphore");
    failed += Check(!ReleaseSemaphore(semaphore, 1, NULL) && GetLastError() == ERROR_TOO_MANY_POSTS, "the limit");
    failed += Check(WaitForSingleObject(semaphore, 0) == WAIT_OBJECT_0 && WaitForSingleObject(semaphore, 0) == 0 &&
                        WaitForSingleObject(semaphore, 0) == WAIT_TIMEOUT,
                    "a semaphore counts down");
    HANDLE mutex = CreateMutexA(NULL, TRUE, NULL);
    failed += Check(WaitForSingleObject(mutex, 0) == WAIT_OBJECT_0, "a mutex is recursive for its owner");
    HANDLE taker = CreateThread(NULL, 0, TakesMutex, mutex, 0, NULL);
    WaitForSingleObject(taker, INFINITE);
    failed += Check(GetExitCodeThread(taker, &code) && code == 0, "another thread cannot take or release it");
    failed += Check(ReleaseMutex(mutex) && ReleaseMutex(mutex) && !ReleaseMutex(mutex), "released as often as taken");
    printf("semaphore and mutex checks done\n");

    HANDLE exiter = CreateThread(NULL, 0, Exiter, (void *)(INT_PTR)42, 0, NULL);
    WaitForSingleObject(exiter, INFINITE);
    failed += Check(GetExitCodeThread(exiter, &code) && code == 42, "ExitThread's code");
    HANDLE sleeper = CreateThread(NULL, 0, Sleeper, NULL, 0, NULL);
    failed += Check(GetExitCodeThread(sleeper, &code) && code == STILL_ACTIVE, "STILL_ACTIVE while it runs");
    failed += Check(TerminateThread(sleeper, 9), "TerminateThread");
    failed += Check(WaitForSingleObject(sleeper, 5000) == WAIT_OBJECT_0, "a terminated thread ends");
    failed += Check(GetExitCodeThread(sleeper, &code) && code == 9, "TerminateThread's code");
    printf("ExitThread %lu, TerminateThread 9\n", (unsigned long)42);

    /* A thread still sleeping when main returns: the process ends anyway. */
    CreateThread(NULL, 0, Sleeper, NULL, 0, NULL);
    printf("%s\n", failed ? "some checks failed" : "all thread checks passed");
    return failed ? 1 : 3;
}
