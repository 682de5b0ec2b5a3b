/* The app for ioctl_sample.sys, as seed 002's ioctlapp.exe uses sioctl.sys: open \\.\IoctlTest,
   send one IOCTL per transfer method and print each reply. With "badbuffers" it also sends the
   requests Windows refuses (NULL or short buffers, kernel addresses for METHOD_NEITHER) and
   prints the error each one gets; with "fault" it asks the driver to crash. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "ioctl_shared.h"

static const struct {
  const char* name;
  DWORD code;
} kMethods[] = {
    {"METHOD_IN_DIRECT", IOCTL_SIOCTL_METHOD_IN_DIRECT},
    {"METHOD_OUT_DIRECT", IOCTL_SIOCTL_METHOD_OUT_DIRECT},
    {"METHOD_NEITHER", IOCTL_SIOCTL_METHOD_NEITHER},
    {"METHOD_BUFFERED", IOCTL_SIOCTL_METHOD_BUFFERED},
};

static int Call(HANDLE device, const char* what, DWORD code, void* in, DWORD inLength, void* out, DWORD outLength) {
  DWORD returned = 0;
  if (DeviceIoControl(device, code, in, inLength, out, outLength, &returned, NULL)) {
    printf("  %-34s ok, %lu bytes\n", what, returned);
    return 0;
  }
  printf("  %-34s error %lu\n", what, GetLastError());
  return 1;
}

int main(int argc, char** argv) {
  char input[] = "This String is from User Application; using ";
  char output[100];
  HANDLE device = CreateFileA(SIOCTL_WIN32_NAME, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, NULL);
  if (device == INVALID_HANDLE_VALUE) {
    printf("Error: CreateFile %s failed: %lu\n", SIOCTL_WIN32_NAME, GetLastError());
    return 1;
  }
  for (int i = 0; i < 4; ++i) {
    char message[128];
    DWORD returned = 0;
    const BOOL inDirect = kMethods[i].code == IOCTL_SIOCTL_METHOD_IN_DIRECT;
    snprintf(message, sizeof message, "%s%s", input, kMethods[i].name);
    memset(output, 0, sizeof output);
    /* METHOD_IN_DIRECT: the "output" buffer is a second input the driver reads through an MDL. */
    if (inDirect) snprintf(output, sizeof output, "Second input, read by the driver through an MDL");
    printf("Calling DeviceIoControl %s:\n", kMethods[i].name);
    if (!DeviceIoControl(device, kMethods[i].code, message, (DWORD)strlen(message) + 1, output,
                         inDirect ? (DWORD)strlen(output) + 1 : sizeof output, &returned, NULL)) {
      printf("Error in DeviceIoControl: %lu\n", GetLastError());
      CloseHandle(device);
      return 1;
    }
    if (inDirect) printf("    InBuffer (%lu) read by the driver: %s\n", returned, output);
    else printf("    OutBuffer (%lu): %s\n", returned, output);
  }
  if (argc > 1 && strcmp(argv[1], "badbuffers") == 0) {
    void* kernel = (void*)(ULONG_PTR)0xFFFFF80000001000ull;
    printf("Bad buffers:\n");
    Call(device, "BUFFERED, NULL output", IOCTL_SIOCTL_METHOD_BUFFERED, input, sizeof input, NULL, 100);
    Call(device, "IN_DIRECT, NULL output", IOCTL_SIOCTL_METHOD_IN_DIRECT, input, sizeof input, NULL, 100);
    Call(device, "OUT_DIRECT, kernel output", IOCTL_SIOCTL_METHOD_OUT_DIRECT, input, sizeof input, kernel, 100);
    Call(device, "BUFFERED, kernel input", IOCTL_SIOCTL_METHOD_BUFFERED, kernel, 16, output, sizeof output);
    Call(device, "BUFFERED, no buffers", IOCTL_SIOCTL_METHOD_BUFFERED, NULL, 0, NULL, 0);
    Call(device, "unknown IOCTL", CTL_CODE(SIOCTL_TYPE, 0x950, METHOD_BUFFERED, FILE_ANY_ACCESS), input, sizeof input,
         output, sizeof output);
  }
  if (argc > 1 && strcmp(argv[1], "neither") == 0) {
    /* METHOD_NEITHER hands the driver raw addresses: only a driver that probes inside
       __try/__except (the clang build) survives these. */
    void* kernel = (void*)(ULONG_PTR)0xFFFFF80000001000ull;
    void* unmapped = (void*)(ULONG_PTR)0x10000;
    printf("Bad METHOD_NEITHER buffers:\n");
    Call(device, "NEITHER, kernel input", IOCTL_SIOCTL_METHOD_NEITHER, kernel, 16, output, sizeof output);
    Call(device, "NEITHER, kernel output", IOCTL_SIOCTL_METHOD_NEITHER, input, sizeof input, kernel, 100);
    Call(device, "NEITHER, unmapped input", IOCTL_SIOCTL_METHOD_NEITHER, unmapped, 16, output, sizeof output);
    Call(device, "NEITHER, unmapped output", IOCTL_SIOCTL_METHOD_NEITHER, input, sizeof input, unmapped, 100);
    Call(device, "NEITHER, good buffers again", IOCTL_SIOCTL_METHOD_NEITHER, input, sizeof input, output,
         sizeof output);
  }
  if (argc > 1 && strcmp(argv[1], "fault") == 0) {
    DWORD returned = 0;
    printf("Asking the driver to fault\n");
    fflush(stdout);
    DeviceIoControl(device, IOCTL_SIOCTL_FAULT, input, sizeof input, output, sizeof output, &returned, NULL);
    printf("DeviceIoControl returned: %lu\n", GetLastError());
  }
  CloseHandle(device);
  return 0;
}
