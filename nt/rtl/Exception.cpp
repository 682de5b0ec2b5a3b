#include "nt/rtl/Exception.h"

#include "nt/rtl/HostUnwind.h"
#include "nt/support/HostSymbols.h"

#include "cpu/Trap.h"

#include "cpu/ContextAsm.h"
#include "cpu/Rewriter.h"
#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "nt/ExportThunks.h"

#include "nt/ke/KeExports.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Raise.h"
#include "nt/ex/PoolExports.h"

// The caller's context, as an export entered from a driver sees it: non-volatile registers
// (they still hold the driver's values), rsp after the return and rip = the return address.
// Stored in the KPCR's spare tail (gs:[0x18] is the KPCR), where RaiseAtDriverCall finds it.
#define NTBOX_CAPTURE_TO(base)                                                              \
  "mov %rbx, 0x90(" base ")\n mov %rbp, 0xA0(" base ")\n mov %rsi, 0xA8(" base ")\n"        \
  "mov %rdi, 0xB0(" base ")\n mov %r12, 0xD8(" base ")\n mov %r13, 0xE0(" base ")\n"        \
  "mov %r14, 0xE8(" base ")\n mov %r15, 0xF0(" base ")\n"                                   \
  "lea 8(%rsp), %r10\n mov %r10, 0x98(" base ")\n mov (%rsp), %r10\n mov %r10, 0xF8(" base ")\n" \
  "movdqu %xmm6, 0x200(" base ")\n movdqu %xmm7, 0x210(" base ")\n"                          \
  "movdqu %xmm8, 0x220(" base ")\n movdqu %xmm9, 0x230(" base ")\n"                          \
  "movdqu %xmm10, 0x240(" base ")\n movdqu %xmm11, 0x250(" base ")\n"                        \
  "movdqu %xmm12, 0x260(" base ")\n movdqu %xmm13, 0x270(" base ")\n"                        \
  "movdqu %xmm14, 0x280(" base ")\n movdqu %xmm15, 0x290(" base ")\n"

#define NTBOX_CAPTURE_THUNK(name)                                                  \
  asm(".text\n .globl ntbox_capture_" #name "\n ntbox_capture_" #name ":\n"         \
      "mov %gs:0x18, %rax\n add $0x7300, %rax\n" NTBOX_CAPTURE_TO("%rax")             \
      "movq $1, (%rax)\n"                                                             \
      "jmp *ntbox_impl_" #name "(%rip)\n");

NTBOX_CAPTURE_THUNK(ExRaiseStatus)
NTBOX_CAPTURE_THUNK(RtlRaiseStatus)
NTBOX_CAPTURE_THUNK(ProbeForRead)
NTBOX_CAPTURE_THUNK(ProbeForWrite)
NTBOX_CAPTURE_THUNK(MmProbeAndLockPages)
NTBOX_CAPTURE_THUNK(RtlUnwindEx)
NTBOX_CAPTURE_THUNK(KeReleaseSemaphore)
NTBOX_CAPTURE_THUNK(ExAllocatePool2)
NTBOX_CAPTURE_THUNK(ExAllocatePoolWithQuotaTag)
NTBOX_CAPTURE_THUNK(ExAllocatePoolWithQuota)

// RtlCaptureContext(CONTEXT* rcx): the caller's registers after the call returns.
asm(R"(
  .text
  .globl ntbox_RtlCaptureContext
ntbox_RtlCaptureContext:
  pushfq
  pop %r10
  mov %r10d, 0x44(%rcx)
  mov %rax, 0x78(%rcx)
  mov %rcx, 0x80(%rcx)
  mov %rdx, 0x88(%rcx)
  mov %r8, 0xB8(%rcx)
  mov %r9, 0xC0(%rcx)
  mov %r11, 0xD0(%rcx)
  movdqu %xmm0, 0x1A0(%rcx)
  movdqu %xmm1, 0x1B0(%rcx)
  movdqu %xmm2, 0x1C0(%rcx)
  movdqu %xmm3, 0x1D0(%rcx)
  movdqu %xmm4, 0x1E0(%rcx)
  movdqu %xmm5, 0x1F0(%rcx)
  movl $0x10000B, 0x30(%rcx)
)" NTBOX_CAPTURE_TO("%rcx") R"(
  ret
)");

// RtlRaiseException(EXCEPTION_RECORD* rcx): capture the caller, then dispatch from there.
asm(".text\n .globl ntbox_RtlRaiseException\n ntbox_RtlRaiseException:\n"
    "mov %gs:0x18, %rax\n add $0x7300, %rax\n" NTBOX_CAPTURE_TO("%rax")
    "movq $1, (%rax)\n"
    "jmp *ntbox_impl_RaiseException(%rip)\n");

// Loads a CONTEXT and continues there (rdi: the CONTEXT). The target's rip and rcx go on its
// stack just below its rsp (unused there: Windows code keeps no red zone), then a ret.
asm(R"(
  .text
  .globl ntbox_RestoreContext
ntbox_RestoreContext:
)" NTBOX_ASM_LOAD_XMM_FROM("%rdi") R"(
  mov 0x98(%rdi), %rax
  sub $16, %rax
  mov 0xF8(%rdi), %rcx
  mov %rcx, 8(%rax)
  mov 0x80(%rdi), %rcx
  mov %rcx, (%rax)
  mov 0x90(%rdi), %rbx
  mov 0xA0(%rdi), %rbp
  mov 0xA8(%rdi), %rsi
  mov 0x88(%rdi), %rdx
  mov 0xB8(%rdi), %r8
  mov 0xC0(%rdi), %r9
  mov 0xC8(%rdi), %r10
  mov 0xD0(%rdi), %r11
  mov 0xD8(%rdi), %r12
  mov 0xE0(%rdi), %r13
  mov 0xE8(%rdi), %r14
  mov 0xF0(%rdi), %r15
  cld
  mov %rax, %rcx
  mov 0x78(%rdi), %rax
  mov 0xB0(%rdi), %rdi
  mov %rcx, %rsp
  pop %rcx
  ret
)");
extern "C" [[noreturn]] void ntbox_RestoreContext(const ntbox::nt::CONTEXT* context);

namespace ntbox::nt {
namespace {

constexpr std::uint32_t kCapturedContextOffset = 0x7300;  // in the KPCR block (0x8000 bytes)
static_assert(kCapturedContextOffset + sizeof(CONTEXT) <= ke::kpcr::kBlockSize);

// What the last capturing entry point stored for this thread (nullptr when not attached).
CONTEXT* CapturedContext() {
  ke::KernelThread* t = ke::CurrentThread();
  return t ? reinterpret_cast<CONTEXT*>(t->kpcr() + kCapturedContextOffset) : nullptr;
}

// UNWIND_INFO flags and operations (the documented x64 unwind format).
constexpr std::uint8_t UNW_FLAG_EHANDLER = 1, UNW_FLAG_UHANDLER = 2, UNW_FLAG_CHAININFO = 4;
enum UnwindOp : std::uint8_t {
  UWOP_PUSH_NONVOL = 0, UWOP_ALLOC_LARGE = 1, UWOP_ALLOC_SMALL = 2, UWOP_SET_FPREG = 3, UWOP_SAVE_NONVOL = 4,
  UWOP_SAVE_NONVOL_FAR = 5, UWOP_EPILOG = 6, UWOP_SPARE = 7, UWOP_SAVE_XMM128 = 8, UWOP_SAVE_XMM128_FAR = 9,
  UWOP_PUSH_MACHFRAME = 10,
};

ULONG64& Gpr(CONTEXT& c, int index) {
  // Unwind register numbers: rax rcx rdx rbx rsp rbp rsi rdi r8..r15, as CONTEXT stores them.
  return (&c.Rax)[index];
}

// Frames and unwind data are driver memory (a corrupted rsp or rbp points anywhere): read without
// faulting; what cannot be read is 0, which ends a walk.
template <class T>
T Load(ULONG64 address) {
  T v{};
  if (!cpu::SafeCopy(&v, reinterpret_cast<const void*>(address), sizeof(T))) return T{};
  return v;
}

const Module* DriverAt(ULONG64 pc) {
  const Kernel* k = Kernel::CurrentOrNull();
  return k ? k->ModuleAt(pc) : nullptr;
}

RUNTIME_FUNCTION* Lookup(const Module& m, ULONG64 pc) {
  const auto dir = m.image->pe().directory(pe::kDirException);
  if (dir.Size < sizeof(RUNTIME_FUNCTION) || dir.VirtualAddress + dir.Size > m.image->size()) return nullptr;
  auto* table = reinterpret_cast<RUNTIME_FUNCTION*>(m.image->base() + dir.VirtualAddress);
  const std::size_t count = dir.Size / sizeof(RUNTIME_FUNCTION);
  const auto rva = static_cast<ULONG>(pc - m.image->base());
  auto* end = table + count;
  auto* it = std::upper_bound(table, end, rva, [](ULONG v, const RUNTIME_FUNCTION& f) { return v < f.BeginAddress; });
  if (it == table) return nullptr;
  --it;
  return rva < it->EndAddress ? it : nullptr;
}

struct UnwindResult {
  ULONG64 handler = 0;       // the language handler's address, when the flags asked for one
  ULONG64 handlerData = 0;
  ULONG64 establisher = 0;   // the function's frame (rsp in its body, or its frame register)
};

// Unwinds one frame: context becomes the caller's, at the return address.
bool Unwind(ULONG64 base, ULONG64 pc, const RUNTIME_FUNCTION* fn, CONTEXT& c, std::uint8_t handlerFlags,
            UnwindResult& out) {
  const ULONG64 startRsp = c.Rsp;
  const RUNTIME_FUNCTION* primary = fn;
  bool machineFrame = false;
  for (int chain = 0; fn && chain < 32; ++chain) {
    const ULONG64 info = base + fn->UnwindData;
    const auto flags = static_cast<std::uint8_t>(Load<std::uint8_t>(info) >> 3);
    const auto prolog = Load<std::uint8_t>(info + 1);
    const auto count = Load<std::uint8_t>(info + 2);
    const auto frame = Load<std::uint8_t>(info + 3);
    const int frameReg = frame & 0xF;
    const ULONG64 frameOffset = static_cast<ULONG64>(frame >> 4) * 16;
    const ULONG64 offset = fn == primary ? pc - (base + fn->BeginAddress) : ~0ull;  // chained: prolog done
    const bool inProlog = offset < prolog;
    // The frame base of the body: the frame register once it is set, otherwise rsp.
    ULONG64 frameBase = c.Rsp;
    if (frameReg) {
      bool fpSet = !inProlog;
      for (int i = 0; i < count && !fpSet; ++i) {
        const auto slot = Load<std::uint16_t>(info + 4 + 2 * i);
        if ((slot >> 8 & 0xF) == UWOP_SET_FPREG && (slot & 0xFF) <= offset) fpSet = true;
      }
      if (fpSet) frameBase = Gpr(c, frameReg) - frameOffset;
    }
    if (fn == primary) out.establisher = frameBase;
    for (int i = 0; i < count;) {
      const auto slot = Load<std::uint16_t>(info + 4 + 2 * i);
      const std::uint8_t codeOffset = slot & 0xFF;
      const std::uint8_t op = slot >> 8 & 0xF;
      const std::uint8_t opInfo = slot >> 12;
      int slots = 1;
      switch (op) {
        case UWOP_ALLOC_LARGE: slots = opInfo == 0 ? 2 : 3; break;
        case UWOP_SAVE_NONVOL: case UWOP_SAVE_XMM128: case UWOP_EPILOG: slots = 2; break;
        case UWOP_SAVE_NONVOL_FAR: case UWOP_SAVE_XMM128_FAR: case UWOP_SPARE: slots = 3; break;
        default: break;
      }
      const bool applies = !inProlog || codeOffset <= offset;
      const auto arg16 = [&] { return Load<std::uint16_t>(info + 4 + 2 * (i + 1)); };
      const auto arg32 = [&] { return Load<std::uint32_t>(info + 4 + 2 * (i + 1)); };
      if (applies) {
        switch (op) {
          case UWOP_PUSH_NONVOL:
            Gpr(c, opInfo) = Load<ULONG64>(c.Rsp);
            c.Rsp += 8;
            break;
          case UWOP_ALLOC_LARGE: c.Rsp += opInfo == 0 ? ULONG64{arg16()} * 8 : ULONG64{arg32()}; break;
          case UWOP_ALLOC_SMALL: c.Rsp += ULONG64{opInfo} * 8 + 8; break;
          case UWOP_SET_FPREG: c.Rsp = Gpr(c, frameReg) - frameOffset; break;
          case UWOP_SAVE_NONVOL: Gpr(c, opInfo) = Load<ULONG64>(frameBase + ULONG64{arg16()} * 8); break;
          case UWOP_SAVE_NONVOL_FAR: Gpr(c, opInfo) = Load<ULONG64>(frameBase + arg32()); break;
          case UWOP_SAVE_XMM128: c.Xmm[opInfo] = Load<M128>(frameBase + ULONG64{arg16()} * 16); break;
          case UWOP_SAVE_XMM128_FAR: c.Xmm[opInfo] = Load<M128>(frameBase + arg32()); break;
          case UWOP_PUSH_MACHFRAME:
            if (opInfo) c.Rsp += 8;
            c.Rip = Load<ULONG64>(c.Rsp);
            c.Rsp = Load<ULONG64>(c.Rsp + 24);
            machineFrame = true;
            break;
          default: break;
        }
      }
      i += slots;
    }
    const ULONG64 after = info + 4 + 2 * ((count + 1) & ~1);
    if (flags & UNW_FLAG_CHAININFO) {
      fn = reinterpret_cast<const RUNTIME_FUNCTION*>(after);
      continue;
    }
    if (fn == primary && (flags & handlerFlags)) {
      out.handler = base + Load<std::uint32_t>(after);
      out.handlerData = after + 4;
    }
    fn = nullptr;
  }
  if (!machineFrame) {
    c.Rip = Load<ULONG64>(c.Rsp);
    c.Rsp += 8;
  }
  return c.Rsp > startRsp || machineFrame;
}

// A driver's language handler is an import stub (jmp [IAT]) or the IAT target itself: true
// when it ends at ntbox's __C_specific_handler.
bool IsCSpecificHandler(ULONG64 handler) {
  const auto ours = reinterpret_cast<ULONG64>(&C_specific_handler);
  if (handler == ours) return true;
  if (!DriverAt(handler)) return false;
  if (Load<std::uint8_t>(handler) == 0xFF && Load<std::uint8_t>(handler + 1) == 0x25) {
    const auto disp = Load<std::int32_t>(handler + 2);
    const ULONG64 slot = handler + 6 + static_cast<ULONG64>(static_cast<std::int64_t>(disp));
    return DriverAt(slot) && ThroughEntryThunk(Load<ULONG64>(slot)) == ours;
  }
  return false;
}

struct ScopeEntry {
  ULONG BeginAddress, EndAddress, HandlerAddress, JumpTarget;
};

// One driver frame on the way up: its context (inside the function), image base, and scopes.
struct Frame {
  CONTEXT context;
  ULONG64 base;
  ULONG64 establisher;
  const ScopeEntry* scopes = nullptr;
  ULONG scopeCount = 0;
};

// Walks the driver frames from context up, as far as driver code goes (the kernel's own
// frames above a driver's dispatch routine have no driver scopes).
std::vector<Frame> DriverFrames(const CONTEXT& start) {
  std::vector<Frame> frames;
  CONTEXT c = start;
  for (int depth = 0; depth < 256; ++depth) {
    const Module* m = DriverAt(c.Rip);
    if (!m) break;
    const ULONG64 base = m->image->base();
    RUNTIME_FUNCTION* fn = Lookup(*m, c.Rip);
    if (!fn) {  // a leaf: the return address is at rsp
      c.Rip = Load<ULONG64>(c.Rsp);
      c.Rsp += 8;
      continue;
    }
    Frame f{c, base, 0};
    UnwindResult r;
    if (!Unwind(base, c.Rip, fn, c, UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER, r)) break;
    f.establisher = r.establisher;
    if (r.handler && IsCSpecificHandler(r.handler)) {
      f.scopeCount = Load<ULONG>(r.handlerData);
      f.scopes = reinterpret_cast<const ScopeEntry*>(r.handlerData + 4);
    }
    frames.push_back(f);
  }
  return frames;
}

}  // namespace

std::size_t StackWalk(const CONTEXT& start, std::span<StackFrame> out) {
  // ntbox_call_driver's frame below the driver's return: 0x38 bytes of home space and stack
  // arguments, then r15, r14, r13, r12, rbp, rbx as it pushed them, then its caller's return address.
  constexpr ULONG64 kCallDriverRbp = 0x58, kCallDriverReturn = 0x68, kCallDriverFrame = 0x70;
  CONTEXT c = start;
  std::size_t n = 0;
  ULONG64 lastRsp = 0;
  for (int depth = 0; depth < 128 && n < out.size(); ++depth) {
    if (depth > 0 && (c.Rip == 0 || c.Rsp <= lastRsp)) break;  // the stack grows up as it unwinds
    lastRsp = c.Rsp;
    if (const Module* m = DriverAt(c.Rip)) {
      // In a trampoline of the load-time rewriting (a return address of its IRQL helper's call, or
      // where it stopped): the original instruction it stands for, whose function unwinds as usual.
      if (m->rewrite) c.Rip = m->rewrite->OriginalOf(m->image->base(), c.Rip).value_or(c.Rip);
      out[n++] = {c.Rip, c.Rsp};
      RUNTIME_FUNCTION* fn = Lookup(*m, c.Rip);
      if (!fn) {  // a leaf: the return address is at rsp
        c.Rip = Load<ULONG64>(c.Rsp);
        c.Rsp += 8;
        continue;
      }
      UnwindResult r;
      if (!Unwind(m->image->base(), c.Rip, fn, c, 0, r)) break;
      continue;
    }
    const cpu::HostFrameKind kind = cpu::HostFrameAt(c.Rip);
    if (depth == 0 && kind != cpu::HostFrameKind::kCallDriverReturn) {
      // Where it stopped may be no code at all (a jump into data) or a leaf routine of the kernel
      // without a frame of its own (gcc keeps none in leaves): when rsp holds a driver's return
      // address, it was called from there.
      const ULONG64 ret = Load<ULONG64>(c.Rsp);
      if (kind == cpu::HostFrameKind::kNone || DriverAt(ret)) {
        out[n++] = {c.Rip, c.Rsp};
        c.Rip = ret;
        c.Rsp += 8;
        continue;
      }
    }
    if (kind == cpu::HostFrameKind::kNone) break;  // neither a driver's code nor ntbox's
    if (kind == cpu::HostFrameKind::kGuardEntry) break;  // where driver-reaching code began
    out[n++] = {c.Rip, c.Rsp};
    if (kind == cpu::HostFrameKind::kCallDriverReturn) {
      c.Rbp = Load<ULONG64>(c.Rsp + kCallDriverRbp);
      c.Rip = Load<ULONG64>(c.Rsp + kCallDriverReturn);
      c.Rsp += kCallDriverFrame;
      continue;
    }
    // A library's code (the C library's, libstdc++'s) keeps no frame pointer: its CFI says where
    // its caller's frame is.
    if (const auto [start, end] = HostImageRange(); (c.Rip < start || c.Rip >= end) && HostCfiStep(c, depth > 0)) {
      continue;
    }
    // ntbox's code keeps frame pointers: the caller's rbp and return address above rbp. A driver
    // that called the kernel gets its frame back with the rsp of its call and the rbp it had.
    if (c.Rbp < c.Rsp || (c.Rbp & 7)) break;
    const ULONG64 frame = c.Rbp;
    c.Rip = Load<ULONG64>(frame + 8);
    c.Rbp = Load<ULONG64>(frame);
    c.Rsp = frame + 16;
  }
  return n;
}

namespace {

// A program's image containing address, from its PEB's loader list (PEB.Ldr, InLoadOrderModuleList;
// each entry's DllBase and SizeOfImage): its base, or 0. Reads without faulting, allocates nothing.
ULONG64 ProgramImageAt(ULONG64 peb, ULONG64 address) {
  const ULONG64 ldr = Load<ULONG64>(peb + 0x18);
  if (!ldr) return 0;
  const ULONG64 head = ldr + 0x10;
  ULONG64 link = Load<ULONG64>(head);
  for (int n = 0; link && link != head && n < 512; ++n) {
    const ULONG64 base = Load<ULONG64>(link + 0x30);
    const ULONG size = Load<ULONG>(link + 0x40);
    if (base && address >= base && address < base + size) return base;
    link = Load<ULONG64>(link);
  }
  return 0;
}

// The RUNTIME_FUNCTION of an image's .pdata (as the image is mapped) that covers pc, or nullptr.
const RUNTIME_FUNCTION* MappedFunctionEntry(ULONG64 base, ULONG64 pc) {
  const ULONG peOffset = Load<ULONG>(base + 0x3C);
  if (peOffset > 0x1000) return nullptr;
  // Data directory 3 (exceptions) of the PE32+ optional header.
  const ULONG pdata = Load<ULONG>(base + peOffset + 24 + 112 + 3 * 8);
  const ULONG size = Load<ULONG>(base + peOffset + 24 + 112 + 3 * 8 + 4);
  const auto rva = static_cast<ULONG>(pc - base);
  std::size_t lo = 0, hi = size / sizeof(RUNTIME_FUNCTION);
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const ULONG64 at = base + pdata + mid * sizeof(RUNTIME_FUNCTION);
    const ULONG begin = Load<ULONG>(at), end = Load<ULONG>(at + 4);
    if (rva < begin) hi = mid;
    else if (rva >= end) lo = mid + 1;
    else return reinterpret_cast<const RUNTIME_FUNCTION*>(at);
  }
  return nullptr;
}

}  // namespace

std::size_t ProgramStackWalk(const CONTEXT& start, ULONG64 peb, std::span<StackFrame> out) {
  CONTEXT c = start;
  std::size_t n = 0;
  while (n < out.size() && c.Rip) {
    const ULONG64 base = ProgramImageAt(peb, c.Rip);
    if (!base) break;
    out[n++] = {c.Rip, c.Rsp};
    const ULONG64 lastRsp = c.Rsp;
    if (const RUNTIME_FUNCTION* fn = MappedFunctionEntry(base, c.Rip)) {
      UnwindResult r;
      if (!Unwind(base, c.Rip, fn, c, 0, r)) break;
    } else {
      // A leaf: its return address is at rsp.
      c.Rip = Load<ULONG64>(c.Rsp);
      c.Rsp += 8;
    }
    if (c.Rsp <= lastRsp) break;
  }
  return n;
}

std::size_t StackTrace(const CONTEXT& start, std::span<ULONG64> out) {
  StackFrame frames[128];
  const std::size_t n = StackWalk(start, std::span(frames, std::min<std::size_t>(out.size(), 128)));
  for (std::size_t i = 0; i < n; ++i) out[i] = frames[i].rip;
  return n;
}

namespace {

bool Covers(const Frame& f, const ScopeEntry& s, bool atFault) {
  // Except at a hardware fault, rip is a return address: the call itself lies just before it.
  const ULONG64 pc = f.context.Rip - f.base - (atFault ? 0 : 1);
  return pc >= s.BeginAddress && pc < s.EndAddress;
}

using Filter = LONG(NTAPI*)(EXCEPTION_POINTERS*, ULONG64);
using TerminationHandler = void(NTAPI*)(BOOLEAN, ULONG64);

// Runs the __finally blocks from the innermost frame up to (not including) scope `limit` of
// frame `last`, then continues at target.
[[noreturn]] void UnwindAndContinue(std::vector<Frame>& frames, std::size_t last, ULONG limit, CONTEXT target,
                                    bool fault) {
  for (std::size_t fi = 0; fi <= last; ++fi) {
    Frame& f = frames[fi];
    const ULONG end = fi == last ? limit : f.scopeCount;
    for (ULONG i = 0; i < end; ++i) {
      const ScopeEntry& s = f.scopes[i];
      if (s.JumpTarget == 0 && Covers(f, s, fault && fi == 0)) {
        cpu::CallDriver(reinterpret_cast<TerminationHandler>(f.base + s.HandlerAddress), BOOLEAN{TRUE}, f.establisher);
      }
    }
  }
  ntbox_RestoreContext(&target);
}

[[noreturn]] void Unhandled(EXCEPTION_RECORD& record, const CONTEXT& c) {
  ke::KernelThread* t = ke::CurrentThread();
  BugCheck b;
  b.code = bugcheck::KMODE_EXCEPTION_NOT_HANDLED;
  b.parameters = {static_cast<ULONG64>(static_cast<std::int64_t>(record.ExceptionCode)),
                  reinterpret_cast<ULONG64>(record.ExceptionAddress), record.ExceptionInformation[0],
                  record.ExceptionInformation[1]};
  b.address = reinterpret_cast<ULONG64>(record.ExceptionAddress);
  const ULONG64 regs[] = {c.Rax, c.Rbx, c.Rcx, c.Rdx, c.Rsi, c.Rdi, c.Rip, c.Rsp, c.Rbp,
                          c.R8,  c.R9,  c.R10, c.R11, c.R12, c.R13, c.R14, c.R15, c.EFlags};
  std::copy(std::begin(regs), std::end(regs), b.registers.begin());
  b.hasContext = true;
  if (t) {
    b.irql = t->Irql();
    b.processor = t->processor;
    b.threadId = t->id;
  }
  if (!DriverAt(b.address)) b.driverCaller = c.Rip;
  std::strncpy(b.detail, "exception not handled by any __except in the driver", sizeof b.detail - 1);
  RaiseBugCheck(b);
}

}  // namespace

bool HasExceptionHandler(const CONTEXT& context) {
  const auto frames = DriverFrames(context);
  for (std::size_t fi = 0; fi < frames.size(); ++fi) {
    for (ULONG i = 0; i < frames[fi].scopeCount; ++i) {
      const ScopeEntry& s = frames[fi].scopes[i];
      if (s.JumpTarget != 0 && Covers(frames[fi], s, fi == 0)) return true;  // a hardware fault
    }
  }
  return false;
}

void DispatchException(EXCEPTION_RECORD& record, CONTEXT& context, bool fault) {
  auto frames = DriverFrames(context);
  EXCEPTION_POINTERS pointers{&record, &context};
  for (std::size_t fi = 0; fi < frames.size(); ++fi) {
    Frame& f = frames[fi];
    for (ULONG i = 0; i < f.scopeCount; ++i) {
      const ScopeEntry& s = f.scopes[i];
      if (s.JumpTarget == 0 || !Covers(f, s, fault && fi == 0)) continue;
      const LONG verdict = s.HandlerAddress == 1 ? 1 /* EXCEPTION_EXECUTE_HANDLER */
                                                  : cpu::CallDriver(reinterpret_cast<Filter>(f.base + s.HandlerAddress), &pointers, f.establisher);
      if (verdict < 0) {
        if (record.ExceptionFlags & EXCEPTION_NONCONTINUABLE) continue;
        // EXCEPTION_CONTINUE_EXECUTION: an instruction the load-time rewriter moved goes on in
        // its trampoline (its place in the image holds the jump there).
        if (const Module* m = Kernel::Current().ModuleAt(context.Rip); m && m->rewrite) {
          context.Rip = m->rewrite->ResumeAt(m->image->base(), context.Rip);
        }
        ntbox_RestoreContext(&context);
      }
      if (verdict > 0) {
        CONTEXT target = f.context;
        target.Rip = f.base + s.JumpTarget;
        target.Rax = static_cast<ULONG64>(static_cast<std::uint32_t>(record.ExceptionCode));
        UnwindAndContinue(frames, fi, i, target, fault);
      }
    }
  }
  Unhandled(record, context);
}

void RaiseAtDriverCall(NTSTATUS status) {
  CONTEXT* captured = CapturedContext();
  if (!captured || captured->P1Home != 1 || !DriverAt(captured->Rip)) {
    // Not raised on behalf of a driver's call: nothing to unwind to.
    RaiseBugCheck(bugcheck::KMODE_EXCEPTION_NOT_HANDLED, static_cast<ULONG64>(static_cast<std::int64_t>(status)),
                  reinterpret_cast<ULONG64>(__builtin_return_address(0)), 0, 0, "exception raised with no handler");
  }
  captured->P1Home = 0;
  CONTEXT context = *captured;
  context.ContextFlags = 0x10000B;
  EXCEPTION_RECORD record{};
  record.ExceptionCode = status;
  record.ExceptionFlags = EXCEPTION_NONCONTINUABLE;
  record.ExceptionAddress = reinterpret_cast<PVOID>(context.Rip);
  DispatchException(record, context, false);
}

RUNTIME_FUNCTION* NTAPI RtlLookupFunctionEntry(ULONG64 ControlPc, ULONG64* ImageBase, void*) {
  const Module* m = DriverAt(ControlPc);
  if (!m) return nullptr;
  if (ImageBase) *ImageBase = m->image->base();
  return Lookup(*m, ControlPc);
}

void* NTAPI RtlVirtualUnwind(ULONG HandlerType, ULONG64 ImageBase, ULONG64 ControlPc, RUNTIME_FUNCTION* FunctionEntry,
                             CONTEXT* ContextRecord, void** HandlerData, ULONG64* EstablisherFrame, void*) {
  UnwindResult r;
  Unwind(ImageBase, ControlPc, FunctionEntry, *ContextRecord, static_cast<std::uint8_t>(HandlerType), r);
  if (HandlerData) *HandlerData = reinterpret_cast<void*>(r.handlerData);
  if (EstablisherFrame) *EstablisherFrame = r.establisher;
  return reinterpret_cast<void*>(r.handler);
}

// ntbox evaluates __C_specific_handler's scope tables itself while dispatching (it knows the
// layout); called directly, the handler declines.
int NTAPI C_specific_handler(EXCEPTION_RECORD*, void*, CONTEXT*, void*) { return 1; /* ExceptionContinueSearch */ }

void NTAPI RtlUnwindEx(PVOID TargetFrame, PVOID TargetIp, EXCEPTION_RECORD*, PVOID ReturnValue, CONTEXT*, void*) {
  CONTEXT start = *CapturedContext();
  auto frames = DriverFrames(start);
  for (std::size_t fi = 0; fi < frames.size(); ++fi) {
    if (frames[fi].establisher != reinterpret_cast<ULONG64>(TargetFrame)) continue;
    CONTEXT target = frames[fi].context;
    target.Rip = reinterpret_cast<ULONG64>(TargetIp);
    target.Rax = reinterpret_cast<ULONG64>(ReturnValue);
    // The target frame's own __finally blocks are its business (it is resuming inside them).
    UnwindAndContinue(frames, fi, 0, target, false);
  }
  RaiseBugCheck(bugcheck::KMODE_EXCEPTION_NOT_HANDLED, static_cast<ULONG64>(static_cast<std::int64_t>(STATUS_INVALID_PARAMETER)),
                reinterpret_cast<ULONG64>(TargetIp), 0, 0, "RtlUnwindEx: the target frame is not on the stack");
}

namespace {
void NTAPI RaiseException(EXCEPTION_RECORD* record) {
  CONTEXT context = *CapturedContext();
  EXCEPTION_RECORD copy = *record;
  copy.ExceptionAddress = reinterpret_cast<PVOID>(context.Rip);
  DispatchException(copy, context, false);
}
}  // namespace

}  // namespace ntbox::nt

// What the capturing entry points continue into. Hidden: the entry points reach them rip-relative,
// which a shared object (libntbox-testing.so) allows only for symbols it cannot have interposed.
#pragma GCC visibility push(hidden)
extern "C" {
void* ntbox_impl_ExRaiseStatus = reinterpret_cast<void*>(&ntbox::nt::ExRaiseStatus);
void* ntbox_impl_RtlRaiseStatus = reinterpret_cast<void*>(&ntbox::nt::RtlRaiseStatus);
void* ntbox_impl_ProbeForRead = reinterpret_cast<void*>(&ntbox::nt::ProbeForRead);
void* ntbox_impl_ProbeForWrite = reinterpret_cast<void*>(&ntbox::nt::ProbeForWrite);
void* ntbox_impl_MmProbeAndLockPages = reinterpret_cast<void*>(&ntbox::nt::MmProbeAndLockPages);
void* ntbox_impl_RtlUnwindEx = reinterpret_cast<void*>(&ntbox::nt::RtlUnwindEx);
void* ntbox_impl_KeReleaseSemaphore = reinterpret_cast<void*>(&ntbox::nt::KeReleaseSemaphore);
void* ntbox_impl_ExAllocatePool2 = reinterpret_cast<void*>(&ntbox::nt::ExAllocatePool2);
void* ntbox_impl_ExAllocatePoolWithQuotaTag = reinterpret_cast<void*>(&ntbox::nt::ExAllocatePoolWithQuotaTag);
void* ntbox_impl_ExAllocatePoolWithQuota = reinterpret_cast<void*>(&ntbox::nt::ExAllocatePoolWithQuota);
void* ntbox_impl_RaiseException = reinterpret_cast<void*>(&ntbox::nt::RaiseException);
}
#pragma GCC visibility pop
