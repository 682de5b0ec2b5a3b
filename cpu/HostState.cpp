#include "cpu/HostState.h"

#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>

namespace ntbox::cpu {
namespace {

constexpr unsigned long kHwcap2FsGsBase = 2;       // HWCAP2_FSGSBASE: rd/wr{fs,gs}base in user mode

// One record per registered thread, found by thread id or by the altstack the trap handler runs on:
// never through thread-local storage.
struct Slot {
  std::atomic<std::int32_t> tid{0};
  std::atomic<std::uint64_t> fsBase{0}, gsBase{0}, altStack{0}, altStackEnd{0};
  std::atomic<std::uint32_t> gsSelfOffset{0x18};
};
constexpr std::size_t kSlots = 1024;
Slot g_slots[kSlots];
std::atomic<std::size_t> g_used{0};  // slots at and above are untouched: scans stop there

// System calls without errno (errno is thread-local).
long RawSyscall2(long number, long a, long b) {
  long result;
  asm volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return result;
}

std::int32_t RawGettid() { return static_cast<std::int32_t>(RawSyscall2(SYS_gettid, 0, 0)); }

bool HaveFsGsBaseInstructions() {
  static const bool have = (getauxval(AT_HWCAP2) & kHwcap2FsGsBase) != 0;
  return have;
}

std::uint64_t ReadBase(int code) {
  std::uint64_t value = 0;
  RawSyscall2(SYS_arch_prctl, code, reinterpret_cast<long>(&value));
  return value;
}

Slot* FindByTid(std::int32_t tid) {
  const std::size_t used = g_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    if (g_slots[i].tid.load(std::memory_order_acquire) == tid) return &g_slots[i];
  }
  return nullptr;
}

Slot* FindByStack(std::uint64_t sp) {
  const std::size_t used = g_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    Slot& s = g_slots[i];
    if (s.tid.load(std::memory_order_acquire) != 0 && sp - s.altStack.load(std::memory_order_relaxed) <
                                                          s.altStackEnd.load(std::memory_order_relaxed) -
                                                              s.altStack.load(std::memory_order_relaxed)) {
      return &s;
    }
  }
  return nullptr;
}

unsigned Restore(const Slot* slot) {
  unsigned what = 0;
  std::uint64_t flags;
  asm volatile("pushfq\n\tpop %0" : "=r"(flags));
  if (flags & eflags::kHostClears) {
    asm volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq" : : "i"(~eflags::kHostClears) : "cc", "memory");
    what |= disturbed::kFlags;
  }
  if (!slot) return what;
  std::uint32_t fs, gs;
  asm volatile("mov %%fs, %0\n\tmov %%gs, %1" : "=r"(fs), "=r"(gs));
  const std::uint64_t wantFs = slot->fsBase.load(std::memory_order_relaxed);
  const std::uint64_t wantGs = slot->gsBase.load(std::memory_order_relaxed);
  std::uint64_t haveFs, haveGs;
  if (HaveFsGsBaseInstructions()) {
    asm volatile("rdfsbase %0\n\trdgsbase %1" : "=r"(haveFs), "=r"(haveGs));
  } else {
    haveFs = ReadBase(ARCH_GET_FS);
    haveGs = ReadBase(ARCH_GET_GS);
  }
  // arch_prctl loads a null selector along with the base.
  if (fs != 0 || haveFs != wantFs) {
    RawSyscall2(SYS_arch_prctl, ARCH_SET_FS, static_cast<long>(wantFs));
    what |= disturbed::kFs;
  }
  if (gs != 0 || haveGs != wantGs) {
    RawSyscall2(SYS_arch_prctl, ARCH_SET_GS, static_cast<long>(wantGs));
    what |= disturbed::kGs;
  }
  return what;
}

}  // namespace
}  // namespace ntbox::cpu

// Reads the word at fs:[0] (rdi = 0) or gs:[rsi] (rdi = 1); 0 when the read faults (the trap
// handler moves rip to the end, see RecoverBaseProbeFault).
asm(R"(
  .text
  .globl ntbox_probe_base
ntbox_probe_base:
  xor %eax, %eax
  test %edi, %edi
  jnz 1f
  .globl ntbox_probe_fs
ntbox_probe_fs:
  mov %fs:0, %rax
  ret
1:
  .globl ntbox_probe_gs
ntbox_probe_gs:
  mov %gs:(%rsi), %rax
  .globl ntbox_probe_end
ntbox_probe_end:
  ret
)");
extern "C" std::uint64_t ntbox_probe_base(int gs, std::uint64_t offset);
extern "C" char ntbox_probe_fs[], ntbox_probe_gs[], ntbox_probe_end[];

namespace ntbox::cpu {

bool RecoverBaseProbeFault(std::uint64_t& rip, std::uint64_t& rax) {
  if (rip != reinterpret_cast<std::uint64_t>(ntbox_probe_fs) && rip != reinterpret_cast<std::uint64_t>(ntbox_probe_gs)) {
    return false;
  }
  rip = reinterpret_cast<std::uint64_t>(ntbox_probe_end);
  rax = 0;
  return true;
}

unsigned RestoreHostStateInTrap() {
  const auto sp = reinterpret_cast<std::uint64_t>(__builtin_frame_address(0));
  const Slot* slot = FindByStack(sp);
  if (!slot) return Restore(nullptr);
  if (HaveFsGsBaseInstructions()) return Restore(slot);
  std::uint32_t fs, gs;
  asm volatile("mov %%fs, %0\n\tmov %%gs, %1" : "=r"(fs), "=r"(gs));
  const std::uint64_t wantFs = slot->fsBase.load(std::memory_order_relaxed);
  const std::uint64_t wantGs = slot->gsBase.load(std::memory_order_relaxed);
  unsigned what = 0;
  if (fs != 0 || ntbox_probe_base(0, 0) != wantFs) {
    RawSyscall2(SYS_arch_prctl, ARCH_SET_FS, static_cast<long>(wantFs));
    what |= disturbed::kFs;
  }
  if (gs != 0 || ntbox_probe_base(1, slot->gsSelfOffset.load(std::memory_order_relaxed)) != wantGs) {
    RawSyscall2(SYS_arch_prctl, ARCH_SET_GS, static_cast<long>(wantGs));
    what |= disturbed::kGs;
  }
  return what;
}

void RegisterHostThread(std::uint64_t gsBase, std::uint64_t altStack, std::uint64_t altStackSize,
                        std::uint32_t gsSelfOffset) {
  HaveFsGsBaseInstructions();  // decided now, not first in a trap handler
  const std::int32_t tid = RawGettid();
  Slot* slot = FindByTid(tid);
  for (std::size_t i = 0; !slot && i < kSlots; ++i) {
    std::int32_t free = 0;
    if (g_slots[i].tid.compare_exchange_strong(free, -1)) {
      slot = &g_slots[i];
      std::size_t used = g_used.load();
      while (used < i + 1 && !g_used.compare_exchange_weak(used, i + 1)) {
      }
    }
  }
  if (!slot) return;  // more threads than slots: they go without repair
  slot->fsBase.store(ReadBase(ARCH_GET_FS), std::memory_order_relaxed);
  slot->gsBase.store(gsBase, std::memory_order_relaxed);
  slot->gsSelfOffset.store(gsSelfOffset, std::memory_order_relaxed);
  slot->altStack.store(altStack, std::memory_order_relaxed);
  slot->altStackEnd.store(altStack + altStackSize, std::memory_order_relaxed);
  slot->tid.store(tid, std::memory_order_release);
}


void UnregisterHostThread() {
  if (Slot* slot = FindByTid(RawGettid())) slot->tid.store(0, std::memory_order_release);
}

unsigned RestoreHostState() {
  // On the trap handler's altstack the record is found without a system call.
  const auto sp = reinterpret_cast<std::uint64_t>(__builtin_frame_address(0));
  const Slot* slot = FindByStack(sp);
  return Restore(slot ? slot : FindByTid(RawGettid()));
}

}  // namespace ntbox::cpu

extern "C" void ntbox_restore_host_state_c() { ntbox::cpu::RestoreHostState(); }

// Called from an export thunk: rcx, rdx, r8, r9 and xmm0-3 hold the export's arguments, and the
// driver expects rsi, rdi and xmm6-15 kept (Windows' ABI), which the C function need not keep.
// Keeps them all, aligns the stack for the call, and returns to the thunk.
asm(R"(
  .text
  .globl ntbox_restore_host_state
ntbox_restore_host_state:
  push %rbp
  mov %rsp, %rbp
  and $-16, %rsp
  sub $0x120, %rsp
  mov %rcx, 0x00(%rsp)
  mov %rdx, 0x08(%rsp)
  mov %r8, 0x10(%rsp)
  mov %r9, 0x18(%rsp)
  mov %rax, 0x20(%rsp)
  mov %rsi, 0x28(%rsp)
  mov %rdi, 0x30(%rsp)
  movdqu %xmm0, 0x40(%rsp)
  movdqu %xmm1, 0x50(%rsp)
  movdqu %xmm2, 0x60(%rsp)
  movdqu %xmm3, 0x70(%rsp)
  movdqu %xmm6, 0x80(%rsp)
  movdqu %xmm7, 0x90(%rsp)
  movdqu %xmm8, 0xa0(%rsp)
  movdqu %xmm9, 0xb0(%rsp)
  movdqu %xmm10, 0xc0(%rsp)
  movdqu %xmm11, 0xd0(%rsp)
  movdqu %xmm12, 0xe0(%rsp)
  movdqu %xmm13, 0xf0(%rsp)
  movdqu %xmm14, 0x100(%rsp)
  movdqu %xmm15, 0x110(%rsp)
  call ntbox_restore_host_state_c
  mov 0x00(%rsp), %rcx
  mov 0x08(%rsp), %rdx
  mov 0x10(%rsp), %r8
  mov 0x18(%rsp), %r9
  mov 0x20(%rsp), %rax
  mov 0x28(%rsp), %rsi
  mov 0x30(%rsp), %rdi
  movdqu 0x40(%rsp), %xmm0
  movdqu 0x50(%rsp), %xmm1
  movdqu 0x60(%rsp), %xmm2
  movdqu 0x70(%rsp), %xmm3
  movdqu 0x80(%rsp), %xmm6
  movdqu 0x90(%rsp), %xmm7
  movdqu 0xa0(%rsp), %xmm8
  movdqu 0xb0(%rsp), %xmm9
  movdqu 0xc0(%rsp), %xmm10
  movdqu 0xd0(%rsp), %xmm11
  movdqu 0xe0(%rsp), %xmm12
  movdqu 0xf0(%rsp), %xmm13
  movdqu 0x100(%rsp), %xmm14
  movdqu 0x110(%rsp), %xmm15
  mov %rbp, %rsp
  pop %rbp
  ret
)");

// ntbox_call_driver(fn, a, b, c, d, e, f, g): calls the Windows-ABI routine fn(a, ..., g) (the
// fifth to seventh in the stack slots above the home space) and returns its rax. The registers the host's code keeps across calls (rbx, rbp, r12-r15) are saved here and put
// back whatever the routine did to them: a driver that breaks the calling convention (hand-written
// assembly forgetting to restore rbx) corrupts nothing of the host's.
asm(R"(
  .text
  .globl ntbox_call_driver
  .type ntbox_call_driver, @function
ntbox_call_driver:
  .cfi_startproc
  push %rbx
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbx, 0
  push %rbp
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbp, 0
  push %r12
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r12, 0
  push %r13
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r13, 0
  push %r14
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r14, 0
  push %r15
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r15, 0
  sub $0x38, %rsp
  .cfi_adjust_cfa_offset 0x38
  mov %r9, 0x20(%rsp)
  mov 0x70(%rsp), %rax
  mov %rax, 0x28(%rsp)
  mov 0x78(%rsp), %rax
  mov %rax, 0x30(%rsp)
  mov %r8, %r9
  mov %rcx, %r8
  mov %rsi, %rcx
  mov %rdi, %rax
  call *%rax
  .globl ntbox_call_driver_return
ntbox_call_driver_return:
  add $0x38, %rsp
  .cfi_adjust_cfa_offset -0x38
  pop %r15
  .cfi_adjust_cfa_offset -8
  pop %r14
  .cfi_adjust_cfa_offset -8
  pop %r13
  .cfi_adjust_cfa_offset -8
  pop %r12
  .cfi_adjust_cfa_offset -8
  pop %rbp
  .cfi_adjust_cfa_offset -8
  pop %rbx
  .cfi_adjust_cfa_offset -8
  ret
  .cfi_endproc
  .size ntbox_call_driver, .-ntbox_call_driver
)");
