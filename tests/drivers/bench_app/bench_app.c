/* IOCTL round trips from a Win32 program: METHOD_BUFFERED, 64 bytes in and out, one thread,
   against bench_driver.sys's \\.\NtboxBench echo. Prints its own measurement (QPC). */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <stdlib.h>

#define IOCTL_BENCH_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 1000000;
  char in[64], out[64];
  DWORD returned = 0;
  LARGE_INTEGER frequency, start, end;
  HANDLE device = CreateFileA("\\\\.\\NtboxBench", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (device == INVALID_HANDLE_VALUE) {
    printf("CreateFile failed: %lu\n", GetLastError());
    return 1;
  }
  for (int i = 0; i < 64; ++i) in[i] = (char)i;
  for (long i = 0; i < 1000; ++i) DeviceIoControl(device, IOCTL_BENCH_ECHO, in, 64, out, 64, &returned, NULL);
  QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&start);
  for (long i = 0; i < iterations; ++i) {
    if (!DeviceIoControl(device, IOCTL_BENCH_ECHO, in, 64, out, 64, &returned, NULL) || returned != 64) {
      printf("DeviceIoControl failed at %ld: %lu\n", i, GetLastError());
      return 1;
    }
  }
  QueryPerformanceCounter(&end);
  const double seconds = (double)(end.QuadPart - start.QuadPart) / (double)frequency.QuadPart;
  printf("round_trips %ld seconds %.6f calls_per_second %.0f ns_per_call %.1f\n", iterations, seconds,
         iterations / seconds, seconds * 1e9 / iterations);
  CloseHandle(device);
  return 0;
}
