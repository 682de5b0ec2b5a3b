/* Drives csq_queue.sys with overlapped requests: each round queues CSQ_APP_BATCH requests, cancels
   every odd one (CancelIoEx), has the driver's thread complete the rest, and checks each result.
   "csq_app leave N" queues N requests and exits with them pending (the process end cancels them);
   "csq_app stats" prints the driver's counters. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csq_shared.h"

#define CSQ_APP_BATCH 32

static HANDLE Open(DWORD flags) {
  return CreateFileA("\\\\.\\CsqQueue", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, flags, NULL);
}

static int Stats(HANDLE control, CSQ_STATS *stats) {
  DWORD bytes = 0;
  if (!DeviceIoControl(control, CSQ_IOCTL_STATS, NULL, 0, stats, sizeof *stats, &bytes, NULL)) {
    printf("csq_app: STATS failed %lu\n", GetLastError());
    return 0;
  }
  return 1;
}

/* Queues n requests on h; 0 on failure. */
static int Hold(HANDLE h, OVERLAPPED *ov, ULONG *answers, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    memset(&ov[i], 0, sizeof ov[i]);
    ov[i].hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (DeviceIoControl(h, CSQ_IOCTL_HOLD, NULL, 0, &answers[i], sizeof answers[i], NULL, &ov[i]) ||
        GetLastError() != ERROR_IO_PENDING) {
      printf("csq_app: request %d did not pend (error %lu)\n", i, GetLastError());
      return 0;
    }
  }
  return 1;
}

int main(int argc, char **argv) {
  static OVERLAPPED ov[CSQ_APP_BATCH];
  static ULONG answers[CSQ_APP_BATCH];
  HANDLE h, control;
  CSQ_STATS stats;
  int rounds = argc > 2 ? atoi(argv[2]) : 10, round, i, failures = 0;
  unsigned completed = 0, cancelled = 0;

  control = Open(0);
  h = Open(FILE_FLAG_OVERLAPPED);
  if (control == INVALID_HANDLE_VALUE || h == INVALID_HANDLE_VALUE) {
    printf("csq_app: CreateFile failed %lu\n", GetLastError());
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "stats") == 0) {
    if (!Stats(control, &stats)) return 1;
    printf("csq_app: inserted %u completed %u cancelled %u pending %u\n", stats.Inserted, stats.Completed,
           stats.Cancelled, stats.Pending);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "block") == 0) {
    /* A synchronous request the driver holds: only Ctrl-C (which cancels it) ends the program. */
    ULONG answer;
    DWORD bytes;
    printf("csq_app: blocking\n");
    fflush(stdout);
    DeviceIoControl(control, CSQ_IOCTL_HOLD, NULL, 0, &answer, sizeof answer, &bytes, NULL);
    printf("csq_app: unblocked %lu\n", GetLastError());
    return 3;
  }
  if (argc > 1 && strcmp(argv[1], "leave") == 0) {
    int n = argc > 2 ? atoi(argv[2]) : 4;
    if (!Hold(h, ov, answers, n)) return 1;
    printf("csq_app: leaving %d requests pending\n", n);
    return 0; /* the process end cancels them */
  }
  for (round = 0; round < rounds; ++round) {
    ULONG release = CSQ_APP_BATCH / 2;
    DWORD bytes = 0;
    if (!Hold(h, ov, answers, CSQ_APP_BATCH)) return 1;
    for (i = 1; i < CSQ_APP_BATCH; i += 2) {
      if (!CancelIoEx(h, &ov[i])) {
        printf("csq_app: CancelIoEx %d failed %lu\n", i, GetLastError());
        ++failures;
      }
    }
    if (!DeviceIoControl(control, CSQ_IOCTL_RELEASE, &release, sizeof release, NULL, 0, &bytes, NULL)) {
      printf("csq_app: RELEASE failed %lu\n", GetLastError());
      return 1;
    }
    for (i = 0; i < CSQ_APP_BATCH; ++i) {
      BOOL ok = GetOverlappedResult(h, &ov[i], &bytes, TRUE);
      if (i % 2) {
        if (ok || GetLastError() != ERROR_OPERATION_ABORTED) {
          printf("csq_app: round %d request %d: want ERROR_OPERATION_ABORTED, got ok=%d error %lu\n", round, i, ok,
                 GetLastError());
          ++failures;
        } else {
          ++cancelled;
        }
      } else if (!ok || bytes != sizeof(ULONG) || answers[i] == 0) {
        printf("csq_app: round %d request %d: ok=%d bytes %lu answer %lu error %lu\n", round, i, ok, bytes,
               answers[i], GetLastError());
        ++failures;
      } else {
        ++completed;
      }
      if (WaitForSingleObject(ov[i].hEvent, 0) != WAIT_OBJECT_0) {
        printf("csq_app: round %d request %d: event not signaled\n", round, i);
        ++failures;
      }
      CloseHandle(ov[i].hEvent);
    }
  }
  if (CancelIoEx(h, NULL) || GetLastError() != ERROR_NOT_FOUND) {
    printf("csq_app: CancelIoEx with nothing pending: want ERROR_NOT_FOUND, got %lu\n", GetLastError());
    ++failures;
  }
  if (!Stats(control, &stats)) return 1;
  printf("csq_app: rounds %d completed %u cancelled %u pending %u failures %d\n", rounds, completed, cancelled,
         stats.Pending, failures);
  CloseHandle(h);
  CloseHandle(control);
  return failures ? 2 : 0;
}
