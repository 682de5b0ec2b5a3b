/* Opens secure_device.sys's devices as a program (the machine's user: an administrator, not
   SYSTEM) and checks each DACL holds: kernel only and SYSTEM only refuse it, administrators' full
   access lets it read and write, read-and-execute lets it read only. Prints "secdev_app: NAME ok"
   or "... FAILED"; exits with the failures. */
#include <windows.h>
#include <stdio.h>

static int g_failures;

static void Expect(const char *device, DWORD access, DWORD wanted) {
  char path[64];
  HANDLE h;
  DWORD error;
  snprintf(path, sizeof path, "\\\\.\\%s", device);
  h = CreateFileA(path, access, 0, NULL, OPEN_EXISTING, 0, NULL);
  error = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  if (error == wanted) {
    printf("secdev_app: %s %s ok\n", device, access & GENERIC_WRITE ? "read-write" : "read");
  } else {
    printf("secdev_app: %s %s FAILED got %lu, want %lu\n", device, access & GENERIC_WRITE ? "read-write" : "read", error,
           wanted);
    ++g_failures;
  }
}

int main(void) {
  Expect("SecKernelOnly", GENERIC_READ, ERROR_ACCESS_DENIED);
  Expect("SecSysAll", GENERIC_READ, ERROR_ACCESS_DENIED);
  Expect("SecAdmAll", GENERIC_READ | GENERIC_WRITE, 0);
  Expect("SecAdmRx", GENERIC_READ, 0);
  Expect("SecAdmRx", GENERIC_READ | GENERIC_WRITE, ERROR_ACCESS_DENIED);
  printf("secdev_app: %d failures\n", g_failures);
  return g_failures;
}
