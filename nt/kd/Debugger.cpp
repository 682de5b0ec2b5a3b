#include "nt/kd/Debugger.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "cpu/Trap.h"
#include "cpu/UserMode.h"
#include "nt/ExportTable.h"
#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/UserSpace.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"

namespace ntbox::nt::kd {
namespace {

std::atomic<bool> g_attached{false};
std::atomic<bool> g_frozen{false};

std::mutex g_mutex;
std::condition_variable g_changed;
Stop* g_current = nullptr;                  // guarded by g_mutex
std::map<Stop*, enum Resume> g_resumed;     // stops let go, and how; guarded by g_mutex
bool g_stopOnLoad = false;                  // guarded by g_mutex
// The debugger's own break-in: its thread holds the kernel lock (nothing ran to stop).
Stop g_ownStop;
bool g_ownsKernelLock = false;

// Breakpoints: address → the byte 0xCC replaced and the code page's protection. Read by the trap
// handler (its own thread, or another's report) and written by the debugger.
struct Written {
  std::uint8_t original = 0;
  int protection = PROT_READ | PROT_EXEC;
};
std::mutex g_breakpointsMutex;
std::map<std::uint64_t, Written> g_breakpoints;
// Where a step that ran into the kernel's code comes back to driver code: a breakpoint of the
// debugger's own, for one thread, that ends the step there.
std::map<std::uint64_t, ke::KernelThread*> g_stepReturns;

// The stopped thread's own plan, set before it leaves its trap handler: the next trace trap
// finishes a step, or re-writes a breakpoint whose original instruction it executed.
struct StepState {
  bool stepping = false;
  std::uint64_t reinsert = 0;
  std::uint64_t reprotect = 0;   // a watched page opened for one access
  std::uint64_t watchHit = 0;    // that access touched a watched range from driver code: its datum
};

// Data breakpoints and the pages they protect (the protection each page has otherwise).
struct Watched {
  std::uint64_t address = 0;
  std::uint32_t size = 0;
  Access access = Access::kWrite;
};
std::mutex g_watchMutex;
std::vector<Watched> g_watches;
struct WatchedPage {
  int normal = PROT_READ | PROT_WRITE;
  int watched = PROT_READ;
};
std::map<std::uint64_t, WatchedPage> g_watchedPages;
thread_local StepState t_step;

constexpr int kRegs[] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                         REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

void ToContext(const ucontext_t* uc, CONTEXT& c) {
  ULONG64* regs = &c.Rax;
  for (int i = 0; i < 16; ++i) regs[i] = static_cast<ULONG64>(uc->uc_mcontext.gregs[kRegs[i]]);
  c.Rip = static_cast<ULONG64>(uc->uc_mcontext.gregs[REG_RIP]);
  c.EFlags = static_cast<ULONG>(uc->uc_mcontext.gregs[REG_EFL]);
  // A program's code runs in user mode: its selectors are user mode's, as Windows shows them.
  const bool user = c.Rip < mm::kUserProbeAddress;
  c.SegCs = user ? 0x33 : 0x10;
  c.SegSs = user ? 0x2B : 0x18;
  c.ContextFlags = 0x10000B;
}

void FromContext(const CONTEXT& c, ucontext_t* uc) {
  const ULONG64* regs = &c.Rax;
  for (int i = 0; i < 16; ++i) uc->uc_mcontext.gregs[kRegs[i]] = static_cast<greg_t>(regs[i]);
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(c.Rip);
  // Only the flags a debugger may change; TF stays the debugger's own.
  constexpr greg_t kUser = 0xCD5 | 0x400;  // arithmetic flags and DF
  auto& efl = uc->uc_mcontext.gregs[REG_EFL];
  efl = (efl & ~kUser) | (static_cast<greg_t>(c.EFlags) & kUser);
}

void SetTrace(ucontext_t* uc, bool on) {
  auto& efl = uc->uc_mcontext.gregs[REG_EFL];
  efl = on ? (efl | static_cast<greg_t>(cpu::eflags::kTf)) : (efl & ~static_cast<greg_t>(cpu::eflags::kTf));
}

int SectionProtection(std::uint32_t characteristics) {
  return ((characteristics & 0x40000000) ? PROT_READ : 0) | ((characteristics & 0x80000000) ? PROT_WRITE : 0) |
         ((characteristics & 0x20000000) ? PROT_EXEC : 0);
}

// A program's code page: its image section's protection (from the image's mapped headers), or its
// region's; nullopt when no process has executable memory there. Not for signal handlers.
std::optional<int> ProgramCodeProtection(std::uint64_t address) {
  for (const ULONG id : ps::Process::LiveIds()) {
    void* object = ps::Process::ReferenceById(id);
    if (!object) continue;
    std::optional<mm::MEMORY_BASIC_INFORMATION> info;
    if (ps::Process* p = ps::Process::FromObject(object); p && p->space() && address >= p->space()->base() &&
                                                          address < p->space()->end()) {
      info = p->space()->QueryVirtual(address);
    }
    ob::DereferenceObject(object);
    if (!info || info->State != mm::mem::kCommit) continue;
    if (info->Type == mm::mem::kImage) {
      // The section table of the image the region holds, as its headers are mapped.
      const std::uint64_t base = info->AllocationBase;
      std::uint32_t peOffset = 0;
      std::uint16_t sections = 0, optionalSize = 0;
      if (!cpu::SafeCopy(&peOffset, reinterpret_cast<const void*>(base + 0x3C), 4) || peOffset > 0x1000 ||
          !cpu::SafeCopy(&sections, reinterpret_cast<const void*>(base + peOffset + 6), 2) ||
          !cpu::SafeCopy(&optionalSize, reinterpret_cast<const void*>(base + peOffset + 20), 2)) {
        return std::nullopt;
      }
      const std::uint64_t table = base + peOffset + 24 + optionalSize;
      const auto rva = static_cast<std::uint32_t>(address - base);
      for (std::uint16_t i = 0; i < sections && i < 96; ++i) {
        std::uint32_t header[10] = {};  // Name (2), VirtualSize, VirtualAddress, ... Characteristics
        if (!cpu::SafeCopy(header, reinterpret_cast<const void*>(table + 40ull * i), sizeof header)) break;
        if (rva >= header[3] && rva < header[3] + header[2]) {
          const int protection = SectionProtection(header[9]);
          return (protection & PROT_EXEC) ? std::optional<int>(protection) : std::nullopt;
        }
      }
      return std::nullopt;
    }
    const int protection = mm::HostProtection(info->Protect);
    return protection >= 0 && (protection & PROT_EXEC) ? std::optional<int>(protection) : std::nullopt;
  }
  return std::nullopt;
}

// The protection of the code page at address: a driver's section, or a program's code; nullopt
// when it is neither.
std::optional<int> CodeProtection(std::uint64_t address) {
  const Kernel* kernel = Kernel::CurrentOrNull();
  if (const Module* m = kernel ? kernel->ModuleAt(address) : nullptr) {
    const auto rva = static_cast<std::uint32_t>(address - m->image->base());
    for (const auto& s : m->image->pe().sections()) {
      if (rva >= s.virtualAddress && rva < s.virtualAddress + s.virtualSize) return SectionProtection(s.characteristics);
    }
    return PROT_READ | PROT_EXEC;
  }
  if (address < mm::kUserProbeAddress) return ProgramCodeProtection(address);
  return std::nullopt;
}

// Code pages are mapped without write access: the byte is written with the page made writable for
// the moment.
bool WriteCode(std::uint64_t address, std::uint8_t value, int protection) {
  void* page = reinterpret_cast<void*>(address & ~0xFFFull);
  if (mprotect(page, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return false;
  const bool written = cpu::SafeCopy(reinterpret_cast<void*>(address), &value, 1);
  mprotect(page, 0x1000, protection);
  __builtin___clear_cache(reinterpret_cast<char*>(address), reinterpret_cast<char*>(address + 1));
  return written;
}

std::optional<Written> OriginalAt(std::uint64_t address) {
  std::lock_guard lock(g_breakpointsMutex);
  const auto it = g_breakpoints.find(address);
  if (it == g_breakpoints.end()) return std::nullopt;
  return it->second;
}

// The stopped thread goes on with the registers the debugger left: one step under TF when asked,
// and where it resumes at a breakpoint, that instruction runs first with the original byte (the
// breakpoint is written back at the trace trap after it; a breakpoint does not stop twice at one
// place).
void GoOn(ucontext_t* uc, const CONTEXT& context, enum Resume how) {
  FromContext(context, uc);
  t_step.stepping = how == Resume::kStep;
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (const auto written = OriginalAt(rip)) {
    WriteCode(rip, written->original, written->protection);
    t_step.reinsert = rip;
  }
  SetTrace(uc, t_step.stepping || t_step.reinsert);
}

bool InDriver(std::uint64_t address) {
  const Kernel* kernel = Kernel::CurrentOrNull();
  return kernel && kernel->ModuleAt(address);
}

// Code the debugger debugs: drivers' and programs' (not the kernel's own).
bool InDebuggee(std::uint64_t address) { return address < mm::kUserProbeAddress || InDriver(address); }

// A stop of a thread in its program's own code: it holds no kernel lock there, and takes it so
// that the machine's kernel side freezes too (bounded: a driver that keeps the lock is not waited
// for past a second).
class ProgramStopLock {
 public:
  ProgramStopLock() {
    if (!cpu::InUserMode()) return;
    taken_ = ke::TheKernelLock().TryLockFor(std::chrono::milliseconds(1000));
  }
  ~ProgramStopLock() {
    if (taken_) ke::TheKernelLock().unlock();
  }
  ProgramStopLock(const ProgramStopLock&) = delete;
  ProgramStopLock& operator=(const ProgramStopLock&) = delete;

 private:
  bool taken_ = false;
};

}  // namespace

std::atomic<UserContextProvider> g_userContext{nullptr};

void SetUserContextProvider(UserContextProvider provider) { g_userContext = provider; }

bool ProgramContextAtSystemCall(CONTEXT& out) {
  const UserContextProvider provider = g_userContext.load();
  return provider && provider(out);
}

bool Attached() { return g_attached.load(std::memory_order_relaxed); }
bool Frozen() { return g_frozen.load(std::memory_order_relaxed); }

Debugger& Debugger::Get() {
  static Debugger debugger;
  return debugger;
}

Debugger::Debugger() : eventFd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

bool Debugger::Attach() {
  std::lock_guard lock(g_mutex);
  if (g_attached.exchange(true)) return false;
  SetKdDebuggerPresent(true);
  return true;
}

void Debugger::Detach() {
  {
    std::lock_guard lock(g_watchMutex);
    for (const auto& [page, p] : g_watchedPages) mprotect(reinterpret_cast<void*>(page), 0x1000, p.normal);
    g_watchedPages.clear();
    g_watches.clear();
  }
  {
    std::lock_guard lock(g_breakpointsMutex);
    for (const auto& [address, written] : g_breakpoints) WriteCode(address, written.original, written.protection);
    g_breakpoints.clear();
    g_stepReturns.clear();
  }
  std::unique_lock lock(g_mutex);
  g_attached = false;
  g_stopOnLoad = false;
  SetKdDebuggerPresent(false);
  lock.unlock();
  Resume(Resume::kGo);
}

Result<void> Debugger::Insert(std::uint64_t address) {
  std::lock_guard lock(g_breakpointsMutex);
  if (g_breakpoints.contains(address)) return {};
  const auto protection = CodeProtection(address);
  if (!protection) return Fail(fmt::format("{:#x} is not in the code of a loaded driver or program", address));
  Written written{0, *protection};
  if (!cpu::SafeCopy(&written.original, reinterpret_cast<const void*>(address), 1)) {
    return Fail(fmt::format("memory at {:#x} cannot be read", address));
  }
  if (!WriteCode(address, 0xCC, written.protection)) return Fail(fmt::format("memory at {:#x} cannot be written", address));
  g_breakpoints[address] = written;
  return {};
}

void Debugger::Remove(std::uint64_t address) {
  std::lock_guard lock(g_breakpointsMutex);
  const auto it = g_breakpoints.find(address);
  if (it == g_breakpoints.end()) return;
  WriteCode(address, it->second.original, it->second.protection);
  g_breakpoints.erase(it);
}

void Debugger::HideBreakpoints(std::uint64_t address, std::span<std::uint8_t> bytes) const {
  std::lock_guard lock(g_breakpointsMutex);
  for (auto it = g_breakpoints.lower_bound(address); it != g_breakpoints.end() && it->first < address + bytes.size(); ++it) {
    bytes[it->first - address] = it->second.original;
  }
}

Result<void> Debugger::Watch(std::uint64_t address, std::uint32_t size, Access access) {
  if (size != 1 && size != 2 && size != 4 && size != 8) return Fail("the size is 1, 2, 4 or 8");
  if (address & (size - 1)) return Fail("the address is not aligned to the size");
  const Kernel* kernel = Kernel::CurrentOrNull();
  const Module* m = kernel ? kernel->ModuleAt(address) : nullptr;
  std::uint8_t probe = 0;
  if (!cpu::SafeCopy(&probe, reinterpret_cast<const void*>(address), 1)) return Fail("the memory cannot be read");
  std::lock_guard lock(g_watchMutex);
  const std::uint64_t page = address & ~0xFFFull;
  WatchedPage p;
  if (m) {
    // A driver's data: its section's protection, as the loader mapped it.
    const auto rva = static_cast<std::uint32_t>(address - m->image->base());
    for (const auto& sec : m->image->pe().sections()) {
      if (rva < sec.virtualAddress || rva >= sec.virtualAddress + sec.virtualSize) continue;
      if (sec.characteristics & 0x20000000) return Fail("the address is code: ba e is a breakpoint (bp)");
      p.normal = ((sec.characteristics & 0x40000000) ? PROT_READ : 0) | ((sec.characteristics & 0x80000000) ? PROT_WRITE : 0);
    }
  }
  auto [it, added] = g_watchedPages.emplace(page, p);
  // Reads too: the page is closed entirely; writes only: it stays readable.
  it->second.watched = access == Access::kReadWrite ? PROT_NONE : (it->second.watched & PROT_READ ? PROT_READ : PROT_NONE);
  for (const auto& w : g_watches) {
    if ((w.address & ~0xFFFull) == page && w.access == Access::kReadWrite) it->second.watched = PROT_NONE;
  }
  g_watches.push_back({address, size, access});
  if (mprotect(reinterpret_cast<void*>(page), 0x1000, it->second.watched) != 0) {
    g_watches.pop_back();
    if (added) g_watchedPages.erase(it);
    return Fail("the page cannot be protected");
  }
  return {};
}

void Debugger::Unwatch(std::uint64_t address) {
  std::lock_guard lock(g_watchMutex);
  std::erase_if(g_watches, [&](const Watched& w) { return w.address == address; });
  const std::uint64_t page = address & ~0xFFFull;
  const auto it = g_watchedPages.find(page);
  if (it == g_watchedPages.end()) return;
  int watched = -1;
  for (const auto& w : g_watches) {
    if ((w.address & ~0xFFFull) != page) continue;
    watched = w.access == Access::kReadWrite ? PROT_NONE : (watched == PROT_NONE ? PROT_NONE : PROT_READ);
  }
  if (watched < 0) {
    mprotect(reinterpret_cast<void*>(page), 0x1000, it->second.normal);
    g_watchedPages.erase(it);
  } else {
    it->second.watched = watched;
    mprotect(reinterpret_cast<void*>(page), 0x1000, watched);
  }
}

bool Debugger::OnWatchFault(ucontext_t* uc, std::uint64_t address) {
  const std::uint64_t page = address & ~0xFFFull;
  std::lock_guard lock(g_watchMutex);
  const auto it = g_watchedPages.find(page);
  if (it == g_watchedPages.end()) return false;
  const bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  for (const auto& w : g_watches) {
    if (address + 1 <= w.address || address >= w.address + w.size) continue;
    if (w.access == Access::kWrite && !write) continue;
    if (InDriver(rip)) t_step.watchHit = w.address;
  }
  // The access runs once with the page open; the trace trap after it closes the page again.
  mprotect(reinterpret_cast<void*>(page), 0x1000, it->second.normal);
  t_step.reprotect = page;
  SetTrace(uc, true);
  return true;
}

bool Debugger::IsBreakpoint(std::uint64_t address) const { return OriginalAt(address).has_value(); }

void Debugger::OnModuleUnload(std::uint64_t base, std::uint64_t end) {
  std::lock_guard lock(g_breakpointsMutex);
  g_breakpoints.erase(g_breakpoints.lower_bound(base), g_breakpoints.lower_bound(end));
  g_stepReturns.erase(g_stepReturns.lower_bound(base), g_stepReturns.lower_bound(end));
}

void Debugger::SetStopOnLoad(bool on) {
  std::lock_guard lock(g_mutex);
  g_stopOnLoad = on;
}

Stop* Debugger::current() {
  std::lock_guard lock(g_mutex);
  return g_current;
}

void Debugger::Notify() {
  const std::uint64_t one = 1;
  (void)!write(eventFd_, &one, sizeof one);
}

void Debugger::Drain() {
  std::uint64_t value;
  (void)!read(eventFd_, &value, sizeof value);
}

void Debugger::Resume(enum Resume how) {
  std::unique_lock lock(g_mutex);
  Stop* stop = g_current;
  if (!stop) return;
  g_current = nullptr;
  g_frozen = false;
  cpu::ThawUserMode();
  Drain();
  if (stop == &g_ownStop) {
    if (g_ownsKernelLock) {
      g_ownsKernelLock = false;
      ke::TheKernelLock().unlock();
    }
  } else {
    g_resumed[stop] = how;
  }
  g_changed.notify_all();
}

enum Resume Debugger::Wait(Stop& stop) {
  // What only this thread knows: where its program entered the kernel (none when it stopped in the
  // program's own code: its context is the program's).
  if (stop.thread && stop.thread->process) {
    stop.hasUserContext = !cpu::InUserMode() && ProgramContextAtSystemCall(stop.userContext);
    stop.peb = stop.thread->process->peb();
  }
  const ProgramStopLock kernelSide;
  std::unique_lock lock(g_mutex);
  // One stop at a time: another thread that stopped meanwhile waits its turn.
  g_changed.wait(lock, [] { return g_current == nullptr || !g_attached; });
  if (!g_attached) return Resume::kGo;
  g_current = &stop;
  g_frozen = true;
  // Programs' threads in their own code stop too before the debugger sees the stop.
  lock.unlock();
  cpu::FreezeUserMode();
  lock.lock();
  Notify();
  g_changed.wait(lock, [&] { return g_resumed.contains(&stop) || !g_attached; });
  const auto it = g_resumed.find(&stop);
  const enum Resume how = it == g_resumed.end() ? Resume::kGo : it->second;
  if (it != g_resumed.end()) g_resumed.erase(it);
  if (g_current == &stop) {
    g_current = nullptr;
    g_frozen = false;
    cpu::ThawUserMode();
    Drain();
  }
  return how;
}

void Debugger::BreakIn() {
  std::unique_lock lock(g_mutex);
  if (!g_attached || g_current) return;
  lock.unlock();
  ke::KernelLock& kernelLock = ke::TheKernelLock();
  for (int attempt = 0; attempt < 50; ++attempt) {
    // Driver code that keeps the kernel stops where it runs.
    if (const auto holder = kernelLock.holder(); holder.pthread) cpu::RequestBreakIn(holder.pthread);
    lock.lock();
    if (g_changed.wait_for(lock, std::chrono::milliseconds(50), [] { return g_current != nullptr; })) return;
    lock.unlock();
    // A program thread spinning in its own code stops where it is.
    for (std::size_t i = 0; attempt == 0 && cpu::RequestProgramBreakIn(i); ++i) {
      lock.lock();
      if (g_changed.wait_for(lock, std::chrono::milliseconds(20), [] { return g_current != nullptr; })) return;
      lock.unlock();
    }
    // Nothing ran driver or program code: the debugger's thread takes the machine itself.
    if (kernelLock.TryLockFor(std::chrono::milliseconds(50))) {
      lock.lock();
      if (g_current) {  // a breakpoint came first
        lock.unlock();
        kernelLock.unlock();
        return;
      }
      g_ownStop = Stop{};
      g_ownStop.reason = StopReason::kBreakIn;
      g_ownsKernelLock = true;
      g_current = &g_ownStop;
      g_frozen = true;
      lock.unlock();
      cpu::FreezeUserMode();
      Notify();
      return;
    }
  }
}

bool Debugger::OnBreakInstruction(ucontext_t* uc, ke::KernelThread* t) {
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const std::uint64_t at = rip - 1;
  const auto original = OriginalAt(at);
  if (!original && !Attached()) return false;
  Stop stop;
  stop.thread = t;
  stop.processor = t->processor;
  stop.address = at;
  ToContext(uc, stop.context);
  stop.hasContext = true;
  bool stepReturn = false;
  if (original) {
    std::unique_lock lock(g_breakpointsMutex);
    const auto it = g_stepReturns.find(at);
    if (it != g_stepReturns.end() && it->second != t) {
      // Another thread's step ends here, not this one's: it runs the original instruction on.
      WriteCode(at, original->original, original->protection);
      lock.unlock();
      uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(at);
      t_step.reinsert = at;
      SetTrace(uc, true);
      return true;
    }
    if (it != g_stepReturns.end()) {
      stepReturn = true;
      g_stepReturns.erase(it);
    }
  }
  if (stepReturn) Remove(at);
  stop.reason = !original ? StopReason::kBreakInstruction : stepReturn ? StopReason::kStep : StopReason::kBreakpoint;
  stop.context.Rip = at;  // as the debugger shows it: at the breakpoint or the int 3
  const enum Resume how = Wait(stop);
  // A break instruction of the code itself is not run twice: going on at it goes on after it.
  if (!original && stop.context.Rip == at) stop.context.Rip = at + 1;
  GoOn(uc, stop.context, how);
  return true;
}

bool Debugger::OnTraceTrap(ucontext_t* uc, ke::KernelThread* t) {
  if (!t_step.stepping && !t_step.reinsert && !t_step.reprotect) return false;
  if (t_step.reinsert) {
    const std::uint64_t at = t_step.reinsert;
    t_step.reinsert = 0;
    if (const auto written = OriginalAt(at)) WriteCode(at, 0xCC, written->protection);
  }
  if (t_step.reprotect) {
    std::lock_guard lock(g_watchMutex);
    if (const auto it = g_watchedPages.find(t_step.reprotect); it != g_watchedPages.end()) {
      mprotect(reinterpret_cast<void*>(it->first), 0x1000, it->second.watched);
    }
    t_step.reprotect = 0;
  }
  SetTrace(uc, false);
  if (t_step.watchHit && t) {
    // The watched access happened: the stop is after it, at the next instruction.
    Stop stop;
    stop.reason = StopReason::kDataBreakpoint;
    stop.thread = t;
    stop.processor = t->processor;
    stop.address = t_step.watchHit;
    t_step.watchHit = 0;
    t_step.stepping = false;
    ToContext(uc, stop.context);
    stop.hasContext = true;
    GoOn(uc, stop.context, Wait(stop));
    return true;
  }
  if (!t_step.stepping) return true;
  t_step.stepping = false;
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (!InDebuggee(rip)) {
    // The step went into the kernel's own code (a call or jump to an export, a program's system
    // call): it ends where that returns to driver or program code.
    std::uint64_t ret = 0;
    const auto rsp = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RSP]);
    // A breakpoint of the user's already there ends the step by itself.
    if (cpu::SafeCopy(&ret, reinterpret_cast<const void*>(rsp), 8) && InDebuggee(ret)) {
      if (!OriginalAt(ret) && Insert(ret)) {
        std::lock_guard lock(g_breakpointsMutex);
        g_stepReturns[ret] = t;
      }
      return true;
    }
    // It left driver code for good (a return into the kernel): the step ends there, at a place
    // where the kernel's code holds nothing (just after its call of the driver).
  }
  Stop stop;
  stop.reason = StopReason::kStep;
  stop.thread = t;
  stop.processor = t->processor;
  stop.address = rip;
  ToContext(uc, stop.context);
  stop.hasContext = true;
  GoOn(uc, stop.context, Wait(stop));
  return true;
}

void Debugger::AfterEmulatedStep(ucontext_t* uc, ke::KernelThread* t) {
  if (t_step.stepping || t_step.reinsert) OnTraceTrap(uc, t);
}

bool Debugger::OnBreakInSignal(ucontext_t* uc, ke::KernelThread* t) {
  if (!Attached() || !t || !t->guard) return false;
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  // Driver code, or a program's own code (not ntbox's on either side).
  const bool program = t->guard == t->userGuard;
  if (program ? rip >= mm::kUserProbeAddress : !InDriver(rip)) return false;
  Stop stop;
  stop.reason = StopReason::kBreakIn;
  stop.thread = t;
  stop.processor = t->processor;
  ToContext(uc, stop.context);
  stop.address = stop.context.Rip;
  stop.hasContext = true;
  GoOn(uc, stop.context, Wait(stop));
  return true;
}

void Debugger::OnBugCheck(const BugCheck& record, ke::KernelThread* t) {
  if (!Attached() || record.code == ke::kStopUnwindCode) return;
  Stop stop;
  stop.reason = StopReason::kBugCheck;
  stop.thread = t;
  stop.processor = t ? t->processor : 0;
  stop.bugCheck = &record;
  stop.address = record.address;
  if (record.hasContext) {
    const auto r = [&](Reg reg) { return record.registers[static_cast<int>(reg)]; };
    stop.context.Rax = r(Reg::rax);
    stop.context.Rbx = r(Reg::rbx);
    stop.context.Rcx = r(Reg::rcx);
    stop.context.Rdx = r(Reg::rdx);
    stop.context.Rsi = r(Reg::rsi);
    stop.context.Rdi = r(Reg::rdi);
    stop.context.Rip = r(Reg::rip);
    stop.context.Rsp = r(Reg::rsp);
    stop.context.Rbp = r(Reg::rbp);
    stop.context.R8 = r(Reg::r8);
    stop.context.R9 = r(Reg::r9);
    stop.context.R10 = r(Reg::r10);
    stop.context.R11 = r(Reg::r11);
    stop.context.R12 = r(Reg::r12);
    stop.context.R13 = r(Reg::r13);
    stop.context.R14 = r(Reg::r14);
    stop.context.R15 = r(Reg::r15);
    stop.context.EFlags = static_cast<ULONG>(r(Reg::efl));
    stop.context.SegCs = 0x10;
    stop.context.SegSs = 0x18;
    stop.hasContext = true;
  }
  (void)Wait(stop);
}

void Debugger::OnModuleLoad(const std::string& name, std::uint64_t base, std::uint64_t end) {
  ModuleLoadStop(name, base, end, {});
}

void Debugger::OnProgramImageLoad(const std::string& ntPath, std::uint64_t base, std::uint64_t end) {
  std::string name = ntPath.substr(ntPath.find_last_of("\\/") + 1);
  if (const auto dot = name.rfind('.'); dot != std::string::npos) name.resize(dot);
  ModuleLoadStop(name, base, end, ntPath);
}

void Debugger::ModuleLoadStop(const std::string& name, std::uint64_t base, std::uint64_t end,
                              const std::string& programPath) {
  {
    std::lock_guard lock(g_mutex);
    if (!g_attached || !g_stopOnLoad) return;
  }
  Stop stop;
  stop.reason = StopReason::kModuleLoad;
  stop.thread = ke::CurrentThread();
  stop.processor = stop.thread ? stop.thread->processor : 0;
  stop.moduleName = name;
  stop.moduleBase = base;
  stop.moduleEnd = end;
  stop.modulePath = programPath;
  stop.userModule = !programPath.empty();
  (void)Wait(stop);
}

}  // namespace ntbox::nt::kd
