/* The example's app: sends its argument (or "hello") to \\.\ExampleHello and prints the reply. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "hello.h"

int main(int argc, char **argv)
{
    const char *text = argc > 1 ? argv[1] : "hello";
    char reply[256] = {0};
    DWORD got = 0;
    HANDLE device = CreateFileA("\\\\.\\ExampleHello", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (device == INVALID_HANDLE_VALUE) {
        printf("CreateFile failed: %lu\n", GetLastError());
        return 1;
    }
    if (!DeviceIoControl(device, IOCTL_HELLO_REVERSE, (void *)text, (DWORD)strlen(text), reply, sizeof reply - 1,
                         &got, NULL)) {
        printf("DeviceIoControl failed: %lu\n", GetLastError());
        CloseHandle(device);
        return 1;
    }
    printf("reply: %s\n", reply);
    CloseHandle(device);
    return 0;
}
