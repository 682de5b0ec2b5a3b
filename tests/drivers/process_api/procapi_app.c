/* The program side of process_api.sys: sends its process id, image base and the address of a text
   in its memory; prints what the driver read there from the System process, attached to it. */
#include <windows.h>
#include <stdio.h>

#define IOCTL_PROCESS_API CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct Request {
    ULONG processId;
    ULONG length;
    ULONG64 imageBase;
    ULONG64 address;
};

static char g_secret[] = "a secret in the program's memory";

int main(void)
{
    struct Request request = {GetCurrentProcessId(), sizeof g_secret, (ULONG64)(ULONG_PTR)GetModuleHandleA(NULL),
                              (ULONG64)(ULONG_PTR)g_secret};
    char read[64] = {0};
    DWORD got = 0;
    HANDLE device = CreateFileA("\\\\.\\ProcessApi", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (device == INVALID_HANDLE_VALUE) {
        printf("CreateFile failed: %lu\n", GetLastError());
        return 1;
    }
    if (!DeviceIoControl(device, IOCTL_PROCESS_API, &request, sizeof request, read, sizeof read - 1, &got, NULL)) {
        printf("DeviceIoControl failed: %lu\n", GetLastError());
        return 2;
    }
    printf("the driver read %lu bytes: %s\n", got, read);
    CloseHandle(device);
    return 0;
}
