// Drivers' view of processes (ps/ProcessLookup.cpp): PsLookupProcessByProcessId, the EPROCESS
// accessors, IoGetRequestorProcess(Id), KeStackAttachProcess/KeUnstackDetachProcess
// and the PsInitialSystemProcess data export.
#pragma once
#include "nt/Types.h"
#include "nt/ps/PsExports.h"

namespace ntbox::nt {

struct IRP;

// KAPC_STATE: opaque to drivers, who keep one on their stack for an attach.
struct KAPC_STATE {
  std::uint8_t opaque[0x30];
};

using PCHAR = char*;

// PsInitialSystemProcess: the System process's object (set as the kernel starts).
extern PVOID g_PsInitialSystemProcess;

NTSTATUS NTAPI PsLookupProcessByProcessId(HANDLE ProcessId, PVOID* Process);
PCHAR NTAPI PsGetProcessImageFileName(PVOID Process);
HANDLE NTAPI PsGetProcessInheritedFromUniqueProcessId(PVOID Process);
PVOID NTAPI PsGetProcessSectionBaseAddress(PVOID Process);
HANDLE NTAPI PsGetThreadProcessId(PVOID Thread);
PVOID NTAPI PsGetThreadProcess(PVOID Thread);
PVOID NTAPI IoThreadToProcess(PVOID Thread);
NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PVOID* Thread);
NTSTATUS NTAPI NtOpenThread(HANDLE* ThreadHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, CLIENT_ID* ClientId);
PVOID NTAPI IoGetRequestorProcess(IRP* Irp);
ULONG NTAPI IoGetRequestorProcessId(IRP* Irp);
void NTAPI KeStackAttachProcess(PVOID Process, KAPC_STATE* ApcState);
void NTAPI KeUnstackDetachProcess(KAPC_STATE* ApcState);

}  // namespace ntbox::nt
