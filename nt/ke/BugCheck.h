// Bugchecks: the record a stop leaves (code, four parameters, where and how it happened) and
// how it is raised. The record is plain data so the trap handler can fill it in signal context;
// everything textual is derived later, by the report.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt {

namespace bugcheck {
constexpr ULONG INVALID_AFFINITY_SET = 0x03;
constexpr ULONG IRQL_NOT_GREATER_OR_EQUAL = 0x09;
constexpr ULONG IRQL_NOT_LESS_OR_EQUAL = 0x0A;
constexpr ULONG KMODE_EXCEPTION_NOT_HANDLED = 0x1E;
constexpr ULONG PAGE_FAULT_IN_NONPAGED_AREA = 0x50;
constexpr ULONG SYSTEM_THREAD_EXCEPTION_NOT_HANDLED = 0x7E;
constexpr ULONG UNEXPECTED_KERNEL_MODE_TRAP = 0x7F;
constexpr ULONG MULTIPLE_IRP_COMPLETE_REQUESTS = 0x44;
constexpr ULONG SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION = 0xC1;
constexpr ULONG BAD_POOL_CALLER = 0xC2;
constexpr ULONG TIMER_OR_DPC_INVALID = 0xC7;
constexpr ULONG PAGE_FAULT_IN_FREED_SPECIAL_POOL = 0xCC;
constexpr ULONG PAGE_FAULT_BEYOND_END_OF_ALLOCATION = 0xCD;
constexpr ULONG DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS = 0xCE;
constexpr ULONG DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL = 0xD5;
constexpr ULONG DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION = 0xD6;
constexpr ULONG DRIVER_VERIFIER_DETECTED_VIOLATION = 0xC4;
constexpr ULONG DRIVER_VERIFIER_IOMANAGER_VIOLATION = 0xC9;
constexpr ULONG RESOURCE_NOT_OWNED = 0xE3;
constexpr ULONG DPC_WATCHDOG_VIOLATION = 0x133;
constexpr ULONG DRIVER_IRQL_NOT_LESS_OR_EQUAL = 0xD1;
constexpr ULONG MANUALLY_INITIATED_CRASH = 0xE2;
constexpr ULONG KERNEL_SECURITY_CHECK_FAILURE = 0x139;
constexpr ULONG ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY = 0xFC;
}  // namespace bugcheck

// General-purpose registers in the order WinDbg prints them.
enum class Reg : int { rax, rbx, rcx, rdx, rsi, rdi, rip, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, efl, count };

// The IRP a stop is about, copied when the stop was raised (the report is written later, when the
// IRP may be completed and freed): what WinDbg's !irp shows.
struct IrpSnapshot {
  ULONG64 address = 0;  // 0: the stop names no IRP
  ULONG flags = 0;
  ULONG status = 0;
  ULONG64 information = 0;
  ULONG64 systemBuffer = 0;
  ULONG64 userBuffer = 0;
  ULONG64 mdl = 0;
  ULONG64 thread = 0;
  ULONG64 cancelRoutine = 0;
  std::int8_t stackCount = 0;
  std::int8_t currentLocation = 0;
  bool cancel = false;
  bool pendingReturned = false;
  std::uint8_t requestorMode = 0;
  struct Location {
    std::uint8_t major = 0, minor = 0, flags = 0, control = 0;
    ULONG64 device = 0, file = 0, completionRoutine = 0, context = 0;
    std::array<ULONG64, 4> arguments{};
  };
  std::uint8_t locations = 0;  // how many of stack are filled (the IRP's first ones)
  std::array<Location, 8> stack{};
};

struct BugCheck {
  ULONG code = 0;
  std::array<ULONG64, 4> parameters{};
  // Where it happened: the faulting (or calling) instruction, and whether registers are known.
  ULONG64 address = 0;
  bool hasContext = false;
  std::array<ULONG64, static_cast<int>(Reg::count)> registers{};
  std::array<std::uint8_t, 16> code_bytes{};
  std::uint8_t codeLength = 0;
  // For faults inside kernel code: the driver's return address that led there, or 0.
  ULONG64 driverCaller = 0;
  // The call stack (innermost first) when it was walked at the stop: driver and kernel frames
  // (nt/rtl/Exception.h's StackTrace).
  std::array<ULONG64, 32> stack{};
  std::uint8_t stackDepth = 0;
  // From this index on the frames are the program's that made the system call (its PEB names its
  // images); stackDepth when there are none.
  std::uint8_t programFrom = 0xFF;
  ULONG64 peb = 0;
  KIRQL irql = 0;
  std::uint32_t processor = 0;
  std::uint64_t threadId = 0;
  // Set by the raiser when a driver called KeBugCheck(Ex) or the kernel detected the misuse.
  char detail[160] = {};
  IrpSnapshot irp;
};

// Stops the driver code running on this thread: the record travels to the CallGuarded that
// started it. Without a guard (kernel code outside any driver call) the host aborts loudly,
// because that is an ntbox bug, not a driver's.
[[noreturn]] void RaiseBugCheck(const BugCheck& record);
// Adds the frames of the program whose system call led to the stop (when one did) after the
// kernel's: where it entered the kernel and the rest of its stack. Allocates nothing.
void AddProgramFrames(BugCheck& record);
// Fills code, parameters, IRQL and thread, and the caller's address; then raises.
[[noreturn]] void RaiseBugCheck(ULONG code, ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4,
                                std::string_view detail = {}, ULONG64 caller = 0);
// The record the call above raises, for a raiser that adds to it (an IRP's state) first.
BugCheck MakeBugCheck(ULONG code, ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4, std::string_view detail,
                      ULONG64 caller);

std::string_view BugCheckName(ULONG code);

}  // namespace ntbox::nt
