/* Drives start_io.sys: requests queued behind the device's current one start in arrival order or by
   key, a queued request is cancelled, and a StartIo that finishes at once and starts the next does
   not recurse (IoSetStartIoAttributes). Prints "startio_app: NAME ok" or "... FAILED" per check;
   exits with the number of failures. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "start_io_shared.h"

#define MAX_REQUESTS 8

static HANDLE g_async, g_sync;
static int g_failures;

typedef struct Request {
  OVERLAPPED ov;
  union {
    START_IO_WORK work;
    START_IO_DONE done;
  } u;
} Request;

static void Check(const char *name, int ok, unsigned long detail) {
  if (ok) {
    printf("startio_app: %s ok\n", name);
  } else {
    printf("startio_app: %s FAILED %lu\n", name, detail);
    ++g_failures;
  }
}

static int Submit(Request *r, unsigned key, unsigned immediate) {
  memset(r, 0, sizeof *r);
  r->ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
  r->u.work.Key = key;
  r->u.work.Immediate = immediate;
  if (DeviceIoControl(g_async, START_IO_IOCTL_WORK, &r->u.work, sizeof r->u.work, &r->u.done, sizeof r->u.done, NULL,
                      &r->ov)) {
    return 1; /* done at once */
  }
  return GetLastError() == ERROR_IO_PENDING;
}

/* The request's key when it completed, or 0 (its error in *error). */
static unsigned Result(Request *r, DWORD *error) {
  DWORD bytes = 0;
  BOOL ok = GetOverlappedResult(g_async, &r->ov, &bytes, TRUE);
  *error = ok ? 0 : GetLastError();
  CloseHandle(r->ov.hEvent);
  return ok && bytes == sizeof r->u.done ? r->u.done.Key : 0;
}

static DWORD Fire(ULONG nextKey) {
  DWORD bytes;
  return DeviceIoControl(g_sync, START_IO_IOCTL_FIRE, &nextKey, sizeof nextKey, NULL, 0, &bytes, NULL) ? 0
                                                                                                       : GetLastError();
}

static int Pending(Request *r) { return WaitForSingleObject(r->ov.hEvent, 0) == WAIT_TIMEOUT; }

int main(void) {
  Request r[MAX_REQUESTS];
  START_IO_STATS stats;
  DWORD error, bytes;
  unsigned keys[4];
  int i;

  g_async = CreateFileA("\\\\.\\StartIo", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  g_sync = CreateFileA("\\\\.\\StartIo", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (g_async == INVALID_HANDLE_VALUE || g_sync == INVALID_HANDLE_VALUE) {
    printf("startio_app: CreateFile failed %lu\n", GetLastError());
    return 100;
  }

  /* Arrival order: the first starts, two wait; the second is cancelled while queued. */
  Check("submit in arrival order", Submit(&r[0], 0, 0) && Submit(&r[1], 0, 0) && Submit(&r[2], 0, 0), GetLastError());
  Check("requests wait for the device", Pending(&r[0]) && Pending(&r[1]) && Pending(&r[2]), 0);
  Check("CancelIoEx of a queued request", CancelIoEx(g_async, &r[1].ov), GetLastError());
  Result(&r[1], &error);
  Check("the cancelled request ends ERROR_OPERATION_ABORTED", error == ERROR_OPERATION_ABORTED, error);
  Check("the current request still runs", Pending(&r[0]) && Pending(&r[2]), 0);
  Check("interrupt 1", Fire(0) == 0, 0);
  Result(&r[0], &error);
  Check("the first request completes first", error == 0 && r[0].u.done.Order == 1, r[0].u.done.Order);
  Check("the next request starts only then", Pending(&r[2]), 0);
  Check("interrupt 2", Fire(0) == 0, 0);
  Result(&r[2], &error);
  Check("the third request completes second", error == 0 && r[2].u.done.Order == 2, r[2].u.done.Order);
  error = Fire(0);
  Check("an interrupt with no current request", error == ERROR_NOT_READY, error);

  /* By key: the first (key 1) starts; 30, 10, 20 wait ordered by key. */
  Check("submit by key", Submit(&r[0], 1, 0) && Submit(&r[1], 30, 0) && Submit(&r[2], 10, 0) && Submit(&r[3], 20, 0),
        GetLastError());
  /* IoStartNextPacketByKey(15) starts 20; (40) none is that large: the first, 10; then 30. */
  Fire(15);
  keys[0] = Result(&r[0], &error);
  Fire(40);
  keys[1] = Result(&r[3], &error);
  Fire(0);
  keys[2] = Result(&r[2], &error);
  Fire(0);
  keys[3] = Result(&r[1], &error);
  Check("IoStartNextPacketByKey order", keys[0] == 1 && keys[1] == 20 && keys[2] == 10 && keys[3] == 30, keys[1]);

  /* Deferred StartIo: one request the hardware holds, then four StartIo finishes at once. */
  Check("submit immediate requests", Submit(&r[0], 0, 0) && Submit(&r[1], 0, 1) && Submit(&r[2], 0, 1) &&
        Submit(&r[3], 0, 1) && Submit(&r[4], 0, 1), GetLastError());
  Fire(0);
  for (i = 0; i < 5; ++i) {
    Result(&r[i], &error);
    if (error) break;
  }
  Check("StartIo starting the next itself completes them all", i == 5, (unsigned long)i);
  Check("in order", r[4].u.done.Order == r[0].u.done.Order + 4, r[4].u.done.Order);

  if (!DeviceIoControl(g_sync, START_IO_IOCTL_STATS, NULL, 0, &stats, sizeof stats, &bytes, NULL)) {
    printf("startio_app: STATS failed %lu\n", GetLastError());
    return 100;
  }
  Check("StartIo ran for each started request", stats.Started == 11, stats.Started);
  Check("StartIo at DISPATCH_LEVEL", stats.WrongIrql == 0, stats.WrongIrql);
  Check("StartIo's IRP is DeviceObject->CurrentIrp", stats.NotCurrent == 0, stats.NotCurrent);
  Check("DeferredStartIo: StartIo never nested", stats.MaxDepth == 1, stats.MaxDepth);
  Check("the cancel routine ran once", stats.Cancelled == 1, stats.Cancelled);
  CloseHandle(g_async);
  CloseHandle(g_sync);
  printf("startio_app: %d failures\n", g_failures);
  return g_failures;
}
