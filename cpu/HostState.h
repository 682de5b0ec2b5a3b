// The host CPU state driver and program code can leave behind, and its repair at every entry into
// host code. ntbox's own code (compiled by gcc for Linux) relies on state a Windows driver may
// legally or wrongly change: the direction flag clear, alignment checking (EFLAGS.AC) and
// single-stepping (TF) off, FS and GS with null selectors and the bases Linux gave the thread (FS:
// glibc's thread pointer; GS: the thread's KPCR). A driver that sets AC makes the next unaligned
// access in host code a SIGBUS, one that loads FS breaks every thread-local variable. As a real
// kernel saves and restores state around a trap, ntbox puts its state back where driver code enters
// host code: the export entry thunks, the trap handler, and the return of every driver routine
// ntbox calls (CallDriver). MXCSR and the x87 control word are left to the driver (Windows' ABI
// keeps them across calls); the trap handler masks an exception they unmask in host code.
#pragma once
#include <cstdint>
#include <type_traits>

// The Windows-ABI call under CallDriver (cpu/HostState.cpp).
extern "C" std::uint64_t ntbox_call_driver(const void* fn, std::uint64_t a, std::uint64_t b, std::uint64_t c,
                                            std::uint64_t d, std::uint64_t e, std::uint64_t f, std::uint64_t g);

namespace ntbox::cpu {

// The flags host code needs clear.
namespace eflags {
constexpr std::uint64_t kTf = 0x100, kDf = 0x400, kAc = 0x40000;
constexpr std::uint64_t kHostClears = kAc | kDf | kTf;
}  // namespace eflags

// What RestoreHostState found wrong (for reports and tests).
namespace disturbed {
constexpr unsigned kFlags = 0x1;  // AC, TF or DF set
constexpr unsigned kFs = 0x2;     // FS selector or base changed
constexpr unsigned kGs = 0x4;     // GS selector or base changed
}  // namespace disturbed

// Records the calling thread's host FS base and its GS base (the KPCR) so they can be put back
// without thread-local storage, which a broken FS makes unreadable. Threads that run driver code
// register (ThreadAttachment); the altstack range lets the trap handler find the record by stack.
// gsSelfOffset: where the GS block holds its own address (0x18 in a KPCR, 0x30 in a program
// thread's TEB, which is also its KPCR; see user/README.md).
void RegisterHostThread(std::uint64_t gsBase, std::uint64_t altStack, std::uint64_t altStackSize,
                        std::uint32_t gsSelfOffset = 0x18);
void UnregisterHostThread();

// Puts flags, FS and GS back for the calling thread (uses no thread-local storage); returns the
// disturbed:: bits of what was wrong. Costs system calls: for the slow paths.
unsigned RestoreHostState();
// The same in the trap handler, without a system call unless something is wrong: FS and GS are
// checked by reading the words their bases point at (glibc's thread pointer at fs:[0], the GS
// block's own address at gs:[0x18] or gs:[0x30]), a read that may fault when a base is gone; the handler recovers such a fault
// through RecoverBaseProbeFault first thing, before it touches anything else.
unsigned RestoreHostStateInTrap();
// True (and rip moved past the read, rax = 0) when rip faulted in RestoreHostStateInTrap's read.
bool RecoverBaseProbeFault(std::uint64_t& rip, std::uint64_t& rax);

// The cheap check: AC or TF set, or a segment selector loaded into FS or GS.
inline bool HostStateDisturbed() {
  std::uint64_t flags;
  std::uint32_t fs, gs;
  asm volatile("pushfq\n\tpop %0\n\tmov %%fs, %1\n\tmov %%gs, %2" : "=r"(flags), "=r"(fs), "=r"(gs));
  return (flags & eflags::kHostClears) != 0 || (fs | gs) != 0;
}

// First in every signal handler: Linux clears DF and TF for a handler but not AC, and any host code
// may make an unaligned access.
[[gnu::always_inline]] inline void ClearAlignmentCheck() {
  asm volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq" : : "i"(~eflags::kAc) : "cc", "memory");
}

// The start of a signal handler other than the trap handler (which first recovers its own FS/GS
// check): AC, then FS and GS, before thread-local storage is touched.
[[gnu::always_inline]] inline unsigned EnterSignalHandler() {
  ClearAlignmentCheck();
  return RestoreHostStateInTrap();
}

// After driver code returned into host code.
inline void ReturnFromDriver() {
  asm volatile("cld" ::: "memory");
  if (HostStateDisturbed()) RestoreHostState();
}

// Calls a driver routine (Windows' ABI, up to seven integer or pointer arguments: ETW's enable
// callback has seven) and puts the host state back when it returns, the registers the host keeps
// across calls included.
template <class Fn, class... Args>
decltype(auto) CallDriver(Fn fn, Args... args) {
  static_assert(std::is_pointer_v<Fn> && sizeof...(Args) <= 7, "a driver routine with at most seven arguments");
  using R = decltype(fn(args...));
  auto word = []<class T>(T v) -> std::uint64_t {
    if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
      return reinterpret_cast<std::uint64_t>(v);
    } else {
      return static_cast<std::uint64_t>(v);
    }
  };
  std::uint64_t a[7] = {word(args)...};
  const std::uint64_t rax =
      ntbox_call_driver(reinterpret_cast<const void*>(fn), a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
  ReturnFromDriver();
  if constexpr (std::is_void_v<R>) {
    (void)rax;
  } else if constexpr (std::is_pointer_v<R>) {
    return reinterpret_cast<R>(rax);
  } else {
    return static_cast<R>(rax);
  }
}

}  // namespace ntbox::cpu

// The export thunks' slow path: RestoreHostState, preserving every argument register.
extern "C" void ntbox_restore_host_state();
