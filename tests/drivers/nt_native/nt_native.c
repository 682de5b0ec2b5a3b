/* A native program: it imports only ntdll.dll, so ntbox runs it on the NT system-call layer, its
   calls going through Wine's own ntdll thunks to the kernel's services. Its exit code says what it
   saw (42: everything as Windows does it). */
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>

NTSTATUS NTAPI NtClose(HANDLE Handle);
NTSTATUS NTAPI NtTerminateProcess(HANDLE ProcessHandle, NTSTATUS ExitStatus);
NTSTATUS NTAPI NtYieldExecution(void);
NTSTATUS NTAPI NtSetLdtEntries(ULONG Selector1, ULONG Entry1Low, ULONG Entry1High, ULONG Selector2);
NTSTATUS NTAPI NtContinue(CONTEXT *Context, BOOLEAN TestAlert);

static ULONG_PTR finishStack[512] __attribute__((aligned(16)));

/* Reached through NtContinue with the context's rcx and rsp. */
static void Finish(ULONG_PTR code)
{
    ULONG_PTR sp = (ULONG_PTR)__builtin_frame_address(0);
    if (sp < (ULONG_PTR)finishStack || sp > (ULONG_PTR)(finishStack + 512)) code = 8;
    NtTerminateProcess((HANDLE)(LONG_PTR)-1, (NTSTATUS)code);
}


static ULONG_PTR TebWord(ULONG offset) { return __readgsqword(offset); }

void __stdcall NtProcessStartup(void *peb)
{
    int result = 42;
    /* The program's own values in the TEB fields the kernel borrows while it runs a service. */
    __writegsqword(0x18, 0x1111);
    __writegsqword(0x180, 0x2222);
    if (TebWord(0x30) == 0 || TebWord(0x60) != (ULONG_PTR)peb) result = 2;
    if (NtClose((HANDLE)(ULONG_PTR)0x1234) != STATUS_INVALID_HANDLE) result = 3;
    if (TebWord(0x18) != 0x1111 || TebWord(0x180) != 0x2222) result = 4;
    if (NtYieldExecution() != STATUS_SUCCESS) result = 5;
    /* x64 Windows has no LDT: not implemented there either. */
    if (NtSetLdtEntries(0, 0, 0, 0) != STATUS_NOT_IMPLEMENTED) result = 6;
    __writegsqword(0x18, 0);
    NtTerminateProcess((HANDLE)0, 0); /* the process's other threads: none */
    {
        /* NtContinue resumes with a whole context: here a call of Finish(result) on another stack. */
        static CONTEXT context;
        if (NtContinue((CONTEXT *)(ULONG_PTR)0xfffff80000001000ull, FALSE) != STATUS_ACCESS_VIOLATION) result = 10;
        RtlCaptureContext(&context);
        context.Rip = (ULONG_PTR)Finish;
        context.Rcx = result;
        context.Rsp = (ULONG_PTR)(finishStack + 500) - 8;
        NtContinue(&context, FALSE);
        result = 9;
    }
    NtTerminateProcess((HANDLE)(LONG_PTR)-1, result);
    result = 7; /* never here */
}
