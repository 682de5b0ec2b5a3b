// Native execution of driver code. Drivers run directly on the host CPU; what user mode cannot
// execute traps (SIGSEGV/SIGILL/SIGTRAP/SIGFPE/SIGBUS) into one handler that decodes the
// instruction with Zydis and either emulates it or stops the driver with a bugcheck:
//   mov reg, cr8 / mov cr8, reg   the thread's IRQL (KeGetCurrentIrql & co. inline)
//   cli / sti                     the thread's interrupt flag
//   loads from KUSER_SHARED_DATA  0xFFFFF78000000000, with live tick count and times
//   int 2c                        assertion failure: KMODE_EXCEPTION_NOT_HANDLED (C0000420)
//   int 29                        fast fail: KERNEL_SECURITY_CHECK_FAILURE (0x139)
//   int3                          breakpoint: reported, execution continues (no debugger)
// Any other fault in driver code, or in kernel code a driver called, is a bugcheck, never a
// host crash. A fault outside any driver call is an ntbox bug and crashes loudly.
#pragma once
#include <cstdint>
#include <expected>
#include <utility>

#include "nt/ke/BugCheck.h"

namespace ntbox::cpu {

// Installs the process-wide handlers (idempotent).
void InstallTrapHandlers();

// The watchdog's requests (nt/ke/Watchdog.h), delivered to the kernel lock's holder by a signal of
// their own: a preemption lets other threads take the kernel lock where the holder runs driver
// code below DISPATCH_LEVEL; a watchdog stop is 0x133 on that thread (p1: 0 one DPC, 1 the time at
// DISPATCH_LEVEL; the time and its limit in clock ticks).
void RequestPreemption(unsigned long pthread);
void RequestWatchdogStop(unsigned long pthread, std::uint64_t p1, std::uint64_t ticks, std::uint64_t limit);

// A debugger's break-in (nt/kd/Debugger.h): the thread stops where it runs driver code.
void RequestBreakIn(unsigned long pthread);

using GuardedFunction = std::uint64_t (*)(void* context);
// Runs fn on the calling (attached) thread; a bugcheck raised meanwhile comes back as the error.
std::expected<std::uint64_t, nt::BugCheck> CallGuarded(GuardedFunction fn, void* context);

template <class F>
std::expected<std::uint64_t, nt::BugCheck> CallGuarded(F&& f) {
  return CallGuarded([](void* c) -> std::uint64_t { return (*static_cast<std::remove_reference_t<F>*>(c))(); },
                     static_cast<void*>(&f));
}

// Where a rewritten `mov cr8, reg` (cpu/Rewriter.h) calls when the IRQL crosses DISPATCH_LEVEL: an
// entry per general register (reg: its encoding number, rax 0 ... r15 15) that keeps every
// register and the flags, runs the checks a trapped write runs (the verifier's IRQL rules, trimming
// of pageable memory) and sets the IRQL; a violation stops the machine at the original instruction.
std::uint64_t IrqlWriteEntry(unsigned reg);

// What a return address in host code is, for stack walks (nt/rtl/Exception.cpp's StackTrace).
enum class HostFrameKind {
  kNone,              // not code of any host module
  kHost,              // ntbox's or a library's code
  kCallDriverReturn,  // ntbox_call_driver after its call of a driver routine (a frame of known layout)
  kGuardEntry,        // CallGuarded: where driver-reaching code began
};
HostFrameKind HostFrameAt(std::uint64_t rip);

}  // namespace ntbox::cpu
