/* A console program that exercises the Win32 user mode ntbox provides, one behaviour per first
   argument, so a test can check each one's output and exit code. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int Args(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
  printf("cmdline=%s\n", GetCommandLineA());
  return 0;
}

static int Streams(void) {
  printf("to stdout %d %s %5.2f %I64x\n", 42, "text", 3.14159, 0x123456789abcull);
  fprintf(stderr, "to stderr %ld\n", -7L);
  fflush(stdout);
  DWORD written = 0;
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), "WriteFile\n", 10, &written, NULL);
  WriteConsoleA(GetStdHandle(STD_OUTPUT_HANDLE), "WriteConsoleA\n", 14, &written, NULL);
  puts("puts");
  putchar('!');
  putchar('\n');
  return 3;
}

static int Echo(void) {
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, stdin)) printf("%d: %s", ++n, line);
  printf("lines=%d\n", n);
  return 0;
}

static int Memory(void) {
  char* blocks[64];
  for (int i = 0; i < 64; ++i) {
    blocks[i] = malloc(16 + i * 1000);
    memset(blocks[i], i, 16 + i * 1000);
  }
  int ok = 1;
  for (int i = 0; i < 64; ++i) ok &= blocks[i][i * 1000] == i;
  for (int i = 0; i < 64; i += 2) free(blocks[i]);
  char* big = calloc(1, 8 << 20);
  big = realloc(big, 16 << 20);
  big[(16 << 20) - 1] = 1;
  free(big);
  void* v = VirtualAlloc(NULL, 1 << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  ((char*)v)[12345] = 7;
  VirtualFree(v, 0, MEM_RELEASE);
  HANDLE heap = GetProcessHeap();
  int* h = HeapAlloc(heap, HEAP_ZERO_MEMORY, 400);
  ok &= h[99] == 0;
  HeapFree(heap, 0, h);
  /* Everything the app gets lies below MmUserProbeAddress, as on Windows. */
  int stackVariable = 0;
  printf("user addresses: %s\n",
         (ULONG_PTR)blocks[1] < 0x7FFFFFFF0000ull && (ULONG_PTR)&stackVariable < 0x7FFFFFFF0000ull &&
                 (ULONG_PTR)v < 0x7FFFFFFF0000ull
             ? "yes"
             : "no");
  printf("memory %s\n", ok ? "ok" : "corrupt");
  return ok ? 0 : 1;
}

static int Time(void) {
  LARGE_INTEGER f, a, b;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&a);
  DWORD t0 = GetTickCount();
  ULONGLONG t1 = GetTickCount64();
  Sleep(1);
  QueryPerformanceCounter(&b);
  printf("frequency %lld, counter advanced %s, ticks %s\n", f.QuadPart, b.QuadPart > a.QuadPart ? "yes" : "no",
         t1 >= t0 ? "sane" : "odd");
  return 0;
}

static int Errors(void) {
  HANDLE h = CreateFileA("\\\\.\\NoSuchDevice", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
  printf("open missing device: %s, error %lu\n", h == INVALID_HANDLE_VALUE ? "failed" : "opened", GetLastError());
  SetLastError(1234);
  printf("SetLastError: %lu\n", GetLastError());
  BOOL closed = CloseHandle((HANDLE)(ULONG_PTR)0x1230);
  printf("CloseHandle(bogus): %d, error %lu\n", closed, GetLastError());
  return 0;
}

static int Events(void) {
  HANDLE e = CreateEventA(NULL, TRUE, FALSE, NULL);
  printf("wait unsignaled: %lu\n", WaitForSingleObject(e, 0));
  SetEvent(e);
  printf("wait signaled: %lu\n", WaitForSingleObject(e, INFINITE));
  ResetEvent(e);
  printf("wait reset: %lu\n", WaitForSingleObject(e, 1));
  CloseHandle(e);
  return 0;
}

static int Exit(int code) {
  printf("exiting with %d\n", code);
  exit(code);
  return 99;
}

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "args";
  if (!strcmp(what, "args")) return Args(argc, argv);
  if (!strcmp(what, "streams")) return Streams();
  if (!strcmp(what, "echo")) return Echo();
  if (!strcmp(what, "memory")) return Memory();
  if (!strcmp(what, "time")) return Time();
  if (!strcmp(what, "errors")) return Errors();
  if (!strcmp(what, "events")) return Events();
  if (!strcmp(what, "exit")) return Exit(argc > 2 ? atoi(argv[2]) : 0);
  if (!strcmp(what, "exitprocess")) ExitProcess(0xC0DE);
  if (!strcmp(what, "crash")) {
    printf("about to write through NULL\n");
    fflush(stdout);
    *(volatile int*)0 = 1;
  }
  if (!strcmp(what, "kernelwrite")) *(volatile int*)(ULONG_PTR)0xFFFFF80000001000ull = 1;
  if (!strcmp(what, "abort")) abort();
  if (!strcmp(what, "spin") || !strcmp(what, "hold")) {
    /* hold: keep a handle on ioctl_sample's device while spinning (Ctrl-C must close it). */
    if (!strcmp(what, "hold") &&
        CreateFileA("\\\\.\\IoctlTest", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE) {
      printf("cannot open \\\\.\\IoctlTest: %lu\n", GetLastError());
      return 1;
    }
    printf("spinning\n");
    fflush(stdout);
    for (volatile unsigned long long i = 0;; ++i) {
    }
  }
  fprintf(stderr, "unknown test '%s'\n", what);
  return 2;
}
