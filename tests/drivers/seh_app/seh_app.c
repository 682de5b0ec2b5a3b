/* Exceptions in a program on Wine's DLLs: a vectored handler sees a hardware fault and a software
   exception (RaiseException) and continues each; an unhandled fault ends the program with it. */
#include <stdio.h>
#include <string.h>
#include <windows.h>

static volatile int g_seen;

static void Recovered(void)
{
    printf("recovered from the fault, handler calls %d\n", g_seen);
    fflush(stdout);
    RaiseException(0xE0000001, 0, 0, NULL);
    printf("continued after RaiseException, handler calls %d\n", g_seen);
    fflush(stdout);
    ExitProcess(0);
}

static LONG CALLBACK Handler(EXCEPTION_POINTERS *e)
{
    ++g_seen;
    if (e->ExceptionRecord->ExceptionCode == EXCEPTION_ACCESS_VIOLATION &&
        e->ExceptionRecord->ExceptionInformation[1] == 0x10) {
        e->ContextRecord->Rip = (DWORD64)(ULONG_PTR)Recovered;
        e->ContextRecord->Rsp = (e->ContextRecord->Rsp & ~(DWORD64)15) - 8;
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    if (e->ExceptionRecord->ExceptionCode == 0xE0000001) return EXCEPTION_CONTINUE_EXECUTION;
    return EXCEPTION_CONTINUE_SEARCH;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "unhandled")) {
        printf("about to fault\n");
        fflush(stdout);
        *(volatile int *)(ULONG_PTR)0x20 = 1;
        return 1;
    }
    AddVectoredExceptionHandler(1, Handler);
    *(volatile int *)(ULONG_PTR)0x10 = 1;
    return 1;
}
