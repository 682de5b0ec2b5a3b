/* A program starting programs (CreateProcess on Wine's DLLs, NtCreateUserProcess underneath), and
   the handle services around it: DuplicateHandle, Get/SetHandleInformation, inheritance.
   Without an argument it runs every check, starting itself as the child with one of these:
     child-echo CODE TEXT   writes TEXT to its standard output, exits with CODE
     child-event HANDLE     sets the event its creator's handle value names (inherited)
     child-closed HANDLE    checks that a handle value it did not inherit is not valid
     child-env              exits 0 when NTBOX_CHILD_VAR is "value-42"
     child-sleep            sleeps until it is terminated
     child-console TEXT     prints TEXT with printf, exits with 7
     child-waitparent H     waits for the process H (its creator) to end, says so, exits with 4
     child-crash            writes through a bad pointer
     child-pipeclient NAME  says hello to the pipe's server, exits 0 when it answers
   Other checks:
     console     starts child-console without inheriting handles: on a console the child shares it
     newconsole  starts child-console with a console of its own, with no window, and detached
     leavechild  starts child-waitparent with a handle to itself, then ends with 3 at once
     waitchild   starts child-sleep and waits for it (until Ctrl-C ends both)
     crashchild  starts child-crash and says how it ended
     pipeserver  a named pipe's server with a child as its client: ConnectNamedPipe (in the call
                 and overlapped), PeekNamedPipe, a busy pipe, DisconnectNamedPipe
     chain N     starts "chain N+1" and waits for it: programs without end, until the machine has no
                 room for another process (the last says so); each ends with the last one's depth */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_self[MAX_PATH];
static int g_failures;

static void Check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) ++g_failures;
}

/* Starts this program with args; the handles and ids in pi. */
static BOOL Start(const char *args, BOOL inherit, DWORD flags, STARTUPINFOA *si, PROCESS_INFORMATION *pi)
{
    char line[2 * MAX_PATH];
    STARTUPINFOA plain;
    if (!si) {
        memset(&plain, 0, sizeof plain);
        plain.cb = sizeof plain;
        si = &plain;
    }
    snprintf(line, sizeof line, "\"%s\" %s", g_self, args);
    return CreateProcessA(NULL, line, NULL, NULL, inherit, flags, NULL, NULL, si, pi);
}

static DWORD WaitAndExitCode(PROCESS_INFORMATION *pi)
{
    DWORD code = 12345;
    if (WaitForSingleObject(pi->hProcess, 20000) != WAIT_OBJECT_0) return 12346;
    GetExitCodeProcess(pi->hProcess, &code);
    CloseHandle(pi->hThread);
    CloseHandle(pi->hProcess);
    return code;
}

static void Handles(void)
{
    HANDLE event = CreateEventA(NULL, TRUE, FALSE, NULL), copy = NULL, thread = NULL;
    DWORD flags = 99;
    BOOL duplicated = DuplicateHandle(GetCurrentProcess(), event, GetCurrentProcess(), &copy, 0, FALSE,
                                      DUPLICATE_SAME_ACCESS);
    Check(duplicated && copy != event && SetEvent(copy) && WaitForSingleObject(event, 0) == WAIT_OBJECT_0,
          "DuplicateHandle gives a second handle to the same event");
    Check(GetHandleInformation(copy, &flags) && flags == 0, "a new handle is neither inheritable nor protected");
    SetHandleInformation(copy, HANDLE_FLAG_INHERIT | HANDLE_FLAG_PROTECT_FROM_CLOSE,
                         HANDLE_FLAG_INHERIT | HANDLE_FLAG_PROTECT_FROM_CLOSE);
    Check(GetHandleInformation(copy, &flags) && flags == 3, "SetHandleInformation sets both flags");
    Check(!CloseHandle(copy), "a handle protected from close does not close");
    SetHandleInformation(copy, HANDLE_FLAG_PROTECT_FROM_CLOSE, 0);
    Check(CloseHandle(copy), "it closes once unprotected");
    DuplicateHandle(GetCurrentProcess(), event, GetCurrentProcess(), &copy, 0, FALSE,
                    DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE);
    Check(!GetHandleInformation(event, &flags) && ResetEvent(copy), "DUPLICATE_CLOSE_SOURCE closes the source");
    CloseHandle(copy);
    DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &thread, 0, FALSE,
                    DUPLICATE_SAME_ACCESS);
    Check(thread && GetThreadId(thread) == GetCurrentThreadId(), "the current thread's pseudo-handle duplicates");
    CloseHandle(thread);
}

static void Pipe(void)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE readEnd, writeEnd;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char text[256];
    DWORD got = 0, n = 0;
    CreatePipe(&readEnd, &writeEnd, &sa, 0);
    SetHandleInformation(readEnd, HANDLE_FLAG_INHERIT, 0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = writeEnd;
    si.hStdError = writeEnd;
    BOOL started = Start("child-echo 42 hello-from-child", TRUE, 0, &si, &pi);
    Check(started && pi.dwProcessId != GetCurrentProcessId() && GetProcessId(pi.hProcess) == pi.dwProcessId,
          "CreateProcess starts a process with an id of its own");
    CloseHandle(writeEnd);
    while (got < sizeof text - 1 && ReadFile(readEnd, text + got, sizeof text - 1 - got, &n, NULL) && n) got += n;
    text[got] = 0;
    CloseHandle(readEnd);
    Check(strcmp(text, "hello-from-child") == 0, "its output arrives through an inherited pipe, then end of file");
    Check(started && WaitAndExitCode(&pi) == 42, "waiting on the process ends with its exit code");
}

static void Inheritance(void)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE inherited = CreateEventA(&sa, TRUE, FALSE, NULL), kept = CreateEventA(NULL, TRUE, FALSE, NULL);
    PROCESS_INFORMATION pi;
    char args[64];
    snprintf(args, sizeof args, "child-event %llu", (unsigned long long)(ULONG_PTR)inherited);
    BOOL started = Start(args, TRUE, 0, NULL, &pi);
    Check(started && WaitForSingleObject(inherited, 20000) == WAIT_OBJECT_0 && WaitAndExitCode(&pi) == 0,
          "an inheritable handle is the child's at the same value");
    snprintf(args, sizeof args, "child-closed %llu", (unsigned long long)(ULONG_PTR)kept);
    started = Start(args, TRUE, 0, NULL, &pi);
    Check(started && WaitAndExitCode(&pi) == 0, "a handle that is not inheritable stays its creator's");
    CloseHandle(inherited);
    CloseHandle(kept);
    SetEnvironmentVariableA("NTBOX_CHILD_VAR", "value-42");
    started = Start("child-env", FALSE, 0, NULL, &pi);
    Check(started && WaitAndExitCode(&pi) == 0, "the child gets its creator's environment");
}

static void Ends(void)
{
    PROCESS_INFORMATION pi;
    DWORD code = 0;
    BOOL started = Start("child-sleep", FALSE, 0, NULL, &pi);
    Check(started && GetExitCodeProcess(pi.hProcess, &code) && code == STILL_ACTIVE, "a running process is STILL_ACTIVE");
    HANDLE opened = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pi.dwProcessId);
    Check(opened && GetProcessId(opened) == pi.dwProcessId, "OpenProcess finds a process by its id");
    SetLastError(0);
    Check(!TerminateProcess(opened, 1) && GetLastError() == ERROR_ACCESS_DENIED,
          "a handle without PROCESS_TERMINATE cannot end it");
    BOOL terminated = started && TerminateProcess(pi.hProcess, 99);
    code = started ? WaitAndExitCode(&pi) : 0;
    Check(terminated && code == 99, "TerminateProcess ends it with the code given");
    code = 0;
    Check(WaitForSingleObject(opened, 0) == WAIT_OBJECT_0 && GetExitCodeProcess(opened, &code) && code == 99,
          "a handle opened by id sees the end too");
    CloseHandle(opened);
    SetLastError(0);
    Check(!OpenProcess(SYNCHRONIZE, FALSE, pi.dwProcessId) && GetLastError() == ERROR_INVALID_PARAMETER,
          "an ended process cannot be opened: ERROR_INVALID_PARAMETER");
    opened = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, GetCurrentProcessId());
    Check(opened && GetProcessId(opened) == GetCurrentProcessId() && CloseHandle(opened), "a process opens itself");
    started = Start("child-echo 5 suspended", FALSE, CREATE_SUSPENDED, NULL, &pi);
    Check(started && WaitForSingleObject(pi.hProcess, 100) == WAIT_TIMEOUT, "a suspended process waits to be resumed");
    Check(started && ResumeThread(pi.hThread) == 1 && WaitAndExitCode(&pi) == 5, "resumed, it runs to its end");
    char missing[MAX_PATH + 16];
    STARTUPINFOA si = {sizeof si};
    strcpy(missing, g_self);
    strcpy(strrchr(missing, '\\') + 1, "missing.exe");
    SetLastError(0);
    Check(!CreateProcessA(missing, NULL, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi) &&
              GetLastError() == ERROR_FILE_NOT_FOUND,
          "a program that is not there: ERROR_FILE_NOT_FOUND");
    HANDLE file = CreateFileA("C:\\notpe.exe", GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    DWORD n = 0;
    WriteFile(file, "not a program", 13, &n, NULL);
    CloseHandle(file);
    SetLastError(0);
    Check(!CreateProcessA("C:\\notpe.exe", NULL, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi) &&
              GetLastError() == ERROR_BAD_EXE_FORMAT,
          "a file that is not a program: ERROR_BAD_EXE_FORMAT");
    DeleteFileA("C:\\notpe.exe");
}

int main(int argc, char **argv)
{
    GetModuleFileNameA(NULL, g_self, sizeof g_self);
    if (argc >= 4 && strcmp(argv[1], "child-echo") == 0) {
        DWORD n;
        WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), argv[3], (DWORD)strlen(argv[3]), &n, NULL);
        return atoi(argv[2]);
    }
    if (argc >= 3 && strcmp(argv[1], "child-event") == 0)
        return SetEvent((HANDLE)(ULONG_PTR)strtoull(argv[2], NULL, 10)) ? 0 : 1;
    if (argc >= 3 && strcmp(argv[1], "child-closed") == 0) {
        DWORD flags;
        return !GetHandleInformation((HANDLE)(ULONG_PTR)strtoull(argv[2], NULL, 10), &flags) &&
                       GetLastError() == ERROR_INVALID_HANDLE
                   ? 0
                   : 1;
    }
    if (argc >= 2 && strcmp(argv[1], "child-env") == 0) {
        const char *value = getenv("NTBOX_CHILD_VAR");
        return value && strcmp(value, "value-42") == 0 ? 0 : 1;
    }
    if (argc >= 2 && strcmp(argv[1], "child-sleep") == 0) {
        Sleep(INFINITE);
        return 1;
    }
    if (argc >= 3 && strcmp(argv[1], "child-console") == 0) {
        printf("%s\n", argv[2]);
        return 7;
    }
    if (argc >= 3 && strcmp(argv[1], "child-waitparent") == 0) {
        HANDLE parent = (HANDLE)(ULONG_PTR)strtoull(argv[2], NULL, 10);
        DWORD code = 0;
        WaitForSingleObject(parent, INFINITE);
        GetExitCodeProcess(parent, &code);
        printf("creator ended with %lu, child ends\n", code);
        return 4;
    }
    if (argc >= 2 && strcmp(argv[1], "leavechild") == 0) {
        HANDLE self = NULL;
        PROCESS_INFORMATION pi;
        char args[64];
        DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess(), &self, SYNCHRONIZE |
                        PROCESS_QUERY_LIMITED_INFORMATION, TRUE, 0);
        snprintf(args, sizeof args, "child-waitparent %llu", (unsigned long long)(ULONG_PTR)self);
        if (!Start(args, TRUE, 0, NULL, &pi)) return 1;
        printf("creator ends\n");
        return 3;
    }
    if (argc >= 3 && strcmp(argv[1], "chain") == 0) {
        /* Each starts the next until there are no more processes to be had, then all end. */
        PROCESS_INFORMATION pi;
        char args[32];
        int depth = atoi(argv[2]);
        snprintf(args, sizeof args, "chain %d", depth + 1);
        if (!Start(args, TRUE, 0, NULL, &pi)) {
            printf("process %d could not start another: error %lu\n", depth, GetLastError());
            return depth;
        }
        return (int)WaitAndExitCode(&pi);
    }
    if (argc >= 3 && strcmp(argv[1], "child-pipeclient") == 0) {
        char reply[32];
        DWORD n = 0;
        HANDLE pipe = CreateFileA(argv[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (pipe == INVALID_HANDLE_VALUE) return 10 + (int)GetLastError();
        if (!WriteFile(pipe, "hello server", 12, &n, NULL) || !ReadFile(pipe, reply, sizeof reply, &n, NULL)) return 2;
        return n == 12 && memcmp(reply, "hello client", 12) == 0 ? 0 : 3;
    }
    if (argc >= 2 && strcmp(argv[1], "pipeserver") == 0) {
        const char *name = "\\\\.\\pipe\\ntbox_process_app";
        char text[32], peeked[32], args[64];
        DWORD n = 0, avail = 0, left = 0, got = 0;
        PROCESS_INFORMATION pi;
        snprintf(args, sizeof args, "child-pipeclient %s", name);
        HANDLE server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
        if (server == INVALID_HANDLE_VALUE || !Start(args, FALSE, 0, NULL, &pi)) return 1;
        BOOL connected = ConnectNamedPipe(server, NULL) || GetLastError() == ERROR_PIPE_CONNECTED;
        HANDLE busy = CreateFileA(name, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
        DWORD busyError = GetLastError();
        ReadFile(server, text, 5, &n, NULL);
        BOOL peek = PeekNamedPipe(server, peeked, sizeof peeked, &got, &avail, &left);
        printf("connected %d, busy %d error %lu, read %.*s, peek %d: %lu of %lu '%.*s'\n", connected,
               busy != INVALID_HANDLE_VALUE, busyError, (int)n, text, peek, got, avail, (int)got, peeked);
        ReadFile(server, text, 7, &n, NULL);
        WriteFile(server, "hello client", 12, &n, NULL);
        printf("client ended with %lu\n", WaitAndExitCode(&pi));
        printf("disconnect %d\n", DisconnectNamedPipe(server));
        /* The same instance again, overlapped: ConnectNamedPipe pends until the next client. */
        CloseHandle(server);
        server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096,
                                  4096, 0, NULL);
        OVERLAPPED ov = {0};
        ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        BOOL at_once = ConnectNamedPipe(server, &ov);
        DWORD pending = GetLastError();
        if (!Start(args, FALSE, 0, NULL, &pi)) return 1;
        DWORD waited = WaitForSingleObject(ov.hEvent, 20000);
        BOOL result = GetOverlappedResult(server, &ov, &n, FALSE);
        printf("overlapped connect: at once %d error %lu, event %lu, result %d\n", at_once, pending, waited, result);
        OVERLAPPED io = {0};
        io.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
        BOOL r1 = ReadFile(server, text, 12, &n, &io);
        DWORD e1 = GetLastError();
        if (!r1 && e1 == ERROR_IO_PENDING) r1 = GetOverlappedResult(server, &io, &n, TRUE);
        printf("overlapped read %d %lu: %lu '%.*s'\n", r1, e1, n, (int)n, text);
        BOOL w1 = WriteFile(server, "hello client", 12, &n, &io);
        DWORD e2 = GetLastError();
        if (!w1 && e2 == ERROR_IO_PENDING) w1 = GetOverlappedResult(server, &io, &n, TRUE);
        printf("overlapped write %d %lu: %lu, event %lu\n", w1, e2, n, WaitForSingleObject(io.hEvent, 0));
        printf("client ended with %lu\n", WaitAndExitCode(&pi));
        CloseHandle(server);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "child-crash") == 0) {
        *(volatile int *)(ULONG_PTR)0x30 = 1;
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "crashchild") == 0) {
        PROCESS_INFORMATION pi;
        if (!Start("child-crash", FALSE, 0, NULL, &pi)) return 1;
        printf("child ended with %#lx\n", WaitAndExitCode(&pi));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "waitchild") == 0) {
        PROCESS_INFORMATION pi;
        DWORD code = 0;
        if (!Start("child-sleep", FALSE, 0, NULL, &pi)) return 1;
        printf("waiting\n");
        fflush(stdout);
        WaitForSingleObject(pi.hProcess, INFINITE);
        GetExitCodeProcess(pi.hProcess, &code);
        printf("child ended with %lu\n", code);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "newconsole") == 0) {
        /* A console of its own (CREATE_NEW_CONSOLE, CREATE_NO_WINDOW), and none (DETACHED_PROCESS). */
        static const DWORD flags[] = {CREATE_NEW_CONSOLE, CREATE_NO_WINDOW, DETACHED_PROCESS};
        static const char *names[] = {"new-console", "no-window", "detached"};
        for (int i = 0; i < 3; ++i) {
            PROCESS_INFORMATION pi;
            char args[64];
            snprintf(args, sizeof args, "child-console %s", names[i]);
            BOOL started = Start(args, FALSE, flags[i], NULL, &pi);
            printf("%s: started %d, exit code %lu\n", names[i], started, started ? WaitAndExitCode(&pi) : 0);
            fflush(stdout);
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "console") == 0) {
        PROCESS_INFORMATION pi;
        printf("parent before\n");
        fflush(stdout);
        BOOL started = Start("child-console from-the-child", FALSE, 0, NULL, &pi);
        DWORD code = started ? WaitAndExitCode(&pi) : 0;
        printf("parent after, child exit code %lu\n", code);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    Handles();
    Pipe();
    Inheritance();
    Ends();
    {
        /* The console's standard handles are inheritable: the child writes where its creator does. */
        PROCESS_INFORMATION pi;
        BOOL started = Start("child-console child-writes-to-stdout", TRUE, 0, NULL, &pi);
        Check(started && WaitAndExitCode(&pi) == 7, "a child inheriting the standard handles shares the output");
    }
    printf("%d failures\n", g_failures);
    return g_failures;
}
