/* Drives object_callbacks.sys: names itself protected, then opens its own process and main thread
   and duplicates the process handle; the driver's routines take PROCESS_TERMINATE,
   PROCESS_VM_WRITE and THREAD_TERMINATE out of each handle, which NtQueryObject shows and
   TerminateProcess feels. Prints "obcb_app: NAME ok" or "... FAILED"; exits with the failures. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>

#include "obcb_shared.h"

typedef struct BASIC_INFORMATION {
  ULONG Attributes;
  ACCESS_MASK GrantedAccess;
  ULONG HandleCount, PointerCount, Reserved[10];
} BASIC_INFORMATION;
LONG NTAPI NtQueryObject(HANDLE, ULONG, void *, ULONG, ULONG *);

static int g_failures;

static void Check(const char *name, int ok, unsigned long detail) {
  if (ok) {
    printf("obcb_app: %s ok\n", name);
  } else {
    printf("obcb_app: %s FAILED 0x%lx\n", name, detail);
    ++g_failures;
  }
}

static ACCESS_MASK Granted(HANDLE h) {
  BASIC_INFORMATION info;
  ZeroMemory(&info, sizeof info);
  return NtQueryObject(h, 0, &info, sizeof info, NULL) == 0 ? info.GrantedAccess : 0xFFFFFFFF;
}

int main(void) {
  HANDLE device, process, thread, copy;
  DWORD pid = GetCurrentProcessId(), bytes = 0;
  OBCB_CALLER caller;
  OBCB_STATS stats;
  ACCESS_MASK granted;

  device = CreateFileA("\\\\.\\ObCallbacks", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (device == INVALID_HANDLE_VALUE) {
    printf("obcb_app: CreateFile failed %lu\n", GetLastError());
    return 100;
  }
  if (!DeviceIoControl(device, OBCB_IOCTL_PROTECT, &pid, sizeof pid, &caller, sizeof caller, &bytes, NULL)) {
    printf("obcb_app: PROTECT failed %lu\n", GetLastError());
    return 100;
  }
  Check("the driver finds the caller's thread by id", caller.LookupOk, caller.LookupOk);
  Check("PsGetThreadProcessId is this process", caller.ProcessId == pid, caller.ProcessId);
  Check("IoThreadToProcess of the request's thread", caller.SameProcess, caller.SameProcess);

  process = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
  Check("OpenProcess", process != NULL, GetLastError());
  granted = Granted(process);
  Check("OpenProcess: PROCESS_TERMINATE and PROCESS_VM_WRITE taken away",
        !(granted & (PROCESS_TERMINATE | PROCESS_VM_WRITE)) && (granted & PROCESS_VM_READ) && granted != 0xFFFFFFFF,
        granted);
  Check("TerminateProcess is denied", !TerminateProcess(process, 77) && GetLastError() == ERROR_ACCESS_DENIED,
        GetLastError());
  Check("DuplicateHandle", DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess(), &copy,
                                           PROCESS_ALL_ACCESS, FALSE, 0), GetLastError());
  granted = Granted(copy);
  Check("DuplicateHandle: rights taken away", !(granted & PROCESS_TERMINATE) && granted != 0xFFFFFFFF, granted);
  CloseHandle(copy);

  thread = OpenThread(THREAD_ALL_ACCESS, FALSE, GetCurrentThreadId());
  Check("OpenThread", thread != NULL, GetLastError());
  granted = Granted(thread);
  Check("OpenThread: THREAD_TERMINATE taken away",
        !(granted & THREAD_TERMINATE) && (granted & THREAD_QUERY_INFORMATION) && granted != 0xFFFFFFFF, granted);
  Check("OpenThread of no thread", OpenThread(THREAD_QUERY_INFORMATION, FALSE, 0x7FFFFFF0) == NULL &&
        GetLastError() == ERROR_INVALID_PARAMETER, GetLastError());
  CloseHandle(thread);
  CloseHandle(process);

  if (!DeviceIoControl(device, OBCB_IOCTL_STATS, NULL, 0, &stats, sizeof stats, &bytes, NULL)) {
    printf("obcb_app: STATS failed %lu\n", GetLastError());
    return 100;
  }
  Check("pre- and post-operations for each process handle",
        stats.ProcessPreCreate >= 1 && stats.ProcessPreCreate == stats.ProcessPostCreate, stats.ProcessPostCreate);
  Check("pre- and post-operations for the duplicate",
        stats.ProcessPreDuplicate == 1 && stats.ProcessPostDuplicate == 1, stats.ProcessPreDuplicate);
  Check("pre- and post-operations for the thread handle",
        stats.ThreadPreCreate >= 1 && stats.ThreadPreCreate == stats.ThreadPostCreate, stats.ThreadPreCreate);
  Check("GrantedAccess in the post-operations", stats.Stripped >= 3 && stats.PostSawStripped == 0, stats.PostSawStripped);
  Check("CallContext reaches the post-operation", stats.ContextLost == 0, stats.ContextLost);
  CloseHandle(device);
  printf("obcb_app: %d failures\n", g_failures);
  return g_failures;
}
