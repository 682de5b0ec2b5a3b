/* Named objects from a program on Wine's DLLs: events it shares with named_objects.sys
   (Global\NtboxDriverEvent the driver made, Global\NtboxProgramEvent it makes for the driver), and
   its own session's names: existing names, another type's name, names that go with their handles,
   a named semaphore two threads open. Prints one line a check; exits with the failures' count. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "named_objects.h"

static int g_failed;

static void Check(int ok, const char *what)
{
    DWORD error = GetLastError();
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) {
        printf("  (error %lu)\n", error);
        ++g_failed;
    }
}

static DWORD WINAPI Opener(void *arg)
{
    HANDLE s = OpenSemaphoreA(SEMAPHORE_MODIFY_STATE | SYNCHRONIZE, FALSE, "NtboxWork");
    (void)arg;
    if (!s) return 1;
    ReleaseSemaphore(s, 2, NULL);
    CloseHandle(s);
    return 0;
}

int main(void)
{
    DWORD bytes;
    HANDLE device = CreateFileA(NAMED_WIN32, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    Check(device != INVALID_HANDLE_VALUE, "open the driver's device");

    HANDLE driverEvent = OpenEventA(SYNCHRONIZE, FALSE, "Global\\NtboxDriverEvent");
    Check(driverEvent != NULL, "OpenEvent(Global\\NtboxDriverEvent), the driver's");
    Check(WaitForSingleObject(driverEvent, 0) == WAIT_TIMEOUT, "not signaled yet");
    Check(DeviceIoControl(device, IOCTL_SIGNAL_DRIVER_EVENT, NULL, 0, NULL, 0, &bytes, NULL), "the driver signals it");
    Check(WaitForSingleObject(driverEvent, 0) == WAIT_OBJECT_0, "the program sees it signaled");

    HANDLE programEvent = CreateEventA(NULL, TRUE, FALSE, "Global\\NtboxProgramEvent");
    Check(programEvent != NULL && GetLastError() == 0, "CreateEvent(Global\\NtboxProgramEvent)");
    Check(DeviceIoControl(device, IOCTL_SIGNAL_PROGRAM_EVENT, NULL, 0, NULL, 0, &bytes, NULL),
          "the driver opens it by name and sets it");
    Check(WaitForSingleObject(programEvent, 0) == WAIT_OBJECT_0, "the program sees it set");

    HANDLE first = CreateEventA(NULL, FALSE, FALSE, "NtboxLocal");
    HANDLE second = CreateEventA(NULL, FALSE, FALSE, "NtboxLocal");
    Check(first && second && GetLastError() == ERROR_ALREADY_EXISTS, "a second CreateEvent opens the first");
    SetEvent(first);
    Check(WaitForSingleObject(second, 0) == WAIT_OBJECT_0, "one event behind both handles");
    Check(CreateMutexA(NULL, FALSE, "NtboxLocal") == NULL && GetLastError() == ERROR_INVALID_HANDLE,
          "a mutex cannot take an event's name");
    Check(OpenEventA(SYNCHRONIZE, FALSE, "Global\\NtboxLocal") == NULL && GetLastError() == ERROR_FILE_NOT_FOUND,
          "the session's names are not the machine's");
    CloseHandle(first);
    CloseHandle(second);
    Check(OpenEventA(SYNCHRONIZE, FALSE, "NtboxLocal") == NULL && GetLastError() == ERROR_FILE_NOT_FOUND,
          "the name goes with the last handle");

    HANDLE shared = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, "Global\\NtboxSharedMemory");
    char *view = shared ? MapViewOfFile(shared, FILE_MAP_ALL_ACCESS, 0, 0, 0) : NULL;
    Check(view && strcmp(view, "written by the driver") == 0, "the driver's shared memory, mapped");
    char seen[64] = "";
    if (view) strcpy(view + PROGRAM_TEXT_AT, "written by the program");
    Check(DeviceIoControl(device, IOCTL_READ_SHARED, NULL, 0, seen, sizeof seen, &bytes, NULL) &&
              strcmp(seen, "written by the program") == 0,
          "the driver reads what the program wrote");
    if (view) UnmapViewOfFile(view);
    CloseHandle(shared);

    HANDLE mapping = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 8192, "NtboxLocalMap");
    char *one = mapping ? MapViewOfFile(mapping, FILE_MAP_WRITE, 0, 0, 0) : NULL;
    HANDLE again = OpenFileMappingA(FILE_MAP_READ, FALSE, "NtboxLocalMap");
    const char *two = again ? MapViewOfFile(again, FILE_MAP_READ, 0, 0, 4096) : NULL;
    if (one) strcpy(one, "one memory");
    Check(one && two && one != two && strcmp(two, "one memory") == 0, "two views of a named mapping share it");
    UnmapViewOfFile(one);
    UnmapViewOfFile(two);
    CloseHandle(mapping);
    CloseHandle(again);

    HANDLE work = CreateSemaphoreA(NULL, 0, 10, "NtboxWork");
    HANDLE thread = CreateThread(NULL, 0, Opener, NULL, 0, NULL);
    WaitForSingleObject(thread, INFINITE);
    Check(WaitForSingleObject(work, 0) == WAIT_OBJECT_0 && WaitForSingleObject(work, 0) == WAIT_OBJECT_0 &&
              WaitForSingleObject(work, 0) == WAIT_TIMEOUT,
          "a named semaphore another thread opened and released");
    printf("%d failed\n", g_failed);
    return g_failed;
}
