// The kernel debugger's target side, as NT's kd is: whether a debugger is attached, breakpoints
// written into driver code, single steps, break-in, and the stops a debugger sees (a breakpoint, a
// step, a break instruction, a bugcheck, a module load it asked to hear of). A stopped thread waits
// in its trap handler, its registers in the stop, until the debugger resumes it; the kernel lock
// it holds keeps every other processor, DPC, timer, work item and system thread of the machine
// still meanwhile, as a kernel debugger's break freezes Windows. One debugger at a time.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "nt/rtl/Exception.h"
#include "support/Result.h"

struct ucontext_t;
typedef struct ucontext_t ucontext_t;

namespace ntbox::nt {
struct BugCheck;
namespace ke {
class KernelThread;
}
}  // namespace ntbox::nt

namespace ntbox::nt::kd {

enum class StopReason {
  kBreakpoint,        // a breakpoint the debugger set
  kStep,              // a single step finished
  kBreakInstruction,  // int 3 in driver code, DbgBreakPoint
  kBreakIn,           // the debugger asked (Ctrl-C, kd -b)
  kBugCheck,          // the machine is about to stop; the report follows the resume
  kModuleLoad,        // a driver image was mapped (before its DriverEntry), or an image into a program
  kDataBreakpoint,    // driver code read or wrote a watched range (ba); the access has happened
};

// A data breakpoint's access: w (writes) or r (reads and writes), as ba's r and w.
enum class Access { kWrite, kReadWrite };

struct Stop {
  StopReason reason = StopReason::kBreakIn;
  // The stopped thread, or nullptr when the debugger's own break-in holds the machine (nothing
  // was running: there are no registers).
  ke::KernelThread* thread = nullptr;
  bool hasContext = false;
  CONTEXT context{};             // its registers; changes are written back on resume
  std::uint64_t address = 0;     // the breakpoint's or break instruction's address; a data breakpoint's datum
  const BugCheck* bugCheck = nullptr;
  std::string moduleName;        // kModuleLoad
  std::uint64_t moduleBase = 0, moduleEnd = 0;
  std::string modulePath;        // a program's image: its NT path (\??\Z:\...)
  bool userModule = false;
  std::uint32_t processor = 0;
  // Where the thread's program was when it entered the kernel (its system call), and the PEB of
  // its process: k goes on through the program's frames.
  bool hasUserContext = false;
  CONTEXT userContext{};
  std::uint64_t peb = 0;
};

// The calling thread's program context at its system call (user/SystemCall.cpp provides it);
// false when the thread is in none.
using UserContextProvider = bool (*)(CONTEXT& out);
void SetUserContextProvider(UserContextProvider provider);
// The calling thread's program context at its system call, through the provider.
bool ProgramContextAtSystemCall(CONTEXT& out);

enum class Resume {
  kGo,
  kStep,  // one instruction, then a kStep stop
};

// The debugger-present state (KdDebuggerNotPresent) and the machine's freeze, read without locks
// by the trap handler and the watchdog.
bool Attached();
bool Frozen();

class Debugger {
 public:
  static Debugger& Get();

  // False when a debugger is attached already.
  bool Attach();
  // Removes every breakpoint and resumes whatever is stopped.
  void Detach();
  // Readable while a stop waits for the debugger (poll it beside a connection).
  int eventFd() const { return eventFd_; }

  // A software breakpoint at address (driver or program code): 0xCC written, the original byte kept.
  Result<void> Insert(std::uint64_t address);
  void Remove(std::uint64_t address);
  // A data breakpoint on [address, address + size) in a driver image's data or the pool: the pages
  // are protected, and an access by driver code stops after it (the machine has no debug registers
  // to spare: Linux's hardware breakpoints do not fire in every VM). Accesses by the kernel's own
  // code to the range go on unreported; other data on those pages costs a fault and a step.
  Result<void> Watch(std::uint64_t address, std::uint32_t size, Access access);
  void Unwatch(std::uint64_t address);
  // Memory as it was before breakpoints were written (reads through the debugger, reports).
  void HideBreakpoints(std::uint64_t address, std::span<std::uint8_t> bytes) const;
  // Whether module loads stop (deferred breakpoints wait for them).
  void SetStopOnLoad(bool on);

  // The stop the debugger handles now, or nullptr.
  Stop* current();
  // Lets the current stop go.
  void Resume(Resume how);
  // Break in: the thread running driver code stops where it is; when none does, the debugger's
  // own thread takes the machine (no thread, no registers). Waits until one of them stopped.
  void BreakIn();

  // Target side: called on the trapping thread, from its trap handler. True when the debugger
  // took the trap (the thread waited, and uc holds how it goes on). A thread stopped in its
  // program's own code takes the kernel lock while it waits; every other program thread in its
  // own code stops too while a stop lasts (cpu::FreezeUserMode).
  bool OnBreakInstruction(ucontext_t* uc, ke::KernelThread* t);  // int3 (rip after it)
  bool OnTraceTrap(ucontext_t* uc, ke::KernelThread* t);         // TF: a step, or a breakpoint stepped over
  // A fault on a watched page (address: what was touched): true when it was one, and the access
  // runs once with the page open.
  bool OnWatchFault(ucontext_t* uc, std::uint64_t address);
  bool OnBreakInSignal(ucontext_t* uc, ke::KernelThread* t);
  // An emulated instruction (cr8 ...) finished under TF: the trace trap it would have taken.
  void AfterEmulatedStep(ucontext_t* uc, ke::KernelThread* t);
  // Before a bugcheck's report: the debugger sees it first.
  void OnBugCheck(const BugCheck& record, ke::KernelThread* t);
  // A driver image was mapped: deferred breakpoints are resolved before its code runs.
  void OnModuleLoad(const std::string& name, std::uint64_t base, std::uint64_t end);
  // An image was mapped into a program's process (ntPath: its NT name), the same before its code runs.
  void OnProgramImageLoad(const std::string& ntPath, std::uint64_t base, std::uint64_t end);
  // A driver image is about to be unmapped, or a process's address space goes: breakpoints in
  // [base, end) are forgotten.
  void OnModuleUnload(std::uint64_t base, std::uint64_t end);
  // Whether a breakpoint is written at address.
  bool IsBreakpoint(std::uint64_t address) const;

 private:
  Debugger();
  // A module-load stop (programPath: a program's image's NT path; empty for a driver).
  void ModuleLoadStop(const std::string& name, std::uint64_t base, std::uint64_t end, const std::string& programPath);
  // Publishes stop and waits until the debugger resumes it.
  enum Resume Wait(Stop& stop);
  void Notify();
  void Drain();
  int eventFd_ = -1;
};

}  // namespace ntbox::nt::kd
