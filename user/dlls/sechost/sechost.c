/* ntbox's sechost.dll: the service control manager API (OpenSCManager, CreateService, StartService,
   ControlService, QueryServiceStatus, EnumServicesStatusEx ...) for programs of an ntbox machine.
   Windows' sechost asks services.exe by RPC; this one sends each request to the machine's service
   control manager through \Device\ServiceControlManager (ScmProtocol.h), which runs the same code
   as `ntbox sc`, with its Win32 errors. The machine's services are drivers: a Win32 service
   process (StartServiceCtrlDispatcher) has no SCM to talk to. */
#define _ADVAPI32_ /* this DLL defines the service API rather than importing it */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <winternl.h>
#include <winsvc.h>

#include "../ScmProtocol.h"


#define HANDLE_MAGIC 0x6d637362u /* "bscm" */

struct ScHandle {
    DWORD magic;
    BOOL manager;
    DWORD access;
    WCHAR name[NTBOX_SCM_NAME];
};

static HANDLE g_device;

static BOOL Fail(DWORD error)
{
    SetLastError(error);
    return FALSE;
}

static void *Alloc(SIZE_T size) { return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size); }
static void Free(void *p) { HeapFree(GetProcessHeap(), 0, p); }

static SIZE_T Length(const WCHAR *s)
{
    SIZE_T n = 0;
    while (s[n]) ++n;
    return n;
}

static void CopyText(uint16_t *to, SIZE_T room, const WCHAR *from)
{
    SIZE_T i = 0;
    if (from)
        for (; from[i] && i + 1 < room; ++i) to[i] = from[i];
    to[i] = 0;
}

static BOOL EqualNoCase(const WCHAR *a, const WCHAR *b) { return CompareStringOrdinal(a, -1, b, -1, TRUE) == CSTR_EQUAL; }

/* The device, opened once per process. */
static HANDLE Device(void)
{
    if (!g_device) {
        UNICODE_STRING name;
        OBJECT_ATTRIBUTES attributes;
        IO_STATUS_BLOCK iosb;
        HANDLE h;
        RtlInitUnicodeString(&name, NTBOX_SCM_DEVICE);
        InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
        if (NtOpenFile(&h, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &iosb,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_SYNCHRONOUS_IO_NONALERT))
            return NULL;
        if (InterlockedCompareExchangePointer(&g_device, h, NULL)) CloseHandle(h);
    }
    return g_device;
}

/* One request; the reply's first record in *service when there is one. Returns the Win32 error. */
static DWORD Ask(DWORD operation, const WCHAR *name, struct NtboxScmRequest *filled, struct NtboxScmService *service)
{
    struct NtboxScmRequest *request = filled ? filled : Alloc(sizeof *request);
    struct NtboxScmReply *reply = Alloc(sizeof *reply);
    IO_STATUS_BLOCK iosb;
    DWORD error;
    HANDLE device = Device();
    if (!request || !reply) {
        error = ERROR_NOT_ENOUGH_MEMORY;
    } else if (!device) {
        error = RPC_S_SERVER_UNAVAILABLE;
    } else {
        NTSTATUS s;
        request->operation = operation;
        if (name) CopyText(request->name, NTBOX_SCM_NAME, name);
        s = NtDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, NTBOX_IOCTL_SCM, request, sizeof *request, reply,
                                  sizeof *reply);
        error = s ? RtlNtStatusToDosError(s) : reply->error;
        if (!error && service && reply->count) *service = reply->services[0];
    }
    if (!filled) Free(request);
    Free(reply);
    return error;
}

static struct ScHandle *HandleOf(SC_HANDLE handle, BOOL manager)
{
    struct ScHandle *h = (struct ScHandle *)handle;
    if (!h || h->magic != HANDLE_MAGIC || h->manager != manager) return NULL;
    return h;
}

static SC_HANDLE NewHandle(BOOL manager, DWORD access, const uint16_t *name)
{
    struct ScHandle *h = Alloc(sizeof *h);
    if (!h) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    h->magic = HANDLE_MAGIC;
    h->manager = manager;
    h->access = access;
    if (name) CopyText(h->name, NTBOX_SCM_NAME, (const WCHAR *)name);
    return (SC_HANDLE)h;
}

/* Generic rights as the SCM maps them; every user of the machine is an administrator. */
static DWORD ManagerAccess(DWORD access)
{
    if (access & (GENERIC_ALL | MAXIMUM_ALLOWED)) access |= SC_MANAGER_ALL_ACCESS;
    if (access & GENERIC_READ) access |= STANDARD_RIGHTS_READ | SC_MANAGER_ENUMERATE_SERVICE | SC_MANAGER_QUERY_LOCK_STATUS;
    if (access & GENERIC_WRITE) access |= STANDARD_RIGHTS_WRITE | SC_MANAGER_CREATE_SERVICE | SC_MANAGER_MODIFY_BOOT_CONFIG;
    if (access & GENERIC_EXECUTE) access |= STANDARD_RIGHTS_EXECUTE | SC_MANAGER_CONNECT | SC_MANAGER_LOCK;
    return access | SC_MANAGER_CONNECT;
}

static DWORD ServiceAccess(DWORD access)
{
    if (access & (GENERIC_ALL | MAXIMUM_ALLOWED)) access |= SERVICE_ALL_ACCESS;
    if (access & GENERIC_READ)
        access |= STANDARD_RIGHTS_READ | SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS | SERVICE_INTERROGATE |
                  SERVICE_ENUMERATE_DEPENDENTS;
    if (access & GENERIC_WRITE) access |= STANDARD_RIGHTS_WRITE | SERVICE_CHANGE_CONFIG;
    if (access & GENERIC_EXECUTE)
        access |= STANDARD_RIGHTS_EXECUTE | SERVICE_START | SERVICE_STOP | SERVICE_PAUSE_CONTINUE |
                  SERVICE_USER_DEFINED_CONTROL;
    return access;
}

/* A service handle with the right, or an error set. */
static struct ScHandle *ServiceWith(SC_HANDLE handle, DWORD right)
{
    struct ScHandle *h = HandleOf(handle, FALSE);
    if (!h) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    if ((h->access & right) != right) {
        SetLastError(ERROR_ACCESS_DENIED);
        return NULL;
    }
    return h;
}

static void FillStatus(const struct NtboxScmService *s, SERVICE_STATUS *status)
{
    status->dwServiceType = s->type;
    status->dwCurrentState = s->state;
    status->dwControlsAccepted = s->controlsAccepted;
    status->dwWin32ExitCode = s->win32ExitCode;
    status->dwServiceSpecificExitCode = s->serviceExitCode;
    status->dwCheckPoint = 0;
    status->dwWaitHint = 0;
}

/* ANSI arguments: converted to UTF-16 copies the caller frees (NULL stays NULL). */
static WCHAR *Wide(const char *s)
{
    int n;
    WCHAR *w;
    if (!s) return NULL;
    n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    w = Alloc(n * sizeof(WCHAR));
    if (w) MultiByteToWideChar(CP_ACP, 0, s, -1, w, n);
    return w;
}

/* --- The manager ---------------------------------------------------------------------------- */

SC_HANDLE WINAPI OpenSCManagerW(const WCHAR *machine, const WCHAR *database, DWORD access)
{
    if (machine && machine[0] && !(machine[0] == '.' && !machine[1])) {
        SetLastError(RPC_S_SERVER_UNAVAILABLE); /* another computer: ntbox reaches none */
        return NULL;
    }
    if (database && !EqualNoCase(database, SERVICES_ACTIVE_DATABASEW)) {
        SetLastError(EqualNoCase(database, SERVICES_FAILED_DATABASEW) ? ERROR_DATABASE_DOES_NOT_EXIST
                                                                       : ERROR_INVALID_NAME);
        return NULL;
    }
    if (!Device()) {
        SetLastError(RPC_S_SERVER_UNAVAILABLE);
        return NULL;
    }
    return NewHandle(TRUE, ManagerAccess(access), NULL);
}

SC_HANDLE WINAPI OpenSCManagerA(const char *machine, const char *database, DWORD access)
{
    WCHAR *m = Wide(machine), *d = Wide(database);
    SC_HANDLE h = OpenSCManagerW(m, d, access);
    Free(m);
    Free(d);
    return h;
}

BOOL WINAPI CloseServiceHandle(SC_HANDLE handle)
{
    struct ScHandle *h = (struct ScHandle *)handle;
    if (!h || h->magic != HANDLE_MAGIC) return Fail(ERROR_INVALID_HANDLE);
    h->magic = 0;
    Free(h);
    return TRUE;
}

/* --- Services ------------------------------------------------------------------------------- */

SC_HANDLE WINAPI OpenServiceW(SC_HANDLE manager, const WCHAR *name, DWORD access)
{
    struct NtboxScmService service;
    DWORD error;
    if (!HandleOf(manager, TRUE)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    if (!name) {
        SetLastError(ERROR_INVALID_ADDRESS);
        return NULL;
    }
    error = Ask(NTBOX_SCM_QUERY, name, NULL, &service);
    if (error) {
        SetLastError(error);
        return NULL;
    }
    return NewHandle(FALSE, ServiceAccess(access), service.name);
}

SC_HANDLE WINAPI OpenServiceA(SC_HANDLE manager, const char *name, DWORD access)
{
    WCHAR *n = Wide(name);
    SC_HANDLE h = OpenServiceW(manager, n, access);
    Free(n);
    return h;
}

SC_HANDLE WINAPI CreateServiceW(SC_HANDLE manager, const WCHAR *name, const WCHAR *displayName, DWORD access,
                                DWORD type, DWORD start, DWORD errorControl, const WCHAR *binaryPath,
                                const WCHAR *group, DWORD *tagId, const WCHAR *dependencies, const WCHAR *startName,
                                const WCHAR *password)
{
    struct ScHandle *m = HandleOf(manager, TRUE);
    struct NtboxScmRequest *request;
    struct NtboxScmService service;
    DWORD error;
    (void)dependencies; /* drivers here start on demand or at boot, in no order another service imposes */
    (void)startName;
    (void)password;
    if (!m) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    if (!(m->access & SC_MANAGER_CREATE_SERVICE)) {
        SetLastError(ERROR_ACCESS_DENIED);
        return NULL;
    }
    if (!name || !binaryPath) {
        SetLastError(name ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS);
        return NULL;
    }
    if (tagId) *tagId = 0;
    request = Alloc(sizeof *request);
    if (!request) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    request->type = type;
    request->start = start;
    request->errorControl = errorControl;
    CopyText(request->displayName, NTBOX_SCM_NAME, displayName);
    CopyText(request->imagePath, NTBOX_SCM_PATH, binaryPath);
    CopyText(request->group, NTBOX_SCM_NAME, group);
    error = Ask(NTBOX_SCM_CREATE, name, request, &service);
    Free(request);
    if (error) {
        SetLastError(error);
        return NULL;
    }
    return NewHandle(FALSE, ServiceAccess(access), service.name);
}

SC_HANDLE WINAPI CreateServiceA(SC_HANDLE manager, const char *name, const char *displayName, DWORD access, DWORD type,
                                DWORD start, DWORD errorControl, const char *binaryPath, const char *group,
                                DWORD *tagId, const char *dependencies, const char *startName, const char *password)
{
    WCHAR *n = Wide(name), *d = Wide(displayName), *b = Wide(binaryPath), *g = Wide(group);
    SC_HANDLE h;
    (void)dependencies;
    (void)startName;
    (void)password;
    h = CreateServiceW(manager, n, d, access, type, start, errorControl, b, g, tagId, NULL, NULL, NULL);
    Free(n);
    Free(d);
    Free(b);
    Free(g);
    return h;
}

BOOL WINAPI StartServiceW(SC_HANDLE handle, DWORD argc, const WCHAR **argv)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_START);
    DWORD error;
    (void)argc; /* a driver's DriverEntry takes no arguments */
    (void)argv;
    if (!h) return FALSE;
    error = Ask(NTBOX_SCM_START, h->name, NULL, NULL);
    return error ? Fail(error) : TRUE;
}

BOOL WINAPI StartServiceA(SC_HANDLE handle, DWORD argc, const char **argv)
{
    (void)argv;
    return StartServiceW(handle, argc, NULL);
}

BOOL WINAPI QueryServiceStatus(SC_HANDLE handle, SERVICE_STATUS *status)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_QUERY_STATUS);
    struct NtboxScmService service;
    DWORD error;
    if (!h) return FALSE;
    if (!status) return Fail(ERROR_INVALID_ADDRESS);
    error = Ask(NTBOX_SCM_QUERY, h->name, NULL, &service);
    if (error) return Fail(error);
    FillStatus(&service, status);
    return TRUE;
}

BOOL WINAPI QueryServiceStatusEx(SC_HANDLE handle, SC_STATUS_TYPE level, BYTE *buffer, DWORD size, DWORD *needed)
{
    SERVICE_STATUS_PROCESS *status = (SERVICE_STATUS_PROCESS *)buffer;
    if (level != SC_STATUS_PROCESS_INFO) return Fail(ERROR_INVALID_LEVEL);
    if (!needed) return Fail(ERROR_INVALID_ADDRESS);
    *needed = sizeof *status;
    if (size < sizeof *status) return Fail(ERROR_INSUFFICIENT_BUFFER);
    if (!QueryServiceStatus(handle, (SERVICE_STATUS *)status)) return FALSE;
    status->dwProcessId = 0; /* drivers run in the System process, as Windows reports them */
    status->dwServiceFlags = 0;
    return TRUE;
}

BOOL WINAPI ControlService(SC_HANDLE handle, DWORD control, SERVICE_STATUS *status)
{
    struct ScHandle *h = HandleOf(handle, FALSE);
    struct NtboxScmService service;
    DWORD error, right;
    if (!h) return Fail(ERROR_INVALID_HANDLE);
    switch (control) {
    case SERVICE_CONTROL_STOP: right = SERVICE_STOP; break;
    case SERVICE_CONTROL_PAUSE:
    case SERVICE_CONTROL_CONTINUE:
    case SERVICE_CONTROL_PARAMCHANGE:
    case SERVICE_CONTROL_NETBINDADD:
    case SERVICE_CONTROL_NETBINDREMOVE:
    case SERVICE_CONTROL_NETBINDENABLE:
    case SERVICE_CONTROL_NETBINDDISABLE: right = SERVICE_PAUSE_CONTINUE; break;
    case SERVICE_CONTROL_INTERROGATE: right = SERVICE_INTERROGATE; break;
    default:
        if (control < 128 || control > 255) return Fail(ERROR_INVALID_PARAMETER);
        right = SERVICE_USER_DEFINED_CONTROL;
        break;
    }
    if ((h->access & right) != right) return Fail(ERROR_ACCESS_DENIED);
    if (!status) return Fail(ERROR_INVALID_ADDRESS);
    if (control == SERVICE_CONTROL_STOP) {
        error = Ask(NTBOX_SCM_STOP, h->name, NULL, &service);
        if (!error) {
            FillStatus(&service, status);
            return TRUE;
        }
    } else {
        error = Ask(NTBOX_SCM_QUERY, h->name, NULL, &service);
        if (error) return Fail(error);
        if (service.state == SERVICE_STOPPED) {
            error = ERROR_SERVICE_NOT_ACTIVE;
        } else if (control == SERVICE_CONTROL_INTERROGATE) {
            FillStatus(&service, status);
            return TRUE;
        } else {
            error = ERROR_INVALID_SERVICE_CONTROL; /* a driver takes stop and nothing else */
        }
    }
    /* Refused controls still report where the service is, as Windows' SCM does. */
    if (error == ERROR_INVALID_SERVICE_CONTROL || error == ERROR_SERVICE_CANNOT_ACCEPT_CTRL ||
        error == ERROR_SERVICE_NOT_ACTIVE) {
        if (!Ask(NTBOX_SCM_QUERY, h->name, NULL, &service)) FillStatus(&service, status);
    }
    return Fail(error);
}

BOOL WINAPI DeleteService(SC_HANDLE handle)
{
    struct ScHandle *h = ServiceWith(handle, DELETE);
    DWORD error;
    if (!h) return FALSE;
    error = Ask(NTBOX_SCM_DELETE, h->name, NULL, NULL);
    return error ? Fail(error) : TRUE;
}

/* The string fields of a QUERY_SERVICE_CONFIG (A and W lay them out alike), in the order they are
   packed after it. */
static void ConfigStrings(QUERY_SERVICE_CONFIGW *config, WCHAR **slots[5])
{
    slots[0] = &config->lpBinaryPathName;
    slots[1] = &config->lpLoadOrderGroup;
    slots[2] = &config->lpDependencies;
    slots[3] = &config->lpServiceStartName;
    slots[4] = &config->lpDisplayName;
}

/* QUERY_SERVICE_CONFIGW with its strings after it. */
BOOL WINAPI QueryServiceConfigW(SC_HANDLE handle, QUERY_SERVICE_CONFIGW *config, DWORD size, DWORD *needed)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_QUERY_CONFIG);
    struct NtboxScmService service;
    const WCHAR *strings[5];
    WCHAR **slots[5];
    DWORD error, total = sizeof *config, i;
    WCHAR *at;
    if (!h) return FALSE;
    if (!needed) return Fail(ERROR_INVALID_ADDRESS);
    error = Ask(NTBOX_SCM_QUERY, h->name, NULL, &service);
    if (error) return Fail(error);
    strings[0] = (const WCHAR *)service.imagePath;
    strings[1] = (const WCHAR *)service.group;
    strings[2] = L"";                              /* no dependencies: an empty list */
    strings[3] = L"";                              /* a driver has no account to run as */
    strings[4] = (const WCHAR *)service.displayName;
    for (i = 0; i < 5; ++i) total += (DWORD)(Length(strings[i]) + 1) * sizeof(WCHAR);
    total += sizeof(WCHAR); /* the dependency list's second terminator */
    *needed = total;
    if (!config || size < total) return Fail(ERROR_INSUFFICIENT_BUFFER);
    config->dwServiceType = service.type;
    config->dwStartType = service.start;
    config->dwErrorControl = service.errorControl;
    config->dwTagId = 0;
    ConfigStrings(config, slots);
    at = (WCHAR *)(config + 1);
    for (i = 0; i < 5; ++i) {
        SIZE_T n = Length(strings[i]) + 1;
        *slots[i] = at;
        CopyMemory(at, strings[i], n * sizeof(WCHAR));
        at += n;
        if (i == 2) *at++ = 0;
    }
    return TRUE;
}

BOOL WINAPI QueryServiceConfigA(SC_HANDLE handle, QUERY_SERVICE_CONFIGA *config, DWORD size, DWORD *needed)
{
    DWORD wideNeeded = 0, total = sizeof *config, i;
    QUERY_SERVICE_CONFIGW *wide;
    WCHAR **wideSlots[5], **slots[5];
    char *at;
    if (!needed) return Fail(ERROR_INVALID_ADDRESS);
    if (!QueryServiceConfigW(handle, NULL, 0, &wideNeeded) && GetLastError() != ERROR_INSUFFICIENT_BUFFER) return FALSE;
    wide = Alloc(wideNeeded);
    if (!wide) return Fail(ERROR_NOT_ENOUGH_MEMORY);
    if (!QueryServiceConfigW(handle, wide, wideNeeded, &wideNeeded)) {
        Free(wide);
        return FALSE;
    }
    ConfigStrings(wide, wideSlots);
    for (i = 0; i < 5; ++i) total += WideCharToMultiByte(CP_ACP, 0, *wideSlots[i], -1, NULL, 0, NULL, NULL);
    ++total;
    *needed = total;
    if (!config || size < total) {
        Free(wide);
        return Fail(ERROR_INSUFFICIENT_BUFFER);
    }
    config->dwServiceType = wide->dwServiceType;
    config->dwStartType = wide->dwStartType;
    config->dwErrorControl = wide->dwErrorControl;
    config->dwTagId = 0;
    ConfigStrings((QUERY_SERVICE_CONFIGW *)config, slots);
    at = (char *)(config + 1);
    for (i = 0; i < 5; ++i) {
        int n = WideCharToMultiByte(CP_ACP, 0, *wideSlots[i], -1, at, (int)(total - (at - (char *)config)), NULL, NULL);
        *(char **)slots[i] = at;
        at += n;
        if (i == 2) *at++ = 0;
    }
    Free(wide);
    return TRUE;
}

/* A service's description (SERVICE_CONFIG_DESCRIPTION, the key's Description value); failure
   actions concern service processes, which the machine does not run: a service has none. */
BOOL WINAPI QueryServiceConfig2W(SC_HANDLE handle, DWORD level, BYTE *buffer, DWORD size, DWORD *needed)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_QUERY_CONFIG);
    struct NtboxScmService service;
    DWORD want, error, chars;
    if (!h) return FALSE;
    if (!needed) return Fail(ERROR_INVALID_ADDRESS);
    if (level == SERVICE_CONFIG_FAILURE_ACTIONS) {
        *needed = sizeof(SERVICE_FAILURE_ACTIONSW);
        if (!buffer || size < *needed) return Fail(ERROR_INSUFFICIENT_BUFFER);
        ZeroMemory(buffer, *needed);
        return TRUE;
    }
    if (level != SERVICE_CONFIG_DESCRIPTION) return Fail(ERROR_INVALID_LEVEL);
    error = Ask(NTBOX_SCM_QUERY, h->name, NULL, &service);
    if (error) return Fail(error);
    chars = (DWORD)Length((const WCHAR *)service.description);
    want = sizeof(SERVICE_DESCRIPTIONW) + (chars ? (chars + 1) * sizeof(WCHAR) : 0);
    *needed = want;
    if (!buffer || size < want) return Fail(ERROR_INSUFFICIENT_BUFFER);
    ZeroMemory(buffer, want);
    if (chars) {
        WCHAR *text = (WCHAR *)(buffer + sizeof(SERVICE_DESCRIPTIONW));
        CopyMemory(text, service.description, (chars + 1) * sizeof(WCHAR));
        ((SERVICE_DESCRIPTIONW *)buffer)->lpDescription = text;
    }
    return TRUE;
}

BOOL WINAPI QueryServiceConfig2A(SC_HANDLE handle, DWORD level, BYTE *buffer, DWORD size, DWORD *needed)
{
    DWORD wideNeeded = 0, want;
    BYTE *wide;
    const WCHAR *text;
    int chars = 0;
    if (level != SERVICE_CONFIG_DESCRIPTION) return QueryServiceConfig2W(handle, level, buffer, size, needed);
    if (!needed) return Fail(ERROR_INVALID_ADDRESS);
    if (!QueryServiceConfig2W(handle, level, NULL, 0, &wideNeeded) && GetLastError() != ERROR_INSUFFICIENT_BUFFER)
        return FALSE;
    wide = Alloc(wideNeeded);
    if (!wide) return Fail(ERROR_NOT_ENOUGH_MEMORY);
    if (!QueryServiceConfig2W(handle, level, wide, wideNeeded, &wideNeeded)) {
        Free(wide);
        return FALSE;
    }
    text = ((SERVICE_DESCRIPTIONW *)wide)->lpDescription;
    if (text) chars = WideCharToMultiByte(CP_ACP, 0, text, -1, NULL, 0, NULL, NULL);
    want = sizeof(SERVICE_DESCRIPTIONA) + (DWORD)chars;
    *needed = want;
    if (!buffer || size < want) {
        Free(wide);
        return Fail(ERROR_INSUFFICIENT_BUFFER);
    }
    ZeroMemory(buffer, want);
    if (text) {
        char *to = (char *)(buffer + sizeof(SERVICE_DESCRIPTIONA));
        WideCharToMultiByte(CP_ACP, 0, text, -1, to, chars, NULL, NULL);
        ((SERVICE_DESCRIPTIONA *)buffer)->lpDescription = to;
    }
    Free(wide);
    return TRUE;
}

BOOL WINAPI ChangeServiceConfigW(SC_HANDLE handle, DWORD type, DWORD start, DWORD errorControl,
                                 const WCHAR *binaryPath, const WCHAR *group, DWORD *tagId, const WCHAR *dependencies,
                                 const WCHAR *startName, const WCHAR *password, const WCHAR *displayName)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_CHANGE_CONFIG);
    struct NtboxScmRequest *request;
    DWORD error;
    (void)dependencies;
    (void)startName;
    (void)password;
    if (!h) return FALSE;
    if (tagId) *tagId = 0;
    request = Alloc(sizeof *request);
    if (!request) return Fail(ERROR_NOT_ENOUGH_MEMORY);
    request->type = type;
    request->start = start;
    request->errorControl = errorControl;
    if (displayName) {
        request->has |= NTBOX_SCM_HAS_DISPLAY_NAME;
        CopyText(request->displayName, NTBOX_SCM_NAME, displayName);
    }
    if (binaryPath) {
        request->has |= NTBOX_SCM_HAS_IMAGE_PATH;
        CopyText(request->imagePath, NTBOX_SCM_PATH, binaryPath);
    }
    if (group) {
        request->has |= NTBOX_SCM_HAS_GROUP;
        CopyText(request->group, NTBOX_SCM_NAME, group);
    }
    error = Ask(NTBOX_SCM_CHANGE, h->name, request, NULL);
    Free(request);
    return error ? Fail(error) : TRUE;
}

BOOL WINAPI ChangeServiceConfigA(SC_HANDLE handle, DWORD type, DWORD start, DWORD errorControl, const char *binaryPath,
                                 const char *group, DWORD *tagId, const char *dependencies, const char *startName,
                                 const char *password, const char *displayName)
{
    WCHAR *b = Wide(binaryPath), *g = Wide(group), *d = Wide(displayName);
    BOOL ok;
    (void)dependencies;
    (void)startName;
    (void)password;
    ok = ChangeServiceConfigW(handle, type, start, errorControl, b, g, tagId, NULL, NULL, NULL, d);
    Free(b);
    Free(g);
    Free(d);
    return ok;
}

BOOL WINAPI ChangeServiceConfig2W(SC_HANDLE handle, DWORD level, void *info)
{
    struct ScHandle *h = ServiceWith(handle, SERVICE_CHANGE_CONFIG);
    const SERVICE_DESCRIPTIONW *description = info;
    struct NtboxScmRequest *request;
    DWORD error;
    if (!h) return FALSE;
    /* Only descriptions are kept: the other levels concern service processes. */
    if (level != SERVICE_CONFIG_DESCRIPTION) return Fail(ERROR_CALL_NOT_IMPLEMENTED);
    if (!info) return Fail(ERROR_INVALID_ADDRESS);
    if (!description->lpDescription) return TRUE; /* NULL: no change */
    if (Length(description->lpDescription) >= NTBOX_SCM_PATH) return Fail(ERROR_INVALID_PARAMETER);
    request = Alloc(sizeof *request);
    if (!request) return Fail(ERROR_NOT_ENOUGH_MEMORY);
    request->type = request->start = request->errorControl = NTBOX_SCM_NO_CHANGE;
    request->has = NTBOX_SCM_HAS_DESCRIPTION;
    CopyText(request->description, NTBOX_SCM_PATH, description->lpDescription);
    error = Ask(NTBOX_SCM_CHANGE, h->name, request, NULL);
    Free(request);
    return error ? Fail(error) : TRUE;
}

BOOL WINAPI ChangeServiceConfig2A(SC_HANDLE handle, DWORD level, void *info)
{
    SERVICE_DESCRIPTIONW wide;
    BOOL ok;
    if (level != SERVICE_CONFIG_DESCRIPTION || !info) return ChangeServiceConfig2W(handle, level, info);
    wide.lpDescription = Wide(((SERVICE_DESCRIPTIONA *)info)->lpDescription);
    ok = ChangeServiceConfig2W(handle, level, &wide);
    Free(wide.lpDescription);
    return ok;
}

/* --- Enumeration and names ------------------------------------------------------------------ */

static BOOL Matches(const struct NtboxScmService *s, DWORD type, DWORD state, const WCHAR *group)
{
    if (!(s->type & type)) return FALSE;
    if (!(state & (s->state == SERVICE_STOPPED ? SERVICE_INACTIVE : SERVICE_ACTIVE))) return FALSE;
    if (group && !EqualNoCase(group, (const WCHAR *)s->group)) return FALSE;
    return TRUE;
}

/* Every driver service (the reply is the caller's to free), or NULL with an error set. */
static struct NtboxScmReply *Enumerate(void)
{
    DWORD room = 64;
    for (;;) {
        DWORD size = (DWORD)(offsetof(struct NtboxScmReply, services) + room * sizeof(struct NtboxScmService));
        struct NtboxScmRequest *request = Alloc(sizeof *request);
        struct NtboxScmReply *reply = Alloc(size);
        IO_STATUS_BLOCK iosb;
        NTSTATUS s;
        if (!request || !reply || !Device()) {
            Free(request);
            Free(reply);
            SetLastError(Device() ? ERROR_NOT_ENOUGH_MEMORY : RPC_S_SERVER_UNAVAILABLE);
            return NULL;
        }
        request->operation = NTBOX_SCM_ENUMERATE;
        s = NtDeviceIoControlFile(Device(), NULL, NULL, NULL, &iosb, NTBOX_IOCTL_SCM, request, sizeof *request, reply,
                                  size);
        Free(request);
        if (!s && reply->error == ERROR_MORE_DATA) {
            room = reply->count;
            Free(reply);
            continue;
        }
        if (s || reply->error) {
            SetLastError(s ? RtlNtStatusToDosError(s) : reply->error);
            Free(reply);
            return NULL;
        }
        return reply;
    }
}

BOOL WINAPI EnumServicesStatusExW(SC_HANDLE manager, SC_ENUM_TYPE level, DWORD type, DWORD state, BYTE *buffer,
                                  DWORD size, DWORD *needed, DWORD *returned, DWORD *resume, const WCHAR *group)
{
    struct ScHandle *m = HandleOf(manager, TRUE);
    ENUM_SERVICE_STATUS_PROCESSW *out = (ENUM_SERVICE_STATUS_PROCESSW *)buffer;
    struct NtboxScmReply *all;
    DWORD i, start = resume ? *resume : 0, fitted = 0, used = 0, more = 0;
    BYTE *strings = buffer + size;
    if (!m) return Fail(ERROR_INVALID_HANDLE);
    if (level != SC_ENUM_PROCESS_INFO) return Fail(ERROR_INVALID_LEVEL);
    if (!(m->access & SC_MANAGER_ENUMERATE_SERVICE)) return Fail(ERROR_ACCESS_DENIED);
    if (!needed || !returned) return Fail(ERROR_INVALID_ADDRESS);
    if (!type || !state || (state & ~SERVICE_STATE_ALL)) return Fail(ERROR_INVALID_PARAMETER);
    all = Enumerate();
    if (!all) return FALSE;
    /* Records from the front of the buffer, their strings from its end, as Windows lays them out. */
    for (i = start; i < all->count; ++i) {
        const struct NtboxScmService *s = &all->services[i];
        DWORD nameBytes, displayBytes, record;
        if (!Matches(s, type, state, group)) continue;
        nameBytes = (DWORD)(Length((const WCHAR *)s->name) + 1) * sizeof(WCHAR);
        displayBytes = (DWORD)(Length((const WCHAR *)s->displayName) + 1) * sizeof(WCHAR);
        record = sizeof *out + nameBytes + displayBytes;
        if (more || used + record > size) {
            more += record;
            continue;
        }
        strings -= nameBytes;
        CopyMemory(strings, s->name, nameBytes);
        out[fitted].lpServiceName = (WCHAR *)strings;
        strings -= displayBytes;
        CopyMemory(strings, s->displayName, displayBytes);
        out[fitted].lpDisplayName = (WCHAR *)strings;
        FillStatus(s, (SERVICE_STATUS *)&out[fitted].ServiceStatusProcess);
        out[fitted].ServiceStatusProcess.dwProcessId = 0;
        out[fitted].ServiceStatusProcess.dwServiceFlags = 0;
        used += record;
        ++fitted;
        if (resume) *resume = i + 1;
    }
    Free(all);
    *returned = fitted;
    *needed = more;
    if (more) return Fail(ERROR_MORE_DATA);
    if (resume) *resume = 0;
    return TRUE;
}

/* The machine's drivers depend on no other service. */
BOOL WINAPI EnumDependentServicesW(SC_HANDLE handle, DWORD state, ENUM_SERVICE_STATUSW *services, DWORD size,
                                   DWORD *needed, DWORD *returned)
{
    (void)state;
    (void)services;
    (void)size;
    if (!ServiceWith(handle, SERVICE_ENUMERATE_DEPENDENTS)) return FALSE;
    if (!needed || !returned) return Fail(ERROR_INVALID_ADDRESS);
    *needed = 0;
    *returned = 0;
    return TRUE;
}

static BOOL ReturnName(const uint16_t *name, WCHAR *buffer, DWORD *chars)
{
    DWORD n = (DWORD)Length((const WCHAR *)name);
    if (!chars) return Fail(ERROR_INVALID_ADDRESS);
    if (!buffer || *chars <= n) {
        if (buffer && *chars) buffer[0] = 0;
        *chars = n;
        return Fail(ERROR_INSUFFICIENT_BUFFER);
    }
    CopyMemory(buffer, name, (n + 1) * sizeof(WCHAR));
    *chars = n;
    return TRUE;
}

BOOL WINAPI GetServiceDisplayNameW(SC_HANDLE manager, const WCHAR *name, WCHAR *displayName, DWORD *chars)
{
    struct NtboxScmService service;
    DWORD error;
    if (!HandleOf(manager, TRUE)) return Fail(ERROR_INVALID_HANDLE);
    if (!name) return Fail(ERROR_INVALID_ADDRESS);
    error = Ask(NTBOX_SCM_QUERY, name, NULL, &service);
    if (error) return Fail(error);
    return ReturnName(service.displayName, displayName, chars);
}

BOOL WINAPI GetServiceKeyNameW(SC_HANDLE manager, const WCHAR *displayName, WCHAR *name, DWORD *chars)
{
    struct NtboxScmReply *all;
    DWORD i;
    if (!HandleOf(manager, TRUE)) return Fail(ERROR_INVALID_HANDLE);
    if (!displayName) return Fail(ERROR_INVALID_ADDRESS);
    all = Enumerate();
    if (!all) return FALSE;
    for (i = 0; i < all->count; ++i) {
        if (EqualNoCase(displayName, (const WCHAR *)all->services[i].displayName)) {
            BOOL ok = ReturnName(all->services[i].name, name, chars);
            Free(all);
            return ok;
        }
    }
    Free(all);
    return Fail(ERROR_SERVICE_DOES_NOT_EXIST);
}

/* --- What only a Win32 service process or a security tool would use ------------------------- */

DWORD WINAPI NotifyServiceStatusChangeW(SC_HANDLE handle, DWORD mask, SERVICE_NOTIFYW *notify)
{
    (void)handle;
    (void)mask;
    (void)notify;
    return ERROR_CALL_NOT_IMPLEMENTED;
}

BOOL WINAPI QueryServiceObjectSecurity(SC_HANDLE handle, SECURITY_INFORMATION info, PSECURITY_DESCRIPTOR sd, DWORD size,
                                       DWORD *needed)
{
    (void)handle;
    (void)info;
    (void)sd;
    (void)size;
    (void)needed;
    return Fail(ERROR_CALL_NOT_IMPLEMENTED);
}

BOOL WINAPI SetServiceObjectSecurity(SC_HANDLE handle, SECURITY_INFORMATION info, PSECURITY_DESCRIPTOR sd)
{
    (void)handle;
    (void)info;
    (void)sd;
    return Fail(ERROR_CALL_NOT_IMPLEMENTED);
}

/* The machine's SCM starts drivers only: no process is ever started as a service to connect. */
BOOL WINAPI StartServiceCtrlDispatcherW(const SERVICE_TABLE_ENTRYW *table)
{
    (void)table;
    return Fail(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT);
}

BOOL WINAPI StartServiceCtrlDispatcherA(const SERVICE_TABLE_ENTRYA *table)
{
    (void)table;
    return Fail(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT);
}

SERVICE_STATUS_HANDLE WINAPI RegisterServiceCtrlHandlerExW(const WCHAR *name, LPHANDLER_FUNCTION_EX handler,
                                                           void *context)
{
    (void)name;
    (void)handler;
    (void)context;
    SetLastError(ERROR_SERVICE_DOES_NOT_EXIST);
    return 0;
}

SERVICE_STATUS_HANDLE WINAPI RegisterServiceCtrlHandlerExA(const char *name, LPHANDLER_FUNCTION_EX handler,
                                                           void *context)
{
    (void)name;
    return RegisterServiceCtrlHandlerExW(NULL, handler, context);
}

SERVICE_STATUS_HANDLE WINAPI RegisterServiceCtrlHandlerW(const WCHAR *name, LPHANDLER_FUNCTION handler)
{
    (void)handler;
    return RegisterServiceCtrlHandlerExW(name, NULL, NULL);
}

SERVICE_STATUS_HANDLE WINAPI RegisterServiceCtrlHandlerA(const char *name, LPHANDLER_FUNCTION handler)
{
    (void)name;
    (void)handler;
    return RegisterServiceCtrlHandlerExW(NULL, NULL, NULL);
}

BOOL WINAPI SetServiceStatus(SERVICE_STATUS_HANDLE handle, SERVICE_STATUS *status)
{
    (void)handle;
    (void)status;
    return Fail(ERROR_INVALID_HANDLE);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) DisableThreadLibraryCalls(instance);
    return TRUE;
}
