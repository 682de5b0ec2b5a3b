/* User APCs on Wine's DLLs: QueueUserAPC to this thread and another, run only by alertable waits
   (SleepEx, WaitForSingleObjectEx), and ReadFileEx's completion routine for reads csq_queue.sys
   holds: completed by its worker, or cancelled. Prints one line a check; exits with the failures. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>

#include "csq_shared.h"

static int g_failed;
static volatile LONG g_apcs, g_lastArg;
static DWORD g_error, g_bytes;
static OVERLAPPED *g_overlapped;

static void Check(int ok, const char *what)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) ++g_failed;
}

static void CALLBACK Apc(ULONG_PTR arg)
{
    InterlockedIncrement(&g_apcs);
    g_lastArg = (LONG)arg;
}

static void CALLBACK Completion(DWORD error, DWORD bytes, OVERLAPPED *overlapped)
{
    g_error = error;
    g_bytes = bytes;
    g_overlapped = overlapped;
}

static DWORD WINAPI Sleeper(void *arg)
{
    (void)arg;
    return SleepEx(INFINITE, TRUE);
}

int main(void)
{
    Check(QueueUserAPC(Apc, GetCurrentThread(), 5), "QueueUserAPC to this thread");
    Sleep(10);
    Check(g_apcs == 0, "a wait that is not alertable runs no APC");
    Check(SleepEx(1000, TRUE) == WAIT_IO_COMPLETION && g_apcs == 1 && g_lastArg == 5, "SleepEx(alertable) runs it");
    HANDLE never = CreateEventA(NULL, TRUE, FALSE, NULL);
    QueueUserAPC(Apc, GetCurrentThread(), 6);
    QueueUserAPC(Apc, GetCurrentThread(), 7);
    Check(WaitForSingleObjectEx(never, INFINITE, TRUE) == WAIT_IO_COMPLETION && g_apcs == 3 && g_lastArg == 7,
          "WaitForSingleObjectEx(alertable) runs both, in order");

    HANDLE sleeper = CreateThread(NULL, 0, Sleeper, NULL, 0, NULL);
    Sleep(50);
    Check(QueueUserAPC(Apc, sleeper, 8), "QueueUserAPC to a sleeping thread");
    DWORD code = 0;
    Check(WaitForSingleObject(sleeper, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(sleeper, &code) &&
              code == WAIT_IO_COMPLETION && g_lastArg == 8,
          "it wakes, runs the APC, and its SleepEx returns WAIT_IO_COMPLETION");

    HANDLE h = CreateFileA("\\\\.\\CsqQueue", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, NULL);
    HANDLE control = CreateFileA("\\\\.\\CsqQueue", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    OVERLAPPED ov = {0};
    ULONG answer = 0, release = 1;
    DWORD bytes;
    Check(ReadFileEx(h, &answer, sizeof answer, &ov, Completion), "ReadFileEx on a held read");
    Check(SleepEx(0, TRUE) == 0 && g_overlapped == NULL, "nothing to run while the driver holds it");
    DeviceIoControl(control, CSQ_IOCTL_RELEASE, &release, sizeof release, NULL, 0, &bytes, NULL);
    Check(SleepEx(5000, TRUE) == WAIT_IO_COMPLETION && g_overlapped == &ov && g_error == 0 && g_bytes == 4 &&
              answer != 0,
          "the completion routine runs once the worker completes it");
    g_overlapped = NULL;
    Check(ReadFileEx(h, &answer, sizeof answer, &ov, Completion) && CancelIoEx(h, &ov), "ReadFileEx, then CancelIoEx");
    Check(SleepEx(5000, TRUE) == WAIT_IO_COMPLETION && g_overlapped == &ov && g_error == ERROR_OPERATION_ABORTED,
          "the completion routine hears of the cancel");
    CloseHandle(h);
    CloseHandle(control);
    printf("%d failed\n", g_failed);
    return g_failed;
}
