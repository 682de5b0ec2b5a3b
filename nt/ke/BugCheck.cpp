#include "nt/ke/BugCheck.h"

#include "nt/rtl/Exception.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "nt/kd/Debugger.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {

std::string_view BugCheckName(ULONG code) {
  static constexpr std::array<std::pair<ULONG, std::string_view>, 27> kNames{{
      {0x03, "INVALID_AFFINITY_SET"},
      {0x09, "IRQL_NOT_GREATER_OR_EQUAL"},
      {0x0A, "IRQL_NOT_LESS_OR_EQUAL"},
      {0x1E, "KMODE_EXCEPTION_NOT_HANDLED"},
      {0x3B, "SYSTEM_SERVICE_EXCEPTION"},
      {0x44, "MULTIPLE_IRP_COMPLETE_REQUESTS"},
      {0x50, "PAGE_FAULT_IN_NONPAGED_AREA"},
      {0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
      {0x7F, "UNEXPECTED_KERNEL_MODE_TRAP"},
      {0xC2, "BAD_POOL_CALLER"},
      {0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
      {0xC9, "DRIVER_VERIFIER_IOMANAGER_VIOLATION"},
      {0xCE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"},
      {0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
      {0xE2, "MANUALLY_INITIATED_CRASH"},
      {0x139, "KERNEL_SECURITY_CHECK_FAILURE"},
      {0x133, "DPC_WATCHDOG_VIOLATION"},
      {0x19, "BAD_POOL_HEADER"},
      {0xEF, "CRITICAL_PROCESS_DIED"},
      {0xE3, "RESOURCE_NOT_OWNED"},
      {0xC1, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"},
      {0xC7, "TIMER_OR_DPC_INVALID"},
      {0xCC, "PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
      {0xCD, "PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
      {0xD5, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
      {0xD6, "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
      {0xFC, "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY"},
  }};
  for (const auto& [value, name] : kNames) {
    if (value == code) return name;
  }
  return {};
}

// Not inlined: its own frame is where the walk of the kernel's frames begins.
[[gnu::noinline]] void RaiseBugCheck(const BugCheck& record) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->guard) {
    std::fprintf(stderr,
                 "ntbox: internal error: bugcheck 0x%X raised outside any driver call; aborting\n",
                 record.code);
    std::abort();
  }
  t->pendingBugCheck = record;
  if (!record.stackDepth && !record.hasContext) {
    // Raised by kernel code (KeBugCheckEx, a verifier rule, a misuse the kernel caught): the stack
    // from the kernel routine that raised it, through the driver frames that called it.
    const auto frame = reinterpret_cast<ULONG64>(__builtin_frame_address(0));
    CONTEXT c{};
    c.Rip = reinterpret_cast<ULONG64>(__builtin_return_address(0));
    c.Rbp = *reinterpret_cast<const ULONG64*>(frame);
    c.Rsp = frame + 16;
    t->pendingBugCheck.stackDepth = static_cast<std::uint8_t>(StackTrace(c, t->pendingBugCheck.stack));
  }
  if (t->pendingBugCheck.programFrom == 0xFF) AddProgramFrames(t->pendingBugCheck);
  // A debugger sees the stop first (WinDbg's "*** Fatal System Error"); the report follows.
  if (kd::Attached()) kd::Debugger::Get().OnBugCheck(t->pendingBugCheck, t);
  siglongjmp(*t->guard, 1);
}

void AddProgramFrames(BugCheck& record) {
  record.programFrom = record.stackDepth;
  const ke::KernelThread* t = ke::CurrentThread();
  CONTEXT user{};
  if (!t || !t->process || !kd::ProgramContextAtSystemCall(user)) return;
  record.peb = t->process->peb();
  if (!record.peb) return;
  StackFrame frames[32];
  const std::size_t room = record.stack.size() - record.stackDepth;
  const std::size_t n = ProgramStackWalk(user, record.peb, std::span(frames, std::min<std::size_t>(room, 32)));
  for (std::size_t i = 0; i < n; ++i) record.stack[record.stackDepth++] = frames[i].rip;
}

void RaiseBugCheck(ULONG code, ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4,
                   std::string_view detail, ULONG64 caller) {
  RaiseBugCheck(MakeBugCheck(code, p1, p2, p3, p4, detail, caller));
}

BugCheck MakeBugCheck(ULONG code, ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4, std::string_view detail,
                      ULONG64 caller) {
  BugCheck record;
  record.code = code;
  record.parameters = {p1, p2, p3, p4};
  record.address = caller;
  if (const ke::KernelThread* t = ke::CurrentThread()) {
    record.irql = t->Irql();
    record.processor = t->processor;
    record.threadId = t->id;
  }
  const std::size_t n = std::min(detail.size(), sizeof(record.detail) - 1);
  std::memcpy(record.detail, detail.data(), n);
  return record;
}

void NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                        ULONG_PTR P4) {
  RaiseBugCheck(BugCheckCode, P1, P2, P3, P4, "the driver called KeBugCheckEx",
                reinterpret_cast<ULONG64>(__builtin_return_address(0)));
}

void NTAPI KeBugCheck(ULONG BugCheckCode) {
  RaiseBugCheck(BugCheckCode, 0, 0, 0, 0, "the driver called KeBugCheck",
                reinterpret_cast<ULONG64>(__builtin_return_address(0)));
}

}  // namespace ntbox::nt
