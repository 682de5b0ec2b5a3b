// The console from a program (run on a pseudo-terminal by the tests): _getch with the arrow keys,
// ReadConsoleW and ReadFile in line mode, modes, the screen buffer, the title, code pages, and Ctrl-C
// as a console control event (a handler that takes it, the default that ends the program).
#include <conio.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

static volatile LONG g_events = -1;

static BOOL WINAPI Handler(DWORD event) {
  InterlockedExchange(&g_events, (LONG)event);
  return TRUE;
}

static ULONGLONG Ticks(FILETIME t) { return ((ULONGLONG)t.dwHighDateTime << 32) | t.dwLowDateTime; }

// Spins until GetThreadTimes says this thread has used ms milliseconds of CPU (or 5 s have passed:
// times that never grow fail the checks, they do not hang the test).
static void Spin(int ms) {
  const ULONGLONG deadline = GetTickCount64() + 5000;
  FILETIME created, exited, kernel, user;
  do GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user);
  while (Ticks(user) + Ticks(kernel) < (ULONGLONG)ms * 10000 && GetTickCount64() < deadline);
}

static DWORD WINAPI Spinner(void* arg) {
  (void)arg;
  Spin(60);
  return 0;
}

static int Fail(const char* what) {
  printf("FAILED: %s (error %lu)\n", what, GetLastError());
  return 1;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "getch")) {
    printf("ready\n");
    // Three keys: a letter, Up (0xE0 then its scan code), Enter ('\r').
    int codes[4];
    for (int i = 0; i < 4; ++i) codes[i] = _getch();
    printf("getch %d %d %d %d\n", codes[0], codes[1], codes[2], codes[3]);
    DWORD m = 0;
    GetConsoleMode(in, &m);
    printf("mode after _getch 0x%lx\n", m);
    return 0;
  }
  if (!strcmp(mode, "line")) {
    printf("ready\n");
    WCHAR wide[64];
    DWORD n = 0;
    if (!ReadConsoleW(in, wide, 64, &n, NULL)) return Fail("ReadConsoleW");
    printf("ReadConsoleW %lu:", n);
    for (DWORD i = 0; i < n; ++i) printf(" %x", wide[i]);
    printf("\n");
    char bytes[64];
    if (!ReadFile(in, bytes, sizeof bytes, &n, NULL)) return Fail("ReadFile");
    printf("ReadFile %lu: %.*s|\n", n, (int)(n > 2 ? n - 2 : 0), bytes);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return Fail("fgets");
    printf("fgets: %s", line);
    return 0;
  }
  if (!strcmp(mode, "info")) {
    DWORD m = 0;
    printf("GetFileType in %lu out %lu\n", GetFileType(in), GetFileType(out));
    if (!GetConsoleMode(in, &m)) return Fail("GetConsoleMode(in)");
    printf("input mode 0x%lx\n", m);
    if (!GetConsoleMode(out, &m)) return Fail("GetConsoleMode(out)");
    printf("output mode 0x%lx\n", m);
    CONSOLE_SCREEN_BUFFER_INFO info;
    if (!GetConsoleScreenBufferInfo(out, &info)) return Fail("GetConsoleScreenBufferInfo");
    printf("screen %dx%d window %d..%d attr 0x%x\n", info.dwSize.X, info.dwSize.Y, info.srWindow.Left,
           info.srWindow.Right, info.wAttributes);
    if (!SetConsoleTitleA("ntbox console test")) return Fail("SetConsoleTitle");
    char title[64];
    if (!GetConsoleTitleA(title, sizeof title)) return Fail("GetConsoleTitle");
    printf("title %s\n", title);
    printf("code pages %u %u\n", GetConsoleCP(), GetConsoleOutputCP());
    DWORD written = 0;
    const WCHAR* text = L"WriteConsoleW \x00e9t\x00e9\n";
    if (!WriteConsoleW(out, text, (DWORD)wcslen(text), &written, NULL)) return Fail("WriteConsoleW");
    printf("wrote %lu\n", written);
    HANDLE conout = CreateFileA("CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                                OPEN_EXISTING, 0, NULL);
    if (conout == INVALID_HANDLE_VALUE) return Fail("CreateFile(CONOUT$)");
    if (!WriteFile(conout, "through CONOUT$\n", 16, &written, NULL)) return Fail("WriteFile(CONOUT$)");
    CloseHandle(conout);
    if (!SetConsoleTextAttribute(out, FOREGROUND_RED | FOREGROUND_INTENSITY)) return Fail("SetConsoleTextAttribute");
    printf("red\n");
    SetConsoleTextAttribute(out, FOREGROUND_RED | FOREGROUND_GREEN | FOREGROUND_BLUE);
    // A file is not a console.
    HANDLE file = CreateFileA("C:\\console_app.tmp", GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                              FILE_FLAG_DELETE_ON_CLOSE, NULL);
    if (file == INVALID_HANDLE_VALUE) return Fail("CreateFile(C:\\console_app.tmp)");
    const BOOL isConsole = GetConsoleMode(file, &m);
    printf("file GetConsoleMode %d error %lu\n", isConsole, GetLastError());
    CloseHandle(file);
    return 0;
  }
  if (!strcmp(mode, "handler")) {
    if (!SetConsoleCtrlHandler(Handler, TRUE)) return Fail("SetConsoleCtrlHandler");
    // A control event the program raises itself reaches its handler too.
    if (!GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)) return Fail("GenerateConsoleCtrlEvent");
    while (g_events < 0) Sleep(1);
    printf("generated event %ld\n", g_events);
    g_events = -1;
    printf("waiting\n");
    while (g_events < 0) Sleep(1);
    printf("handled event %ld\n", g_events);
    return 3;
  }
  if (!strcmp(mode, "default")) {
    printf("waiting\n");
    Sleep(INFINITE);
    return 0;
  }
  if (!strcmp(mode, "pipein")) {
    // stdin a pipe: ReadFile waits for the writer without holding up the machine.
    printf("reading\n");
    char buffer[64];
    DWORD n = 0;
    if (!ReadFile(in, buffer, sizeof buffer, &n, NULL)) return Fail("ReadFile(stdin)");
    printf("read %lu: %.*s\n", n, (int)n, buffer);
    return 0;
  }
  if (!strcmp(mode, "pipes")) {
    // An anonymous pipe: a pipe to GetFileType, data through it, a broken pipe once the writer goes.
    HANDLE r, w;
    char buffer[64];
    DWORD n = 0;
    if (!CreatePipe(&r, &w, NULL, 0)) return Fail("CreatePipe");
    printf("GetFileType %lu\n", GetFileType(r));
    if (!WriteFile(w, "through a pipe", 14, &n, NULL)) return Fail("WriteFile(pipe)");
    if (!ReadFile(r, buffer, sizeof buffer, &n, NULL)) return Fail("ReadFile(pipe)");
    printf("read %lu: %.*s\n", n, (int)n, buffer);
    CloseHandle(w);
    const BOOL ok = ReadFile(r, buffer, sizeof buffer, &n, NULL);
    printf("after the writer closed: %d error %lu\n", ok, GetLastError());
    CloseHandle(r);
    // A named pipe: the server's instance, a client that opens its name, both directions.
    HANDLE server = CreateNamedPipeA("\\\\.\\pipe\\ntbox_console_app", PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT,
                                     1, 4096, 4096, 0, NULL);
    if (server == INVALID_HANDLE_VALUE) return Fail("CreateNamedPipe");
    HANDLE client = CreateFileA("\\\\.\\pipe\\ntbox_console_app", GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                OPEN_EXISTING, 0, NULL);
    if (client == INVALID_HANDLE_VALUE) return Fail("CreateFile(pipe)");
    if (!WriteFile(client, "ping", 4, &n, NULL) || !ReadFile(server, buffer, sizeof buffer, &n, NULL)) {
      return Fail("client to server");
    }
    printf("server read %.*s\n", (int)n, buffer);
    if (!WriteFile(server, "pong", 4, &n, NULL) || !ReadFile(client, buffer, sizeof buffer, &n, NULL)) {
      return Fail("server to client");
    }
    printf("client read %.*s\n", (int)n, buffer);
    HANDLE none = CreateFileA("\\\\.\\pipe\\ntbox_no_such_pipe", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    printf("no such pipe: %d error %lu\n", none != INVALID_HANDLE_VALUE, GetLastError());
    CloseHandle(client);
    CloseHandle(server);
    return 0;
  }
  if (!strcmp(mode, "times")) {
    // GetThreadTimes and GetProcessTimes: creation times in the past minute, no exit while
    // running, the CPU time each thread spent (each spins until it has used 60 ms).
    FILETIME now, created, exited, kernel, user;
    GetSystemTimeAsFileTime(&now);
    HANDLE thread = CreateThread(NULL, 0, Spinner, NULL, 0, NULL);
    if (!thread) return Fail("CreateThread");
    Spin(60);
    WaitForSingleObject(thread, INFINITE);
    if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return Fail("GetThreadTimes(self)");
    printf("this thread: created %s, running %s, busy %s\n",
           Ticks(now) - Ticks(created) < 600000000ull ? "ok" : "wrong", Ticks(exited) == 0 ? "ok" : "wrong",
           Ticks(user) + Ticks(kernel) >= 600000 ? "ok" : "wrong");
    if (!GetThreadTimes(thread, &created, &exited, &kernel, &user)) return Fail("GetThreadTimes(ended)");
    printf("ended thread: exited %s, busy %s\n", Ticks(exited) >= Ticks(created) && Ticks(exited) ? "ok" : "wrong",
           Ticks(user) + Ticks(kernel) >= 600000 ? "ok" : "wrong");
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) return Fail("GetProcessTimes");
    printf("process: created %s, busy %s\n", Ticks(now) - Ticks(created) < 600000000ull ? "ok" : "wrong",
           Ticks(user) + Ticks(kernel) >= 1200000 ? "ok" : "wrong");
    return 0;
  }
  printf("usage: console_app getch|line|info|handler|default|pipein|pipes|times\n");
  return 2;
}
