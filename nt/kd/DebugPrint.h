// Kernel debug output (DbgPrint family) and breakpoints.
#pragma once
#include "nt/Types.h"

namespace ntbox::nt {

// Component and level of plain DbgPrint (DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL).
constexpr ULONG kDpfltrDefaultId = 101;
constexpr ULONG kDpfltrInfoLevel = 3;
// Messages from ntbox itself (breakpoints, assertions) share the stream with this component.
constexpr ULONG kNtboxComponent = 0xFFFFFFFF;
// ntbox's markers in a machine's debug log (dbgview shows them as such): a boot, a stop.
constexpr ULONG kMarkerComponent = 0xFFFFFFFE;
// Windows truncates one DbgPrint message to 512 bytes including the terminating NUL.
constexpr std::size_t kDbgPrintMaxLength = 511;

ULONG NTAPI DbgPrint(PCSTR Format, ...);
// Wine's ntdll writes its debug channels' lines (err, fixme) through this system call: they join
// the machine's debug output, as DbgPrint's do.
int NTAPI WineDbgWrite(PCSTR String, ULONG Length);
ULONG NTAPI DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...);
ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, char* Arguments);
ULONG NTAPI vDbgPrintExWithPrefix(PCSTR Prefix, ULONG ComponentId, ULONG Level, PCSTR Format,
                                  char* Arguments);
void NTAPI DbgBreakPoint();
void NTAPI DbgBreakPointWithStatus(ULONG Status);

// Reports a breakpoint hit at address. Policy: with no debugger attached ntbox prints the
// WinDbg-style notice and continues after the breakpoint (Windows booted without /DEBUG would
// stop with KMODE_EXCEPTION_NOT_HANDLED 0x80000003 instead).
void ReportBreakpoint(std::uint64_t address, ULONG status);

}  // namespace ntbox::nt
