// How programs enter the kernel: the system-call entry Wine's ntdll thunks call through
// `call [0x7ffe1000]` (bit 0 of KUSER_SHARED_DATA+0x308 set), with the service number in eax and
// the arguments as Windows' x64 convention has them (the first in r10). The entry moves to the
// thread's kernel stack, swaps the KPCR fields kernel code reads through GS into the program's
// TEB (its GS block, see user/README.md), runs the service under the machine's lock and guard, and
// returns NTSTATUS in rax with the registers Windows keeps across a call kept.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nt/SystemServices.h"
#include "support/Result.h"

namespace ntbox::user {

class Program;

namespace wine {
class SystemCallNumbering;
}

// KUSER_SHARED_DATA as programs see it, and the entry's address after it.
inline constexpr std::uint64_t kUserSharedData = 0x7ffe0000;
inline constexpr std::uint64_t kSystemCallDispatcherSlot = kUserSharedData + 0x1000;

// Maps the two pages at 0x7ffe0000 (read-only for programs) once per host process.
Result<void> MapUserSharedData();

// The machine's ntdll numbering bound to the kernel's services: row n is service n's, or null
// for a service ntbox does not implement (the call fails with STATUS_NOT_IMPLEMENTED and is named
// once in the debug output). Refused when a service's argument count differs from ntdll's.
class ServiceBinding {
 public:
  static Result<ServiceBinding> Bind(const wine::SystemCallNumbering& numbering);
  const nt::SystemService* Find(std::uint32_t number) const {
    return number < rows_.size() ? rows_[number] : nullptr;
  }
  std::size_t size() const { return rows_.size(); }
  const std::string& NameOf(std::uint32_t number) const { return names_.at(number); }
  // NTBOX_TRACE_SYSCALLS=1 in the server's environment: every call and its status go to its log.
  bool trace() const { return trace_; }

 private:
  std::vector<const nt::SystemService*> rows_;
  bool trace_ = false;
  std::vector<std::string> names_;
};

// Per program thread: what the entry needs (offsets used by its assembly).
struct SystemCallFrame {
  std::uint64_t kernelRsp = 0;  // 0x00: the kernel stack's top, below the host frames of the thread
  std::uint64_t userRsp = 0;    // 0x08
  std::uint64_t number = 0;     // 0x10
  std::uint64_t args[4] = {};   // 0x18: r10, rdx, r8, r9
  std::uint64_t userRsi = 0;    // 0x38
  std::uint64_t userRdi = 0;    // 0x40
  std::uint64_t pad = 0;        // 0x48
  std::uint8_t userXmm[10][16] = {};  // 0x50: xmm6-xmm15
  // 0xf0: rbx, rbp, r12-r15 as the program had them (the kernel keeps them too; an APC delivered at
  // the exit needs the program's context to resume).
  std::uint64_t userNonvolatile[6] = {};
  // Not touched by the assembly:
  Program* program = nullptr;
  const ServiceBinding* binding = nullptr;
  std::uint64_t teb = 0;
  std::uint64_t savedTeb[7] = {};  // the program's values of the swapped TEB fields
};
static_assert(offsetof(SystemCallFrame, userRsp) == 0x08);
static_assert(offsetof(SystemCallFrame, number) == 0x10);
static_assert(offsetof(SystemCallFrame, args) == 0x18);
static_assert(offsetof(SystemCallFrame, userRsi) == 0x38);
static_assert(offsetof(SystemCallFrame, userRdi) == 0x40);
static_assert(offsetof(SystemCallFrame, userXmm) == 0x50);
static_assert(offsetof(SystemCallFrame, userNonvolatile) == 0xf0);

// Installs frame as the calling thread's (nullptr: none).
void SetSystemCallFrame(SystemCallFrame* frame);
// A CONTEXT (x64, 0x4D0 bytes) for user mode with nothing but its constant parts: CONTEXT_FULL,
// user segments, interrupts on, the default MXCSR and x87 control word.
void InitUserContext(std::uint8_t* context);
// The CONTEXT of the program returning from the system call in f with status.
void ReturnContext(const SystemCallFrame& f, std::uint64_t status, std::uint8_t* context);

}  // namespace ntbox::user
