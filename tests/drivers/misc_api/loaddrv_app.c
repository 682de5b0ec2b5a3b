/* A program loading a driver service with NtLoadDriver, as tools that install drivers without the
   service manager do: refused until it enables SeLoadDriverPrivilege, then the driver loads and
   unloads. Prints "loaddrv_app: NAME ok" or "... FAILED"; exits with the failures. */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>

NTSTATUS NTAPI NtLoadDriver(PUNICODE_STRING DriverServiceName);
NTSTATUS NTAPI NtUnloadDriver(PUNICODE_STRING DriverServiceName);

static int g_failures;

static void Check(const char *name, int ok, unsigned long detail) {
  printf("loaddrv_app: %s %s 0x%08lx\n", name, ok ? "ok" : "FAILED", detail);
  if (!ok) ++g_failures;
}

int main(int argc, char **argv) {
  static WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\misc_target";
  UNICODE_STRING service = {sizeof path - sizeof(WCHAR), sizeof path, path};
  TOKEN_PRIVILEGES privileges;
  HANDLE token;
  NTSTATUS s;
  (void)argc;
  (void)argv;
  s = NtLoadDriver(&service);
  Check("NtLoadDriver without SeLoadDriverPrivilege", s == (NTSTATUS)0xC0000061L, (unsigned long)s);
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) return 100;
  privileges.PrivilegeCount = 1;
  privileges.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
  if (!LookupPrivilegeValueA(NULL, "SeLoadDriverPrivilege", &privileges.Privileges[0].Luid) ||
      !AdjustTokenPrivileges(token, FALSE, &privileges, sizeof privileges, NULL, NULL)) {
    printf("loaddrv_app: enabling SeLoadDriverPrivilege failed %lu\n", GetLastError());
    return 100;
  }
  CloseHandle(token);
  s = NtLoadDriver(&service);
  Check("NtLoadDriver", s == 0, (unsigned long)s);
  s = NtUnloadDriver(&service);
  Check("NtUnloadDriver", s == 0, (unsigned long)s);
  return g_failures;
}
