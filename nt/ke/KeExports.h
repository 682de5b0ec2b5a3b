// Ke exports: IRQL, time, processor stall, bugcheck.
#pragma once
#include "nt/Types.h"

namespace ntbox::nt {

KIRQL NTAPI KeGetCurrentIrql();
KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql);
KIRQL NTAPI KeRaiseIrqlToDpcLevel();
void NTAPI KeLowerIrql(KIRQL NewIrql);

void NTAPI KeQuerySystemTime(LARGE_INTEGER* CurrentTime);
void NTAPI KeQuerySystemTimePrecise(LARGE_INTEGER* CurrentTime);
void NTAPI KeQueryTickCount(LARGE_INTEGER* TickCount);
ULONG NTAPI KeQueryTimeIncrement();
ULONGLONG NTAPI KeQueryInterruptTime();
LARGE_INTEGER NTAPI KeQueryPerformanceCounter(LARGE_INTEGER* PerformanceFrequency);
void NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);

struct KEVENT;
void NTAPI KeInitializeEvent(KEVENT* Event, int Type, BOOLEAN State);
LONG NTAPI KeSetEvent(KEVENT* Event, LONG Increment, BOOLEAN Wait);
LONG NTAPI KeResetEvent(KEVENT* Event);
void NTAPI KeClearEvent(KEVENT* Event);
LONG NTAPI KeReadStateEvent(KEVENT* Event);
NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, int WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                     LARGE_INTEGER* Timeout);

[[noreturn]] void NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                     ULONG_PTR P4);
[[noreturn]] void NTAPI KeBugCheck(ULONG BugCheckCode);

// QueryPerformanceCounter's frequency on Windows 10: 10 MHz.
constexpr LONGLONG kPerformanceFrequency = 10000000;

}  // namespace ntbox::nt
