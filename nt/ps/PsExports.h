// Process-structure exports: system threads, the current thread and process, processor numbers.
#pragma once
#include "nt/Types.h"

namespace ntbox::nt {

struct OBJECT_ATTRIBUTES;
struct CLIENT_ID {
  HANDLE UniqueProcess;
  HANDLE UniqueThread;
};
static_assert(sizeof(CLIENT_ID) == 0x10);

struct PROCESSOR_NUMBER {
  USHORT Group;
  UCHAR Number;
  UCHAR Reserved;
};

NTSTATUS NTAPI PsCreateSystemThread(HANDLE* ThreadHandle, ULONG DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                                    HANDLE ProcessHandle, CLIENT_ID* ClientId, void(NTAPI* StartRoutine)(PVOID),
                                    PVOID StartContext);
NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus);
// The calling program's own process (NtCurrentProcess(), handle -1) ends with ExitStatus once the
// call returns to its system-call entry; handle 0 (every other thread of the process) has nothing to
// end while ntbox's programs run one thread. Other processes cannot be ended yet.
NTSTATUS NTAPI NtTerminateProcess(HANDLE ProcessHandle, NTSTATUS ExitStatus);
NTSTATUS NTAPI NtOpenProcess(HANDLE* ProcessHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                             CLIENT_ID* ClientId);
// A program starts another (ps/CreateProcess.cpp).
NTSTATUS NTAPI NtCreateUserProcess(HANDLE* ProcessHandle, HANDLE* ThreadHandle, ACCESS_MASK ProcessDesiredAccess,
                                   ACCESS_MASK ThreadDesiredAccess, PVOID ProcessObjectAttributes,
                                   PVOID ThreadObjectAttributes, ULONG ProcessFlags, ULONG ThreadFlags,
                                   PVOID ProcessParameters, PVOID CreateInfo, PVOID AttributeList);
// The caller's own process (NtCurrentProcess()) only, so far: basic, image, session, cookie, the
// debugger and WoW64 classes.
NTSTATUS NTAPI NtQueryInformationProcess(HANDLE ProcessHandle, ULONG ProcessInformationClass,
                                         PVOID ProcessInformation, ULONG Length, ULONG* ReturnLength);
PVOID NTAPI PsGetCurrentThread();
PVOID NTAPI KeGetCurrentThread();
HANDLE NTAPI PsGetCurrentThreadId();
HANDLE NTAPI PsGetThreadId(PVOID Thread);
BOOLEAN NTAPI PsIsSystemThread(PVOID Thread);
LONG NTAPI KeSetPriorityThread(PVOID Thread, LONG Priority);
LONG NTAPI KeQueryPriorityThread(PVOID Thread);
LONG NTAPI KeSetBasePriorityThread(PVOID Thread, LONG Increment);
ULONG NTAPI KeGetCurrentProcessorNumber();
ULONG NTAPI KeGetCurrentProcessorNumberEx(PROCESSOR_NUMBER* ProcNumber);
ULONG NTAPI KeQueryActiveProcessorCount(ULONG64* ActiveProcessors);
ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber);
// KAFFINITY of the active processors (group 0).
ULONG64 NTAPI KeQueryActiveProcessors();
ULONG NTAPI KeQueryMaximumProcessorCount();
NTSTATUS NTAPI ZwYieldExecution();

// Program threads (ps/ThreadServices.cpp).
NTSTATUS NTAPI NtCreateThreadEx(HANDLE* ThreadHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                HANDLE ProcessHandle, PVOID StartRoutine, PVOID Argument, ULONG CreateFlags,
                                SIZE_T ZeroBits, SIZE_T StackSize, SIZE_T MaximumStackSize, PVOID AttributeList);
NTSTATUS NTAPI NtResumeThread(HANDLE ThreadHandle, ULONG* PreviousSuspendCount);
NTSTATUS NTAPI NtSuspendThread(HANDLE ThreadHandle, ULONG* PreviousSuspendCount);
NTSTATUS NTAPI NtTerminateThread(HANDLE ThreadHandle, NTSTATUS ExitStatus);
NTSTATUS NTAPI NtQueryInformationThread(HANDLE ThreadHandle, ULONG ThreadInformationClass, PVOID ThreadInformation,
                                        ULONG Length, ULONG* ReturnLength);
NTSTATUS NTAPI NtSetInformationThread(HANDLE ThreadHandle, ULONG ThreadInformationClass, PVOID ThreadInformation,
                                      ULONG Length);
NTSTATUS NTAPI NtWaitForAlertByThreadId(PVOID Address, LARGE_INTEGER* Timeout);
NTSTATUS NTAPI NtQueueApcThread(HANDLE ThreadHandle, PVOID ApcRoutine, ULONG_PTR Arg1, ULONG_PTR Arg2, ULONG_PTR Arg3);
NTSTATUS NTAPI NtTestAlert();
NTSTATUS NTAPI NtAlertThreadByThreadId(HANDLE ThreadId);
NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, LARGE_INTEGER* Interval);

}  // namespace ntbox::nt
