/* I/O completion ports over csq_queue.sys: overlapped requests on a handle associated with a port
   post their completion there (the driver's worker completes some, CancelIoEx the others), a
   thread posts its own packets, and GetQueuedCompletionStatus(Ex) takes them with the key and the
   OVERLAPPED each was sent with. Prints one line a check; exits with the failures' count. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>

#include "csq_shared.h"

#define KEY 7
static int g_failed;

static void Check(int ok, const char *what)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) ++g_failed;
}

static DWORD WINAPI Poster(void *port)
{
    for (ULONG_PTR i = 1; i <= 3; ++i) PostQueuedCompletionStatus(port, (DWORD)(i * 100), 99, (OVERLAPPED *)i);
    return 0;
}

int main(void)
{
    HANDLE h = CreateFileA("\\\\.\\CsqQueue", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, NULL);
    HANDLE control = CreateFileA("\\\\.\\CsqQueue", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    Check(h != INVALID_HANDLE_VALUE && control != INVALID_HANDLE_VALUE, "open the queue");
    HANDLE port = CreateIoCompletionPort(h, NULL, KEY, 0);
    Check(port != NULL, "CreateIoCompletionPort associates the handle");

    OVERLAPPED ov[4] = {0};
    ULONG answers[4];
    for (int i = 0; i < 4; ++i) {
        BOOL done = DeviceIoControl(h, CSQ_IOCTL_HOLD, NULL, 0, &answers[i], sizeof answers[i], NULL, &ov[i]);
        Check(!done && GetLastError() == ERROR_IO_PENDING, "a held request pends");
    }
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *which = NULL;
    Check(!GetQueuedCompletionStatus(port, &bytes, &key, &which, 0) && GetLastError() == WAIT_TIMEOUT && !which,
          "nothing completed yet");
    Check(CancelIoEx(h, &ov[3]), "cancel the last");
    ULONG release = 3;
    Check(DeviceIoControl(control, CSQ_IOCTL_RELEASE, &release, sizeof release, NULL, 0, &bytes, NULL),
          "the driver's worker completes the other three");
    int completed = 0, cancelled = 0, seen = 0;
    for (int i = 0; i < 4; ++i) {
        BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &which, 5000);
        if (which >= ov && which < ov + 4 && key == KEY) ++seen;
        if (ok && bytes == sizeof(ULONG)) ++completed;
        if (!ok && which == &ov[3] && GetLastError() == ERROR_OPERATION_ABORTED) ++cancelled;
    }
    Check(seen == 4 && completed == 3 && cancelled == 1, "four packets: three completed, one cancelled");

    HANDLE poster = CreateThread(NULL, 0, Poster, port, 0, NULL);
    WaitForSingleObject(poster, INFINITE);
    OVERLAPPED_ENTRY entries[8];
    ULONG removed = 0;
    Check(GetQueuedCompletionStatusEx(port, entries, 8, &removed, 1000, FALSE) && removed == 3 &&
              entries[0].lpCompletionKey == 99 && entries[0].dwNumberOfBytesTransferred == 100 &&
              entries[2].lpOverlapped == (OVERLAPPED *)3,
          "PostQueuedCompletionStatus from another thread, taken three at once");
    CloseHandle(port);
    CloseHandle(h);
    CloseHandle(control);
    printf("%d failed\n", g_failed);
    return g_failed;
}
