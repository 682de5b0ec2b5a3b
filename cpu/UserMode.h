// User mode for the machine's Win32 programs. A program's code runs on its own stack in its
// process's user range, on a thread attached to the kernel; it calls the user-mode DLLs ntbox
// implements (kernel32, msvcrt) directly, and they enter the kernel through guarded calls. While
// the thread is in user mode, a fault is the program's exception: the program ends with the
// exception's code (0xC0000005 ...) as Windows ends a process nobody handles it in, and the
// machine runs on. Ending a program (ExitProcess, a fault, a termination request) unwinds to
// where RunUserMode was called.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "support/FunctionRef.h"

namespace ntbox::nt::ke {
class KernelThread;
}

namespace ntbox::cpu {

enum class UserExitKind : int {
  kReturned = 0,     // the entry point returned
  kExited,           // ExitProcess / exit
  kException,        // an unhandled exception (code = its NTSTATUS)
  kTerminated,       // TerminateProcess / Ctrl-C on the caller's side
  kMachineStopped,   // a driver bugchecked the machine during one of its calls
  kRefused,          // never started: a driver's process notify routine refused the process
  kThreadExited,     // NtTerminateThread on itself: this thread ended, the process may go on
};

struct UserExit {
  UserExitKind kind = UserExitKind::kReturned;
  std::uint32_t code = 0;
  std::uint64_t address = 0;       // where an exception happened
  std::uint64_t faultAddress = 0;  // the inaccessible address of an access violation
  bool faultWrite = false;
  bool faultAddressKnown = false;
  std::string deniedSystemCall;  // the Linux call the machine's sandbox denied, when that ended it
};

// Runs body in user mode on the calling attached thread; body calls the program's code with
// CallUser. Returns how the program ended (kReturned with body's value when it returns).
UserExit RunUserMode(FunctionRef<std::uint32_t()> body);
// Calls fn (ms_abi, up to three integer arguments) on the stack whose top is stackTop.
std::uint64_t CallUser(std::uint64_t fn, std::uint64_t stackTop, std::uint64_t a1 = 0, std::uint64_t a2 = 0,
                       std::uint64_t a3 = 0);
// Ends the program the calling thread runs (from user-mode code, or a DLL function it called).
[[noreturn]] void ExitUserMode(UserExitKind kind, std::uint32_t code);
// The same, with how it ended already recorded in the thread's userExit (an exception's details).
[[noreturn]] void ExitUserModeAsRecorded();
// Writes the frame Windows' kernel builds for a user-mode exception below rsp: the CONTEXT (0x4D0
// bytes), a CONTEXT_EX, the EXCEPTION_RECORD (0x98 bytes) at +0x4F0, 128 bytes left above it, with
// non-faulting writes into the user range. Returns the frame's address (what rsp must be when
// KiUserExceptionDispatcher starts), or 0 when the stack cannot take it.
std::uint64_t WriteExceptionFrame(const void* context, const void* record, std::uint64_t rsp);
// True when the calling thread runs a program and is not inside a kernel call.
bool InUserMode();
// Asks thread (running a program on the host thread pthread) to end it with code; safe from
// any thread. It ends at once in user-mode code, or when the DLL function it is in reaches
// CheckTermination; callers repeat the request until the program has ended.
void RequestTermination(nt::ke::KernelThread& thread, unsigned long pthread, std::uint32_t code);
// Suspension (NtSuspendThread): a thread in the program's own code stops there at once (a signal);
// one in the kernel stops at its system call's exit (WaitWhileSuspended). Either waits until its
// suspend count is zero again (ResumeSuspended wakes it) or it is to end; and while the debugger's
// freeze lasts.
void RequestSuspension(nt::ke::KernelThread& thread, unsigned long pthread);
void WaitWhileSuspended();
void ResumeSuspended(std::uint32_t* suspendCount);
// Called by DLL functions after blocking or kernel calls: ends the program if asked to.
void CheckTermination();
// The kernel debugger's freeze: every other thread running a program stops in the program's own
// code (a signal), or where its system call returns to it, until ThawUserMode. FreezeUserMode
// returns once the threads it signalled have taken the signal (or after a bounded wait).
void FreezeUserMode();
void ThawUserMode();
// A debugger's break-in, for the index-th thread running a program: signalled with the break-in
// signal (cpu/Trap), it stops if it is in the program's own code. False when there is no such thread.
bool RequestProgramBreakIn(std::size_t index);

}  // namespace ntbox::cpu
