// The kernel debugger in a program's own code (tests/e2e/KdTest.cpp): a breakpoint in Marker,
// its locals and stack, and a second thread that counts without pause unless the machine is
// frozen. With "spin", main counts itself until the debugger sets g_stop (a break-in's target).
#include <stdio.h>
#include <string.h>
#include <windows.h>

volatile LONG g_counter;
volatile LONG g_stop;

static DWORD WINAPI Count(LPVOID unused) {
  (void)unused;
  while (!g_stop) InterlockedIncrement(&g_counter);
  return 0;
}

__declspec(noinline) int Marker(int value) {
  int doubled = value * 2;
  printf("marker %d\n", doubled);
  return doubled;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "spin") == 0) {
    printf("spinning\n");
    fflush(stdout);
    while (!g_stop) g_counter++;
    printf("stopped\n");
    return 0;
  }
  HANDLE thread = CreateThread(NULL, 0, Count, NULL, 0, NULL);
  // The counting thread runs before the breakpoint is reached.
  while (g_counter < 1000) Sleep(0);
  const int total = Marker(21);
  g_stop = 1;
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
  printf("total %d\n", total);
  return 0;
}
