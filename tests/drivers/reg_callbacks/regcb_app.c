/* Drives reg_callbacks.sys through the Win32 registry API: a value the guard refuses, a key it
   redirects, a value it answers itself, a key it will not let go, and what the lower routine heard.
   Prints "regcb_app: NAME ok" or "... FAILED"; exits with the failures. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "regcb_shared.h"

static int g_failures;

static void Check(const char *name, int ok, unsigned long detail) {
  if (ok) {
    printf("regcb_app: %s ok\n", name);
  } else {
    printf("regcb_app: %s FAILED %lu\n", name, detail);
    ++g_failures;
  }
}

int main(void) {
  HKEY key, target, redirected, protectedKey;
  DWORD dword = 5, type = 0, size, bytes;
  char text[64];
  LONG r;
  HANDLE device;
  REGCB_STATS stats;

  r = RegCreateKeyExA(HKEY_LOCAL_MACHINE, REGCB_KEY, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL);
  Check("RegCreateKeyEx of the watched key", r == ERROR_SUCCESS, (unsigned long)r);
  if (r != ERROR_SUCCESS) return 100;
  r = RegSetValueExA(key, "Allowed", 0, REG_SZ, (const BYTE *)"yes", 4);
  Check("a value the guard allows", r == ERROR_SUCCESS, (unsigned long)r);
  r = RegSetValueExA(key, "Blocked", 0, REG_DWORD, (const BYTE *)&dword, sizeof dword);
  Check("a value the guard refuses: ERROR_ACCESS_DENIED", r == ERROR_ACCESS_DENIED, (unsigned long)r);
  size = sizeof dword;
  r = RegQueryValueExA(key, "Blocked", NULL, &type, (BYTE *)&dword, &size);
  Check("the refused value was never written", r == ERROR_FILE_NOT_FOUND, (unsigned long)r);

  r = RegCreateKeyExA(key, "Target", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &target, NULL);
  if (r == ERROR_SUCCESS) {
    RegSetValueExA(target, "Where", 0, REG_SZ, (const BYTE *)"target", 7);
    RegCloseKey(target);
  }
  r = RegOpenKeyExA(HKEY_LOCAL_MACHINE, REGCB_KEY "\\Redirected", 0, KEY_READ, &redirected);
  Check("opening a key that does not exist, redirected", r == ERROR_SUCCESS, (unsigned long)r);
  if (r == ERROR_SUCCESS) {
    size = sizeof text;
    memset(text, 0, sizeof text);
    r = RegQueryValueExA(redirected, "Where", NULL, &type, (BYTE *)text, &size);
    Check("the redirected key is the target", r == ERROR_SUCCESS && strcmp(text, "target") == 0, (unsigned long)r);
    RegCloseKey(redirected);
  }

  size = sizeof dword;
  dword = 0;
  r = RegQueryValueExA(key, "Virtual", NULL, &type, (BYTE *)&dword, &size);
  Check("a value the guard answers itself", r == ERROR_SUCCESS && type == REG_DWORD && dword == 1234,
        (unsigned long)dword);

  r = RegCreateKeyExA(key, "Protected", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &protectedKey, NULL);
  if (r == ERROR_SUCCESS) RegCloseKey(protectedKey);
  r = RegDeleteKeyA(key, "Protected");
  Check("a key the guard keeps: ERROR_ACCESS_DENIED", r == ERROR_ACCESS_DENIED, (unsigned long)r);
  r = RegOpenKeyExA(key, "Protected", 0, KEY_READ, &protectedKey);
  Check("the kept key is still there", r == ERROR_SUCCESS, (unsigned long)r);
  if (r == ERROR_SUCCESS) RegCloseKey(protectedKey);
  RegCloseKey(key);

  device = CreateFileA("\\\\.\\RegCallbacks", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (device == INVALID_HANDLE_VALUE ||
      !DeviceIoControl(device, REGCB_IOCTL_STATS, NULL, 0, &stats, sizeof stats, &bytes, NULL)) {
    printf("regcb_app: STATS failed %lu\n", GetLastError());
    return 100;
  }
  CloseHandle(device);
  Check("the guard refused three operations", stats.Blocked == 3, stats.Blocked);
  Check("the guard redirected an open", stats.Redirected == 1, stats.Redirected);
  Check("the guard answered a query", stats.Virtualized == 1, stats.Virtualized);
  Check("the lower routine heard a post for every pre", stats.ObserverPre >= 2 && stats.ObserverPre == stats.ObserverPost,
        stats.ObserverPost);
  Check("object contexts reach later notifications", stats.ContextsSeen >= 2, stats.ContextsSeen);
  Check("call contexts reach the post-notification", stats.CallContexts >= 1, stats.CallContexts);
  Check("key names are full \\REGISTRY names", stats.WrongName == 0, stats.WrongName);
  printf("regcb_app: %d failures\n", g_failures);
  return g_failures;
}
