// x64 structured exception handling for drivers: unwinding over the image's .pdata/.xdata, the
// search for a __try/__except scope that takes the exception (filters run in the driver, as on
// Windows), __finally blocks run while unwinding, and the jump to the handler. What no handler
// takes stops the machine (KMODE_EXCEPTION_NOT_HANDLED) with the faulting context in the report.
#pragma once
#include <span>
#include <cstddef>
#include <cstdint>

#include "nt/Types.h"

namespace ntbox::nt {

struct M128 {
  std::uint64_t low, high;
};

// CONTEXT (x64), as winnt.h lays it out.
struct CONTEXT {
  ULONG64 P1Home, P2Home, P3Home, P4Home, P5Home, P6Home;
  ULONG ContextFlags;
  ULONG MxCsr;
  USHORT SegCs, SegDs, SegEs, SegFs, SegGs, SegSs;
  ULONG EFlags;
  ULONG64 Dr0, Dr1, Dr2, Dr3, Dr6, Dr7;
  ULONG64 Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15;
  ULONG64 Rip;
  std::uint8_t FltSaveHeader[0xA0];  // XMM_SAVE_AREA32 up to its XmmRegisters
  M128 Xmm[16];
  std::uint8_t FltSaveTail[0x60];
  M128 VectorRegister[26];
  ULONG64 VectorControl, DebugControl, LastBranchToRip, LastBranchFromRip, LastExceptionToRip,
      LastExceptionFromRip;
};
static_assert(offsetof(CONTEXT, ContextFlags) == 0x30);
static_assert(offsetof(CONTEXT, EFlags) == 0x44);
static_assert(offsetof(CONTEXT, Rax) == 0x78);
static_assert(offsetof(CONTEXT, Rsp) == 0x98);
static_assert(offsetof(CONTEXT, Rip) == 0xF8);
static_assert(offsetof(CONTEXT, Xmm) == 0x1A0);
static_assert(sizeof(CONTEXT) == 0x4D0);

constexpr ULONG EXCEPTION_MAXIMUM_PARAMETERS = 15;
struct EXCEPTION_RECORD {
  NTSTATUS ExceptionCode;
  ULONG ExceptionFlags;
  EXCEPTION_RECORD* ExceptionRecord;
  PVOID ExceptionAddress;
  ULONG NumberParameters;
  ULONG_PTR ExceptionInformation[EXCEPTION_MAXIMUM_PARAMETERS];
};
static_assert(sizeof(EXCEPTION_RECORD) == 0x98);
constexpr ULONG EXCEPTION_NONCONTINUABLE = 0x1;

struct EXCEPTION_POINTERS {
  EXCEPTION_RECORD* ExceptionRecord;
  CONTEXT* ContextRecord;
};

struct RUNTIME_FUNCTION {
  ULONG BeginAddress, EndAddress, UnwindData;
};

// Dispatches the exception raised at context (a fault in driver code, or a raise on a
// driver's behalf): runs the filters of the scopes covering it, innermost first; the first that
// accepts gets control after the __finally blocks on the way have run. Does not return.
// fault: context.Rip is the faulting instruction (not a return address).
[[noreturn]] void DispatchException(EXCEPTION_RECORD& record, CONTEXT& context, bool fault);
// True when some driver frame of this context has a __try/__except scope covering it: the trap
// handler dispatches only then, and otherwise stops the machine as before (nothing runs).
bool HasExceptionHandler(const CONTEXT& context);
// Raises status from kernel code a driver called through a capturing export (ExRaiseStatus,
// ProbeForRead, ProbeForWrite, MmProbeAndLockPages): the exception happens at the driver's call.
[[noreturn]] void RaiseAtDriverCall(NTSTATUS status);
// The whole call stack from start, innermost first, for a stop's STACK_TEXT: driver frames by their
// images' .pdata, the kernel's (ntbox's own code, built with frame pointers) by their frame
// pointers, crossing from one to the other both ways, up to where the guarded call into driver
// code began. Allocates nothing: the trap handler takes it.
std::size_t StackTrace(const CONTEXT& start, std::span<ULONG64> out);
// The same walk with each frame's stack pointer (WinDbg's Child-SP): rsp as the frame was when
// rip was its next instruction.
struct StackFrame {
  ULONG64 rip = 0, rsp = 0;
};
std::size_t StackWalk(const CONTEXT& start, std::span<StackFrame> out);
// A program's frames from its context where it entered the kernel: its images (the PEB's loader
// list) each unwound by its own .pdata. Allocates nothing.
std::size_t ProgramStackWalk(const CONTEXT& start, ULONG64 peb, std::span<StackFrame> out);

// Exports.
RUNTIME_FUNCTION* NTAPI RtlLookupFunctionEntry(ULONG64 ControlPc, ULONG64* ImageBase, void* HistoryTable);
void* NTAPI RtlVirtualUnwind(ULONG HandlerType, ULONG64 ImageBase, ULONG64 ControlPc, RUNTIME_FUNCTION* FunctionEntry,
                             CONTEXT* ContextRecord, void** HandlerData, ULONG64* EstablisherFrame, void* ContextPointers);
int NTAPI C_specific_handler(EXCEPTION_RECORD*, void*, CONTEXT*, void*);
void NTAPI RtlUnwindEx(PVOID TargetFrame, PVOID TargetIp, EXCEPTION_RECORD* ExceptionRecord, PVOID ReturnValue,
                       CONTEXT* ContextRecord, void* HistoryTable);
// Assembly entry points (the export table points at them): they capture the caller's context.
extern "C" void NTAPI ntbox_RtlCaptureContext(CONTEXT* ContextRecord);
extern "C" void NTAPI ntbox_RtlRaiseException(EXCEPTION_RECORD* ExceptionRecord);
extern "C" void NTAPI ntbox_capture_ExRaiseStatus(NTSTATUS);
extern "C" void NTAPI ntbox_capture_RtlRaiseStatus(NTSTATUS);
extern "C" void NTAPI ntbox_capture_ProbeForRead(PVOID, SIZE_T, ULONG);
extern "C" void NTAPI ntbox_capture_ProbeForWrite(PVOID, SIZE_T, ULONG);
extern "C" void NTAPI ntbox_capture_MmProbeAndLockPages(void*, KPROCESSOR_MODE, int);
extern "C" void NTAPI ntbox_capture_RtlUnwindEx(PVOID, PVOID, EXCEPTION_RECORD*, PVOID, CONTEXT*, void*);
extern "C" LONG NTAPI ntbox_capture_KeReleaseSemaphore(void*, LONG, LONG, BOOLEAN);
extern "C" PVOID NTAPI ntbox_capture_ExAllocatePool2(ULONG64, SIZE_T, ULONG);
extern "C" PVOID NTAPI ntbox_capture_ExAllocatePoolWithQuotaTag(int, SIZE_T, ULONG);
extern "C" PVOID NTAPI ntbox_capture_ExAllocatePoolWithQuota(int, SIZE_T);
}  // namespace ntbox::nt
