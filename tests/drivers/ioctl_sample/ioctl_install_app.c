/* Seed 002's whole flow, as Microsoft's IOCTL sample app does it: the device is not there, so the
   program finds its driver (ioctl_sample.sys) in its current directory, installs and starts it
   through the service control manager API, sends one IOCTL per transfer method, then stops and
   deletes the service. Also, with "errors": the SCM's refusals a careful installer meets. */
#include <windows.h>
#include <winioctl.h>
#include <stdio.h>
#include <string.h>

#include "ioctl_shared.h"

#define SERVICE_NAME "SIoctl" /* the sample's DRIVER_NAME */
#define DRIVER_FILE "ioctl_sample.sys"

static int Fail(const char *what)
{
    printf("Error: %s failed: %lu\n", what, GetLastError());
    return 1;
}

static int Install(SC_HANDLE manager, const char *path)
{
    SC_HANDLE service = CreateServiceA(manager, SERVICE_NAME, SERVICE_NAME, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                                       SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL, NULL, NULL);
    if (!service) {
        if (GetLastError() != ERROR_SERVICE_EXISTS) return Fail("CreateService");
        printf("The service exists already\n");
        service = OpenServiceA(manager, SERVICE_NAME, SERVICE_ALL_ACCESS);
        if (!service) return Fail("OpenService");
    } else {
        printf("Installed %s from %s\n", SERVICE_NAME, path);
    }
    if (!StartServiceA(service, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
        Fail("StartService");
        CloseServiceHandle(service);
        return 1;
    }
    SERVICE_STATUS status;
    if (!QueryServiceStatus(service, &status)) return Fail("QueryServiceStatus");
    printf("Started: state %lu, controls accepted %lu\n", status.dwCurrentState, status.dwControlsAccepted);
    CloseServiceHandle(service);
    return 0;
}

static int Remove(SC_HANDLE manager)
{
    SERVICE_STATUS status;
    SC_HANDLE service = OpenServiceA(manager, SERVICE_NAME, SERVICE_ALL_ACCESS);
    if (!service) return Fail("OpenService");
    if (!ControlService(service, SERVICE_CONTROL_STOP, &status)) return Fail("ControlService");
    printf("Stopped: state %lu\n", status.dwCurrentState);
    if (!DeleteService(service)) return Fail("DeleteService");
    CloseServiceHandle(service);
    printf("Removed %s\n", SERVICE_NAME);
    return 0;
}

static int SendIoctls(HANDLE device)
{
    static const struct {
        const char *name;
        DWORD code;
    } methods[] = {
        {"METHOD_IN_DIRECT", IOCTL_SIOCTL_METHOD_IN_DIRECT},
        {"METHOD_OUT_DIRECT", IOCTL_SIOCTL_METHOD_OUT_DIRECT},
        {"METHOD_NEITHER", IOCTL_SIOCTL_METHOD_NEITHER},
        {"METHOD_BUFFERED", IOCTL_SIOCTL_METHOD_BUFFERED},
    };
    for (int i = 0; i < 4; ++i) {
        char message[128], output[100];
        DWORD returned = 0;
        const BOOL inDirect = methods[i].code == IOCTL_SIOCTL_METHOD_IN_DIRECT;
        snprintf(message, sizeof message, "This String is from User Application; using %s", methods[i].name);
        memset(output, 0, sizeof output);
        if (inDirect) snprintf(output, sizeof output, "Second input, read by the driver through an MDL");
        printf("Calling DeviceIoControl %s:\n", methods[i].name);
        if (!DeviceIoControl(device, methods[i].code, message, (DWORD)strlen(message) + 1, output,
                             inDirect ? (DWORD)strlen(output) + 1 : sizeof output, &returned, NULL))
            return Fail("DeviceIoControl");
        if (inDirect)
            printf("    InBuffer (%lu) read by the driver: %s\n", returned, output);
        else
            printf("    OutBuffer (%lu): %s\n", returned, output);
    }
    return 0;
}

/* One line a call: ok, or the error GetLastError gave right after it. */
static void Report(const char *what, BOOL ok)
{
    DWORD error = GetLastError();
    if (ok)
        printf("%s: ok\n", what);
    else
        printf("%s: error %lu\n", what, error);
}

/* What the SCM refuses, with Windows' codes. */
static int Errors(SC_HANDLE manager)
{
    char path[MAX_PATH];
    SC_HANDLE service, again, readOnly;
    SERVICE_STATUS status;
    GetCurrentDirectoryA(sizeof path, path);
    strcat(path, "\\" DRIVER_FILE);
    Report("OpenService(missing)", OpenServiceA(manager, "NoSuchService", SERVICE_ALL_ACCESS) != NULL);
    Report("CreateService(bad name)",
           CreateServiceA(manager, "Bad\\Name", NULL, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START,
                          SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL, NULL, NULL) != NULL);
    service = CreateServiceA(manager, "ErrorsDemo", NULL, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                             SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL, NULL, NULL);
    Report("CreateService", service != NULL);
    again = CreateServiceA(manager, "errorsdemo", NULL, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                           SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL, NULL, NULL);
    Report("CreateService(again, any case)", again != NULL);
    Report("ControlService(stop, not started)", ControlService(service, SERVICE_CONTROL_STOP, &status));
    readOnly = OpenServiceA(manager, "ErrorsDemo", SERVICE_QUERY_STATUS);
    Report("StartService(query-only handle)", StartServiceA(readOnly, 0, NULL));
    CloseServiceHandle(readOnly);
    Report("StartService", StartServiceA(service, 0, NULL));
    Report("StartService(again)", StartServiceA(service, 0, NULL));
    Report("ControlService(pause)", ControlService(service, SERVICE_CONTROL_PAUSE, &status));
    printf("  state after the refused pause: %lu\n", status.dwCurrentState);

    DWORD needed = 0, count = 0, resume = 0;
    BYTE buffer[4096];
    ENUM_SERVICE_STATUS_PROCESSA *list = (ENUM_SERVICE_STATUS_PROCESSA *)buffer;
    Report("EnumServicesStatusEx(active drivers)",
           EnumServicesStatusExA(manager, SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_ACTIVE, buffer, sizeof buffer,
                                 &needed, &count, &resume, NULL));
    for (DWORD i = 0; i < count; ++i)
        printf("  %s (%s), state %lu\n", list[i].lpServiceName, list[i].lpDisplayName,
               list[i].ServiceStatusProcess.dwCurrentState);
    char config[1024];
    QUERY_SERVICE_CONFIGA *qc = (QUERY_SERVICE_CONFIGA *)config;
    Report("QueryServiceConfig(no room)", QueryServiceConfigA(service, qc, 8, &needed));
    Report("QueryServiceConfig", QueryServiceConfigA(service, qc, sizeof config, &needed));
    printf("  type %lu, start %lu, path %s, display name %s\n", qc->dwServiceType, qc->dwStartType,
           qc->lpBinaryPathName, qc->lpDisplayName);
    Report("ChangeServiceConfig(disabled, new display name)",
           ChangeServiceConfigA(service, SERVICE_NO_CHANGE, SERVICE_DISABLED, SERVICE_NO_CHANGE, NULL, NULL, NULL,
                                NULL, NULL, NULL, "Errors demo"));
    SERVICE_DESCRIPTIONA description = {"Shows the service API's errors"};
    Report("ChangeServiceConfig2(description)", ChangeServiceConfig2A(service, SERVICE_CONFIG_DESCRIPTION, &description));
    Report("QueryServiceConfig2(no room)", QueryServiceConfig2A(service, SERVICE_CONFIG_DESCRIPTION, (BYTE *)config, 4,
                                                                &needed));
    printf("  needs %lu\n", needed);
    Report("QueryServiceConfig2", QueryServiceConfig2A(service, SERVICE_CONFIG_DESCRIPTION, (BYTE *)config,
                                                       sizeof config, &needed));
    printf("  %s\n", ((SERVICE_DESCRIPTIONA *)config)->lpDescription);
    Report("ChangeServiceConfig2(delayed auto-start)",
           ChangeServiceConfig2A(service, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &description));
    char display[64];
    DWORD chars = sizeof display;
    Report("GetServiceDisplayName", GetServiceDisplayNameA(manager, "ErrorsDemo", display, &chars));
    printf("  %s\n", display);
    Report("DeleteService(running)", DeleteService(service));
    Report("DeleteService(again)", DeleteService(service));
    Report("ControlService(stop)", ControlService(service, SERVICE_CONTROL_STOP, &status));
    printf("  state %lu\n", status.dwCurrentState);
    CloseServiceHandle(service);
    Report("OpenService(deleted)", OpenServiceA(manager, "ErrorsDemo", SERVICE_ALL_ACCESS) != NULL);
    Report("CloseServiceHandle(NULL)", CloseServiceHandle(NULL));
    return 0;
}

int main(int argc, char **argv)
{
    SC_HANDLE manager = OpenSCManagerA(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!manager) return Fail("OpenSCManager");
    if (argc > 1 && strcmp(argv[1], "errors") == 0) return Errors(manager);

    HANDLE device = CreateFileA(SIOCTL_WIN32_NAME, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                                FILE_ATTRIBUTE_NORMAL, NULL);
    if (device == INVALID_HANDLE_VALUE) {
        char path[MAX_PATH];
        if (GetLastError() != ERROR_FILE_NOT_FOUND) return Fail("CreateFile");
        /* The driver sits beside the program, in the current directory. */
        if (!GetCurrentDirectoryA(sizeof path - sizeof DRIVER_FILE - 1, path)) return Fail("GetCurrentDirectory");
        strcat(path, "\\" DRIVER_FILE);
        if (GetFileAttributesA(path) == INVALID_FILE_ATTRIBUTES) {
            printf("%s is not in the current directory\n", DRIVER_FILE);
            return 1;
        }
        if (Install(manager, path)) return 1;
        device = CreateFileA(SIOCTL_WIN32_NAME, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL, NULL);
        if (device == INVALID_HANDLE_VALUE) return Fail("CreateFile");
    }
    int failed = SendIoctls(device);
    CloseHandle(device);
    if (Remove(manager)) failed = 1;
    CloseServiceHandle(manager);
    return failed;
}
