#include "cpu/Trap.h"

#include <dlfcn.h>
#include <seccomp.h>
#include <unistd.h>

#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

#include <Zydis/Zydis.h>
#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>

#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "cpu/UserMode.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/kd/DebugPrint.h"
#include "nt/kd/Debugger.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Irql.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/rtl/Exception.h"
#include "nt/vf/Verifier.h"

extern "C" void ntbox_call_driver_return();

namespace ntbox::cpu {
namespace {

using nt::BugCheck;
using nt::ULONG;
using nt::ULONG64;
using nt::Reg;
namespace bc = nt::bugcheck;

// SIGSYS: a system call the machine's sandbox denies (machine/Sandbox.h: seccomp traps it).
constexpr int kSignals[] = {SIGSEGV, SIGILL, SIGTRAP, SIGFPE, SIGBUS, SIGSYS};
constexpr std::uint64_t kArithmeticFlags = 0x8D5;  // CF PF AF ZF SF OF

int GregFor(ZydisRegister reg64) {
  switch (reg64) {
    case ZYDIS_REGISTER_RAX: return REG_RAX;
    case ZYDIS_REGISTER_RCX: return REG_RCX;
    case ZYDIS_REGISTER_RDX: return REG_RDX;
    case ZYDIS_REGISTER_RBX: return REG_RBX;
    case ZYDIS_REGISTER_RSP: return REG_RSP;
    case ZYDIS_REGISTER_RBP: return REG_RBP;
    case ZYDIS_REGISTER_RSI: return REG_RSI;
    case ZYDIS_REGISTER_RDI: return REG_RDI;
    case ZYDIS_REGISTER_R8: return REG_R8;
    case ZYDIS_REGISTER_R9: return REG_R9;
    case ZYDIS_REGISTER_R10: return REG_R10;
    case ZYDIS_REGISTER_R11: return REG_R11;
    case ZYDIS_REGISTER_R12: return REG_R12;
    case ZYDIS_REGISTER_R13: return REG_R13;
    case ZYDIS_REGISTER_R14: return REG_R14;
    case ZYDIS_REGISTER_R15: return REG_R15;
    case ZYDIS_REGISTER_RIP: return REG_RIP;
    default: return -1;
  }
}

ULONG64 StatusParameter(std::uint32_t status) {
  return static_cast<ULONG64>(static_cast<std::int64_t>(static_cast<std::int32_t>(status)));
}

bool IsHighByte(ZydisRegister r) {
  return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
         r == ZYDIS_REGISTER_BH;
}

class Cpu {
 public:
  explicit Cpu(ucontext_t* uc) : uc_(uc) {}
  greg_t& greg(int index) { return uc_->uc_mcontext.gregs[index]; }
  std::uint64_t rip() { return static_cast<std::uint64_t>(greg(REG_RIP)); }

  bool Read(ZydisRegister reg, std::uint64_t& value) {
    const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
    const int index = GregFor(full);
    if (index < 0) return false;
    const auto v = static_cast<std::uint64_t>(greg(index));
    const auto width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, reg);
    if (IsHighByte(reg)) value = (v >> 8) & 0xFF;
    else value = width >= 64 ? v : v & ((std::uint64_t{1} << width) - 1);
    return true;
  }

  // Writes with x86 semantics: 32-bit writes zero the upper half, 8/16-bit writes merge.
  bool Write(ZydisRegister reg, std::uint64_t value) {
    const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
    const int index = GregFor(full);
    if (index < 0 || index == REG_RIP) return false;
    auto old = static_cast<std::uint64_t>(greg(index));
    const auto width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, reg);
    std::uint64_t result;
    if (IsHighByte(reg)) result = (old & ~0xFF00ull) | ((value & 0xFF) << 8);
    else if (width == 64) result = value;
    else if (width == 32) result = value & 0xFFFFFFFF;
    else {
      const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
      result = (old & ~mask) | (value & mask);
    }
    greg(index) = static_cast<greg_t>(result);
    return true;
  }

  bool EffectiveAddress(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand& op,
                        std::uint64_t& address) {
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    if (op.mem.segment == ZYDIS_REGISTER_GS || op.mem.segment == ZYDIS_REGISTER_FS) return false;
    std::uint64_t a = static_cast<std::uint64_t>(op.mem.disp.value);
    if (op.mem.base == ZYDIS_REGISTER_RIP) {
      a += rip() + insn.length;
    } else if (op.mem.base != ZYDIS_REGISTER_NONE) {
      std::uint64_t b;
      if (!Read(op.mem.base, b)) return false;
      a += b;
    }
    if (op.mem.index != ZYDIS_REGISTER_NONE) {
      std::uint64_t i;
      if (!Read(op.mem.index, i)) return false;
      a += i * op.mem.scale;
    }
    address = a;
    return true;
  }

  void SetArithmeticFlags(std::uint64_t flags) {
    auto& efl = greg(REG_EFL);
    efl = static_cast<greg_t>((static_cast<std::uint64_t>(efl) & ~kArithmeticFlags) | (flags & kArithmeticFlags));
  }

  bool WriteXmm(ZydisRegister reg, const std::uint8_t* bytes, unsigned size, bool zeroUpper) {
    if (reg < ZYDIS_REGISTER_XMM0 || reg > ZYDIS_REGISTER_XMM15 || !uc_->uc_mcontext.fpregs) return false;
    auto* xmm = reinterpret_cast<std::uint8_t*>(&uc_->uc_mcontext.fpregs->_xmm[reg - ZYDIS_REGISTER_XMM0]);
    if (zeroUpper) std::memset(xmm, 0, 16);
    std::memcpy(xmm, bytes, size);
    return true;
  }

  void Advance(unsigned length) { greg(REG_RIP) += length; }

 private:
  ucontext_t* uc_;
};

// The arithmetic a shared-data read may be folded into: result and flags of a OP b at the operand
// width, computed by the instruction itself, read without touching the stack (the interrupted
// code's red zone may live below rsp): lahf gives SF ZF AF PF CF, seto OF. carryIn feeds adc/sbb.
enum class Alu { kAdd, kSub, kAnd, kOr, kXor, kAdc, kSbb, kCmp, kTest };

#define NTBOX_ALU_CASE(op, insn)                                                                        \
  case Alu::op:                                                                                          \
    asm("bt $0, %k4\n\t" insn " %3, %2\n\tlahf\n\tseto %1" : "=&a"(ax), "=&q"(of), "+r"(r) : "r"(b), "r"(cf) : "cc"); \
    break;

template <class T>
std::pair<std::uint64_t, std::uint64_t> AluT(Alu op, T a, T b, bool carryIn) {
  std::uint16_t ax = 0;
  std::uint8_t of = 0;
  T r = a;
  const std::uint32_t cf = carryIn ? 1 : 0;
  switch (op) {
    NTBOX_ALU_CASE(kAdd, "add")
    NTBOX_ALU_CASE(kSub, "sub")
    NTBOX_ALU_CASE(kAnd, "and")
    NTBOX_ALU_CASE(kOr, "or")
    NTBOX_ALU_CASE(kXor, "xor")
    NTBOX_ALU_CASE(kAdc, "adc")
    NTBOX_ALU_CASE(kSbb, "sbb")
    NTBOX_ALU_CASE(kCmp, "cmp")
    NTBOX_ALU_CASE(kTest, "test")
  }
  return {r, ((ax >> 8) & 0xD5) | (std::uint64_t{of} << 11)};
}
#undef NTBOX_ALU_CASE

// a OP b at bits wide: {result, flags}.
std::pair<std::uint64_t, std::uint64_t> AluAt(Alu op, std::uint64_t a, std::uint64_t b, unsigned bits, bool carryIn) {
  switch (bits) {
    case 8: return AluT<std::uint8_t>(op, static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b), carryIn);
    case 16: return AluT<std::uint16_t>(op, static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b), carryIn);
    case 32: return AluT<std::uint32_t>(op, static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b), carryIn);
    default: return AluT<std::uint64_t>(op, a, b, carryIn);
  }
}

std::uint64_t FlagsFor(std::uint64_t a, std::uint64_t b, unsigned bits, bool test) {
  return AluAt(test ? Alu::kTest : Alu::kCmp, a, b, bits, false).second;
}

std::int64_t SignExtend(std::uint64_t v, unsigned bits) {
  if (bits >= 64) return static_cast<std::int64_t>(v);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

// Emulates one instruction that reads KUSER_SHARED_DATA. Writes are left to fault: the page is
// read-only at that address on Windows too.
bool EmulateSharedDataRead(Cpu& cpu, const ZydisDecodedInstruction& insn,
                           const ZydisDecodedOperand* ops) {
  int memIndex = -1;
  std::uint64_t address = 0;
  for (int i = 0; i < insn.operand_count_visible; ++i) {
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && cpu.EffectiveAddress(insn, ops[i], address)) {
      memIndex = i;
      break;
    }
  }
  if (memIndex < 0) return false;
  const ZydisDecodedOperand& mem = ops[memIndex];
  if (!(mem.actions & ZYDIS_OPERAND_ACTION_MASK_READ) || (mem.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) return false;
  const unsigned bytes = mem.size / 8;
  const std::uint64_t offset = address - nt::shared_data::kAddress;
  if (address < nt::shared_data::kAddress || bytes == 0 || bytes > 16 || offset + bytes > nt::shared_data::kPageSize) {
    return false;
  }
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!kernel) return false;
  const std::uint8_t* page = kernel->SharedUserData();
  std::uint64_t value = 0;
  std::memcpy(&value, page + offset, std::min(bytes, 8u));

  const ZydisDecodedOperand& other = ops[memIndex == 0 ? 1 : 0];
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
      if (memIndex != 1 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
      return cpu.Write(ops[0].reg.value, value);
    case ZYDIS_MNEMONIC_MOVZX:
      return memIndex == 1 && cpu.Write(ops[0].reg.value, value);
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
      return memIndex == 1 && cpu.Write(ops[0].reg.value, static_cast<std::uint64_t>(SignExtend(value, mem.size)));
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB: {
      // reg OP= [shared data]: what an optimizing compiler folds a read into.
      if (memIndex != 1 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || ops[0].size != mem.size) return false;
      std::uint64_t operand = 0;
      if (!cpu.Read(ops[0].reg.value, operand)) return false;
      const Alu op = insn.mnemonic == ZYDIS_MNEMONIC_ADD   ? Alu::kAdd
                     : insn.mnemonic == ZYDIS_MNEMONIC_SUB ? Alu::kSub
                     : insn.mnemonic == ZYDIS_MNEMONIC_AND ? Alu::kAnd
                     : insn.mnemonic == ZYDIS_MNEMONIC_OR  ? Alu::kOr
                     : insn.mnemonic == ZYDIS_MNEMONIC_XOR ? Alu::kXor
                     : insn.mnemonic == ZYDIS_MNEMONIC_ADC ? Alu::kAdc
                                                           : Alu::kSbb;
      const bool carry = (static_cast<std::uint64_t>(cpu.greg(REG_EFL)) & 1) != 0;
      const auto [result, flags] = AluAt(op, operand, value, mem.size, carry);
      if (!cpu.Write(ops[0].reg.value, result)) return false;
      cpu.SetArithmeticFlags(flags);
      return true;
    }
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST: {
      std::uint64_t operand = 0;
      if (other.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) operand = other.imm.value.u;
      else if (other.type != ZYDIS_OPERAND_TYPE_REGISTER || !cpu.Read(other.reg.value, operand)) return false;
      const bool test = insn.mnemonic == ZYDIS_MNEMONIC_TEST;
      cpu.SetArithmeticFlags(memIndex == 0 ? FlagsFor(value, operand, mem.size, test)
                                           : FlagsFor(operand, value, mem.size, test));
      return true;
    }
    case ZYDIS_MNEMONIC_MOVQ:
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSS:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_LDDQU: {
      if (memIndex != 1 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
      if (ops[0].reg.value >= ZYDIS_REGISTER_XMM0 && ops[0].reg.value <= ZYDIS_REGISTER_XMM15) {
        return cpu.WriteXmm(ops[0].reg.value, page + offset, bytes, true);
      }
      return bytes <= 8 && cpu.Write(ops[0].reg.value, value);
    }
    default:
      return false;
  }
}

struct Decoded {
  bool ok = false;
  ZydisDecodedInstruction insn{};
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT]{};
  std::uint8_t bytes[16]{};
  unsigned available = 0;
};

// Copies up to bytes from address, page by page, stopping at the first page that cannot be read
// (SafeCopy: the fault is recovered, in this handler too, which runs with SA_NODEFER). Driver
// memory is never read otherwise here. Returns how many bytes were copied.
std::size_t ReadWithoutFaulting(void* to, std::uint64_t address, std::size_t bytes) {
  std::size_t done = 0;
  while (done < bytes) {
    const std::uint64_t at = address + done;
    const std::size_t chunk = std::min<std::uint64_t>(bytes - done, ((at | 0xFFF) + 1) - at);
    if (!SafeCopy(static_cast<std::uint8_t*>(to) + done, reinterpret_cast<const void*>(at), chunk)) break;
    done += chunk;
  }
  return done;
}

// Decodes the instruction at rip from the (up to) `available` bytes there that can be read: the
// code may be unreadable (trimmed pageable code, a section without read access).
// Decodes what d.bytes holds (d.available of them).
void DecodeHeld(Decoded& d) {
  if (d.available == 0) return;
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  d.ok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, d.bytes, d.available, &d.insn, d.ops));
}

Decoded DecodeBytes(std::uint64_t rip, unsigned available) {
  Decoded d;
  d.available = static_cast<unsigned>(ReadWithoutFaulting(d.bytes, rip, available));
  DecodeHeld(d);
  return d;
}

Decoded DecodeAt(std::uint64_t rip) {
  std::uint64_t limit = rip + 15;
  if (nt::Kernel* k = nt::Kernel::CurrentOrNull()) {
    if (const nt::Module* m = k->ModuleAt(rip)) limit = std::min(limit, m->end());
    else return {};  // host code: report without decoding
  }
  return DecodeBytes(rip, static_cast<unsigned>(limit - rip));
}

// A fault (or a stop) in a trampoline of the load-time rewriter (cpu/Rewriter.h) is the original
// instruction's: reports, the driver's exception handlers and the unwinder see the driver's own
// address and its code as built. True when rip was moved back.
bool MapTrampolineAddress(ucontext_t* uc, Decoded& d) {
  const nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const nt::Module* m = kernel ? kernel->ModuleAt(rip) : nullptr;
  if (!m || !m->rewrite) return false;
  const auto original = m->rewrite->OriginalOf(m->image->base(), rip);
  if (!original) return false;
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(*original);
  d = Decoded{};
  d.available = static_cast<unsigned>(
      ReadWithoutFaulting(d.bytes, *original, static_cast<std::size_t>(std::min<std::uint64_t>(15, m->image->end() - *original))));
  m->rewrite->RestoreOriginal(m->image->base(), *original, d.bytes, d.available);
  DecodeHeld(d);
  return true;
}

void CaptureContext(BugCheck& b, ucontext_t* uc, const Decoded& d) {
  const auto& g = uc->uc_mcontext.gregs;
  const int map[] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RIP, REG_RSP, REG_RBP,
                     REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_EFL};
  for (int i = 0; i < static_cast<int>(Reg::count); ++i) b.registers[i] = static_cast<ULONG64>(g[map[i]]);
  b.hasContext = true;
  b.address = static_cast<ULONG64>(g[REG_RIP]);
  std::memcpy(b.code_bytes.data(), d.bytes, sizeof d.bytes);
  nt::kd::Debugger::Get().HideBreakpoints(b.address, std::span(b.code_bytes.data(), sizeof d.bytes));
  b.codeLength = d.ok ? d.insn.length : static_cast<std::uint8_t>(std::min(d.available, 16u));
}

// When kernel code faults on a driver's behalf: the first return address on the stack that lies
// in a loaded driver image (a scan, not an unwind; the .pdata unwinder comes with SEH).
std::uint64_t FindDriverCaller(std::uint64_t rsp) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!kernel) return 0;
  // Read without faulting: after a stack overflow rsp may sit at the edge of what is mapped (a
  // function's "sub rsp, N" moved it into the guard gap), and a garbage rsp anywhere. Page by page,
  // skipping what is not mapped, up to 64 KiB (printf's frames in the kernel can be deep).
  std::uint64_t address = rsp;
  const std::uint64_t end = rsp + 65536;
  while (address < end) {
    std::uint64_t chunk[512];
    const std::uint64_t pageEnd = (address | 4095) + 1;
    const std::size_t bytes = std::min<std::uint64_t>(pageEnd, end) - address;
    if (ReadWithoutFaulting(chunk, address, bytes) != bytes) {
      address += bytes;
      continue;
    }
    for (std::size_t i = 0; i < bytes / 8; ++i) {
      if (kernel->ModuleAt(chunk[i])) return chunk[i];
    }
    address += bytes;
  }
  return 0;
}

[[noreturn]] void Stop(ucontext_t* uc, const Decoded& decoded, nt::ke::KernelThread* t, ULONG code,
                       ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4, const char* detail,
                       std::optional<std::uint64_t> faultAddress = std::nullopt, bool faultWrite = false) {
  Decoded d = decoded;
  if (MapTrampolineAddress(uc, d)) {
    // Parameters that name the faulting instruction name the original.
    const auto rip = static_cast<ULONG64>(uc->uc_mcontext.gregs[REG_RIP]);
    for (ULONG64* p : {&p1, &p2, &p3, &p4}) {
      if (const nt::Kernel* k = nt::Kernel::CurrentOrNull()) {
        const nt::Module* m = k->ModuleAt(*p);
        if (m && m->rewrite && m->rewrite->OriginalOf(m->image->base(), *p)) *p = rip;
      }
    }
  }
  if (code == bc::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED && t->process) {
    // Not a system thread: the exception happened in a request a process made.
    code = bc::KMODE_EXCEPTION_NOT_HANDLED;
    p3 = 0;
    p4 = 0;
    if (static_cast<std::uint32_t>(p1) == static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION) && faultAddress) {
      p3 = faultWrite ? 1 : 0;
      p4 = *faultAddress;
    }
  }
  BugCheck b;
  b.code = code;
  b.parameters = {p1, p2, p3, p4};
  b.irql = t->Irql();
  b.processor = t->processor;
  b.threadId = t->id;
  CaptureContext(b, uc, d);
  // The flags as the machine has them: IF clear after the driver's cli (user mode always has it set).
  if (!t->InterruptsEnabled()) b.registers[static_cast<int>(Reg::efl)] &= ~std::uint64_t{0x200};
  const nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (kernel) {
    // The stack as it stands at the fault: driver frames by their .pdata, the kernel's by frame
    // pointers, up to where driver-reaching code began.
    const auto& g = uc->uc_mcontext.gregs;
    nt::CONTEXT c{};
    c.Rip = static_cast<ULONG64>(g[REG_RIP]);
    c.Rsp = static_cast<ULONG64>(g[REG_RSP]);
    c.Rbp = static_cast<ULONG64>(g[REG_RBP]);
    c.Rbx = static_cast<ULONG64>(g[REG_RBX]);
    c.Rsi = static_cast<ULONG64>(g[REG_RSI]);
    c.Rdi = static_cast<ULONG64>(g[REG_RDI]);
    c.R12 = static_cast<ULONG64>(g[REG_R12]);
    c.R13 = static_cast<ULONG64>(g[REG_R13]);
    c.R14 = static_cast<ULONG64>(g[REG_R14]);
    c.R15 = static_cast<ULONG64>(g[REG_R15]);
    b.stackDepth = static_cast<std::uint8_t>(nt::StackTrace(c, b.stack));
    nt::AddProgramFrames(b);
  }
  if (kernel && !kernel->ModuleAt(b.address)) {
    // Kernel code faulted on a driver's behalf: the driver frame the walk found, else the first
    // driver return address on the stack.
    for (std::uint8_t i = 0; i < b.stackDepth && !b.driverCaller; ++i) {
      if (kernel->ModuleAt(b.stack[i])) b.driverCaller = b.stack[i];
    }
    if (!b.driverCaller) b.driverCaller = FindDriverCaller(static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RSP]));
  }
  std::strncpy(b.detail, detail, sizeof b.detail - 1);
  nt::RaiseBugCheck(b);
}

// The IRQL rules for an inline mov cr8: a write to a higher IRQL is a raise and to a lower one a
// lower, as the hardware sees it. Inline code cannot break "raise to a lower IRQL" or "lower to a
// higher one" (only the exported routines can: KfRaiseIrql, KeLowerIrql); what it can break is
// dropping below DISPATCH_LEVEL inside a DPC routine (the verifier's 0xC4/0x31 with P4 = 1).
// The same rules for a trapped write and a rewritten one (ntbox_IrqlWrite); at: the instruction.
std::optional<nt::ke::IrqlViolation> InlineIrqlWriteViolation(const nt::ke::KernelThread* t, std::uint64_t at,
                                                              std::uint64_t value) {
  const nt::KIRQL current = t->Irql();
  const auto change = value > current ? nt::ke::IrqlChange::kRaise : nt::ke::IrqlChange::kLower;
  return nt::ke::CheckIrqlChange(change, current, value, t->inDpcRoutine,
                                 [at] { return nt::vf::Watches(at, nt::vf::flags::kIrqlChecking); }, false);
}

void CheckCr8Write(ucontext_t* uc, const Decoded& d, nt::ke::KernelThread* t, std::uint64_t rip,
                   std::uint64_t value) {
  const auto v = InlineIrqlWriteViolation(t, rip, value);
  if (v) Stop(uc, d, t, v->code, v->parameters[0], v->parameters[1], v->parameters[2], v->parameters[3], v->detail);
}

// Emulates what is emulatable; returns false for everything that must stop the driver.
bool Emulate(Cpu& cpu, Decoded& d, nt::ke::KernelThread* t, ucontext_t* uc) {
  if (!d.ok) return false;
  const auto& insn = d.insn;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && d.ops[0].reg.value == ZYDIS_REGISTER_CR8) {
        std::uint64_t v;
        if (!cpu.Read(d.ops[1].reg.value, v)) return false;
        if (v > nt::HIGH_LEVEL) return false;  // reserved bits set: a #GP on the hardware
        CheckCr8Write(uc, d, t, cpu.rip(), v);
        t->SetIrql(static_cast<nt::KIRQL>(v & 0xF));
        break;
      }
      if (d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && d.ops[1].reg.value == ZYDIS_REGISTER_CR8) {
        if (!cpu.Write(d.ops[0].reg.value, t->Irql())) return false;
        break;
      }
      if (!EmulateSharedDataRead(cpu, insn, d.ops)) return false;
      break;
    case ZYDIS_MNEMONIC_CLI:
      t->SetInterruptsEnabled(false);
      break;
    case ZYDIS_MNEMONIC_STI:
      t->SetInterruptsEnabled(true);
      break;
    case ZYDIS_MNEMONIC_INT: {
      const auto vector = d.ops[0].imm.value.u;
      if (vector == 0x2C) {
        // NT_ASSERT: STATUS_ASSERTION_FAILURE; unhandled without a debugger.
        Stop(uc, d, t, bc::KMODE_EXCEPTION_NOT_HANDLED, StatusParameter(nt::STATUS_ASSERTION_FAILURE),
             cpu.rip(), 0, 0, "assertion failure (int 2c, NT_ASSERT)");
      }
      if (vector == 0x29) {
        // __fastfail(code): the code is in rcx.
        Stop(uc, d, t, bc::KERNEL_SECURITY_CHECK_FAILURE, static_cast<ULONG64>(cpu.greg(REG_RCX)), 0, 0, 0,
             "fast fail (int 29, __fastfail)");
      }
      return false;
    }
    default:
      if (!EmulateSharedDataRead(cpu, insn, d.ops)) return false;
      break;
  }
  cpu.Advance(insn.length);
  return true;
}

// A fault in driver code that a __try/__except of the driver may take: the exception is
// dispatched on the faulting thread's own stack (filters are driver code and must not run on the
// signal stack), by returning from the signal handler into DispatchFromTrap.
struct DispatchFrame {
  nt::EXCEPTION_RECORD record;
  nt::CONTEXT context;
};

[[noreturn]] void DispatchFromTrap(DispatchFrame* frame) {
  nt::DispatchException(frame->record, frame->context, true);
}

bool DispatchToDriver(ucontext_t* uc, std::uint32_t status, std::optional<std::uint64_t> address, bool write,
                      bool execute) {
  const auto& g = uc->uc_mcontext.gregs;
  nt::CONTEXT c{};
  c.ContextFlags = 0x10000B;
  c.Rax = static_cast<ULONG64>(g[REG_RAX]);
  c.Rcx = static_cast<ULONG64>(g[REG_RCX]);
  c.Rdx = static_cast<ULONG64>(g[REG_RDX]);
  c.Rbx = static_cast<ULONG64>(g[REG_RBX]);
  c.Rsp = static_cast<ULONG64>(g[REG_RSP]);
  c.Rbp = static_cast<ULONG64>(g[REG_RBP]);
  c.Rsi = static_cast<ULONG64>(g[REG_RSI]);
  c.Rdi = static_cast<ULONG64>(g[REG_RDI]);
  c.R8 = static_cast<ULONG64>(g[REG_R8]);
  c.R9 = static_cast<ULONG64>(g[REG_R9]);
  c.R10 = static_cast<ULONG64>(g[REG_R10]);
  c.R11 = static_cast<ULONG64>(g[REG_R11]);
  c.R12 = static_cast<ULONG64>(g[REG_R12]);
  c.R13 = static_cast<ULONG64>(g[REG_R13]);
  c.R14 = static_cast<ULONG64>(g[REG_R14]);
  c.R15 = static_cast<ULONG64>(g[REG_R15]);
  c.Rip = static_cast<ULONG64>(g[REG_RIP]);
  c.EFlags = static_cast<ULONG>(g[REG_EFL]);
  if (uc->uc_mcontext.fpregs) {
    for (int i = 0; i < 16; ++i) std::memcpy(&c.Xmm[i], &uc->uc_mcontext.fpregs->_xmm[i], 16);
  }
  if (!nt::HasExceptionHandler(c)) return false;
  const std::uint64_t at = (c.Rsp - 0x800 - sizeof(DispatchFrame)) & ~std::uint64_t{15};
  auto* frame = reinterpret_cast<DispatchFrame*>(at);
  *frame = {};
  frame->context = c;
  frame->record.ExceptionCode = static_cast<nt::NTSTATUS>(status);
  frame->record.ExceptionAddress = reinterpret_cast<void*>(c.Rip);
  if (status == static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION)) {
    frame->record.NumberParameters = 2;
    frame->record.ExceptionInformation[0] = execute ? 8 : write ? 1 : 0;
    frame->record.ExceptionInformation[1] = address.value_or(~0ull);
  }
  uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(at - 8);
  uc->uc_mcontext.gregs[REG_RDI] = static_cast<greg_t>(at);
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(reinterpret_cast<std::uint64_t>(&DispatchFromTrap));
  return true;
}

// A fault in a user-mode program: the program's unhandled exception. It ends the program with
// the exception's code (as Windows ends a process no handler took the exception in).
// Delivers a program's exception as Windows' kernel does: its context and record in a frame below
// the faulting rsp, the thread resumed in the program's KiUserExceptionDispatcher; false when the
// stack cannot take the frame.
bool DeliverUserException(ucontext_t* uc, nt::ke::KernelThread* t, const nt::ke::KernelThread::UserExit& e) {
  std::uint8_t context[0x4D0] = {};
  std::uint8_t record[0x98] = {};
  auto put = [](std::uint8_t* to, std::size_t at, auto value) { std::memcpy(to + at, &value, sizeof value); };
  const greg_t* g = uc->uc_mcontext.gregs;
  put(context, 0x30, std::uint32_t{0x10000F});  // CONTEXT_CONTROL | INTEGER | SEGMENTS | FLOATING_POINT
  if (uc->uc_mcontext.fpregs) {
    std::memcpy(context + 0x100, uc->uc_mcontext.fpregs, 512);  // FltSave: the fxsave image
    put(context, 0x34, uc->uc_mcontext.fpregs->mxcsr);
  }
  put(context, 0x38, std::uint16_t{0x33});
  for (std::size_t seg = 0x3A; seg < 0x44; seg += 2) put(context, seg, std::uint16_t{0x2B});
  put(context, 0x44, static_cast<std::uint32_t>(g[REG_EFL]));
  const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                         REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; ++i) put(context, 0x78 + 8u * i, static_cast<std::uint64_t>(g[order[i]]));
  put(context, 0xF8, e.address);  // Rip: the faulting instruction (the int3 itself for a breakpoint)
  put(record, 0x00, e.code);
  put(record, 0x10, e.address);
  if (e.faultAddressKnown) {
    put(record, 0x18, std::uint32_t{2});
    put(record, 0x20, std::uint64_t{e.faultAddress == e.address ? 8u : e.faultWrite ? 1u : 0u});
    put(record, 0x28, e.faultAddress);
  }
  const std::uint64_t base = WriteExceptionFrame(context, record, static_cast<std::uint64_t>(g[REG_RSP]));
  if (!base) return false;
  t->lastException = e;
  uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(base);
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(t->userExceptionDispatcher);
  return true;
}

// What a fault in a program's own code is, as Windows reports it.
nt::ke::KernelThread::UserExit ClassifyUserFault(int signal, siginfo_t* info, ucontext_t* uc) {
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  nt::ke::KernelThread::UserExit exit{};
  exit.kind = 2;  // UserExitKind::kException
  exit.address = rip;
  std::uint32_t code = nt::STATUS_ACCESS_VIOLATION;
  switch (signal) {
    case SIGILL: code = nt::STATUS_ILLEGAL_INSTRUCTION; break;
    case SIGFPE: code = info->si_code == FPE_INTOVF ? 0xC0000095u : nt::STATUS_INTEGER_DIVIDE_BY_ZERO; break;
    case SIGTRAP: code = 0x80000003u; exit.address = rip - 1; break;  // STATUS_BREAKPOINT at the int3
    case SIGBUS: break;
    default:
      if (info->si_code == SEGV_MAPERR || info->si_code == SEGV_ACCERR) {
        exit.faultAddress = reinterpret_cast<std::uint64_t>(info->si_addr);
        exit.faultWrite = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
        exit.faultAddressKnown = true;
        break;
      }
      // A general protection fault: the instruction was fetched, so its page can be read.
      const Decoded d = DecodeBytes(rip, static_cast<unsigned>(std::min<std::uint64_t>(15, 0x1000 - (rip & 0xFFF))));
      if (d.ok && d.insn.mnemonic == ZYDIS_MNEMONIC_INT && d.ops[0].imm.value.u == 0x29) {
        code = 0xC0000409u;  // __fastfail: STATUS_STACK_BUFFER_OVERRUN
      } else if (d.ok && d.insn.mnemonic == ZYDIS_MNEMONIC_INT && d.ops[0].imm.value.u == 0x2C) {
        code = nt::STATUS_ASSERTION_FAILURE;
      } else if (d.ok && (d.insn.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED)) {
        code = nt::STATUS_PRIVILEGED_INSTRUCTION;
      }
      break;
  }
  exit.code = code;
  return exit;
}

// A program's exception: delivered to its dispatcher when it has one (Wine's ntdll), else (or when
// its stack cannot take the frame) the program ends with it.
void UserException(int signal, siginfo_t* info, ucontext_t* uc, nt::ke::KernelThread* t) {
  const nt::ke::KernelThread::UserExit e = ClassifyUserFault(signal, info, uc);
  if (t->userExceptionDispatcher && DeliverUserException(uc, t, e)) return;
  t->userExit = e;
  siglongjmp(*t->userGuard, 1);
}

bool Readable(std::uint64_t address) {
  std::uint8_t byte;
  return ReadWithoutFaulting(&byte, address, 1) == 1;
}

// Whether some page within 64 KiB above address is mapped: a stack the thread ran off the end of.
bool MappedAbove(std::uint64_t address) {
  for (std::uint64_t page = (address | 0xFFF) + 1; page < address + 0x10000; page += 0x1000) {
    if (Readable(page)) return true;
  }
  return false;
}

bool IsPrivileged(const Decoded& d) {
  return d.ok && (d.insn.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED);
}

// A touch of trimmed pageable memory below DISPATCH_LEVEL pages it in, whoever touches it (driver,
// kernel or ntbox's own host code); user-mode programs never reach kernel memory this way.
bool PageInPageable(int signal, const siginfo_t* info) {
  if (signal != SIGSEGV || info->si_code != SEGV_ACCERR) return false;
  const nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (t && (t->Irql() >= nt::DISPATCH_LEVEL || (t->userGuard && t->guard == t->userGuard))) return false;
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  return kernel && kernel->pageable().PageIn(reinterpret_cast<std::uint64_t>(info->si_addr));
}

// A fault inside one of ntbox's non-faulting reads: recover moves rip to the read's exit (and sets
// rax) when the fault is one.
bool Recovered(ucontext_t* uc, bool (*recover)(std::uint64_t& rip, std::uint64_t& rax)) {
  auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto rax = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RAX]);
  if (!recover(rip, rax)) return false;
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(rip);
  uc->uc_mcontext.gregs[REG_RAX] = static_cast<greg_t>(rax);
  return true;
}

// Host code that faulted because driver or program code left the CPU state disturbed (AC set: an
// unaligned access is a SIGBUS; TF: a single step; FS or GS loaded: thread-local storage or the KPCR
// unreachable; MXCSR or the x87 control word unmasking an exception) runs again with the state put
// back. disturbed: what RestoreHostState already repaired for the handler itself.
bool RepairHostCodeFault(int signal, ucontext_t* uc, unsigned disturbed) {
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (rip < nt::mm::kUserProbeAddress || (kernel && kernel->ModuleAt(rip))) return false;  // not host code
  bool repaired = (disturbed & (disturbed::kFs | disturbed::kGs)) != 0;
  if (!repaired && signal == SIGSEGV) {
    // A thread-local access that faulted on a base a driver's null FS selector cleared, and that a
    // context switch put back before this handler looked (Linux reloads the saved base for a null
    // selector): run it once more. Once only per instruction, so a real fault still stops.
    thread_local std::uint64_t retried = 0;
    const Decoded d = DecodeBytes(rip, 15);
    bool fsAccess = false;
    for (int i = 0; d.ok && i < d.insn.operand_count_visible; ++i) {
      fsAccess |= d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[i].mem.segment == ZYDIS_REGISTER_FS;
    }
    if (fsAccess && retried != rip) {
      retried = rip;
      return true;
    }
    retried = 0;
  }
  auto& flags = uc->uc_mcontext.gregs[REG_EFL];
  constexpr auto kFlags = static_cast<greg_t>(eflags::kHostClears);
  if (flags & kFlags) {
    flags &= ~kFlags;
    repaired = true;
  }
  if (signal == SIGFPE && uc->uc_mcontext.fpregs) {
    auto& fp = *uc->uc_mcontext.fpregs;
    constexpr std::uint32_t kMxcsrMasks = 0x1F80;
    constexpr std::uint16_t kX87Masks = 0x3F;
    if ((fp.mxcsr & kMxcsrMasks) != kMxcsrMasks || (fp.cwd & kX87Masks) != kX87Masks) {
      fp.mxcsr = (fp.mxcsr | kMxcsrMasks) & ~0x3Fu;
      fp.cwd |= kX87Masks;
      fp.swd &= static_cast<std::uint16_t>(~0x80FFu);
      repaired = true;
    }
  }
  return repaired;
}

// The process that installed the handlers: a denied call in a child (a spawn a driver made through
// the host's libc, sharing its memory) only ends that child.
pid_t g_handlerProcess = 0;

// A system call the sandbox denied: from driver code the machine stops with a report naming the
// driver and the call; from a program, the program ends as with an access violation, saying what
// was denied; from ntbox itself, a bug: the default action.
void OnDeniedSystemCall(siginfo_t* info, ucontext_t* uc) {
  // The instruction (syscall, int 0x80 or sysenter: two bytes each) is just before where it returns.
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]) - 2;
  const unsigned arch = info->si_arch;
  char* resolved = seccomp_syscall_resolve_num_arch(arch, info->si_syscall);
  const std::string name = fmt::format("{} ({}{})", resolved ? resolved : "unknown", info->si_syscall,
                                       arch == SCMP_ARCH_X86_64 ? "" : arch == SCMP_ARCH_X86 ? ", i386: int 0x80 or sysenter" : ", a foreign architecture");
  std::free(resolved);
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t || !t->guard) {
    const std::string line = "ntbox: the sandbox denied ntbox's own system call " + name + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGSYS, &dfl, nullptr);
    raise(SIGSYS);
    return;
  }
  if (t->userGuard && t->guard == t->userGuard) {
    t->userExit = {};
    t->userExit.kind = 2;  // UserExitKind::kException
    t->userExit.code = nt::STATUS_ACCESS_VIOLATION;
    t->userExit.address = rip;
    t->userExit.deniedSystemCall = name;
    siglongjmp(*t->userGuard, 1);
  }
  const std::string detail = "a Linux system call, " + name + ", which the machine's sandbox denies to driver code";
  uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(rip);  // the report shows the call instruction
  Stop(uc, DecodeAt(rip), t, bc::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, StatusParameter(nt::STATUS_ACCESS_DENIED), rip, 0, 0,
       detail.c_str());
}

// A denied call in a child process that driver or program code started through the host's libc
// (system(), posix_spawn: a vfork'd child sharing the server's memory): the child ends without
// running anything, saying so where the server's standard error goes. Nothing here allocates: the
// child shares the parent's heap.
void EndDeniedChild(const siginfo_t* info) {
  char line[192] = "ntbox: the machine's sandbox denied ";
  std::size_t n = std::strlen(line);
  auto put = [&](const char* text) {
    for (; *text && n + 1 < sizeof line; ++text) line[n++] = *text;
  };
  put(info->si_syscall == 59 ? "execve (" : info->si_syscall == 322 ? "execveat (" : "Linux system call (");
  char digits[12];
  int d = 0;
  for (unsigned v = static_cast<unsigned>(info->si_syscall); d == 0 || v; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
  while (d && n + 1 < sizeof line) line[n++] = digits[--d];
  put(") to a process started from driver or program code; it ends without running\n");
  line[n] = '\0';
  (void)!::write(STDERR_FILENO, line, n);
  ::_exit(126);
}

void OnTrap(int signal, siginfo_t* info, void* context) {
  if (signal == SIGSYS && ::getpid() != g_handlerProcess) EndDeniedChild(info);
  ClearAlignmentCheck();
  auto* uc = static_cast<ucontext_t*>(context);
  // A fault in this handler's own check of FS and GS (below; the handler runs with SA_NODEFER so
  // the check may fault): resume the check.
  if (Recovered(uc, RecoverBaseProbeFault)) return;
  // Then FS (thread-local storage) and GS, before anything reads them.
  const unsigned disturbed = RestoreHostStateInTrap();
  // A debugger's data breakpoint: a watched page touched (by driver code or the kernel's).
  if ((signal == SIGSEGV || signal == SIGBUS) && info->si_code == SEGV_ACCERR && nt::kd::Attached() &&
      nt::kd::Debugger::Get().OnWatchFault(uc, reinterpret_cast<std::uint64_t>(info->si_addr))) {
    return;
  }
  // A debugger's single step (or a breakpoint it stepped over) ends here, in driver code or in the
  // kernel's where a step went.
  if (signal == SIGTRAP && info->si_code == TRAP_TRACE && nt::kd::Debugger::Get().OnTraceTrap(uc, nt::ke::CurrentThread())) {
    return;
  }
  if (signal == SIGSYS) return OnDeniedSystemCall(info, uc);
  if (RepairHostCodeFault(signal, uc, disturbed)) return;
  if (signal == SIGBUS && (uc->uc_mcontext.gregs[REG_EFL] & eflags::kAc)) {
    // An unaligned access with AC set: alignment checking applies at CPL 3 only, so in a kernel the
    // access succeeds. Run it again without AC.
    uc->uc_mcontext.gregs[REG_EFL] &= ~static_cast<greg_t>(eflags::kAc);
    return;
  }
  if (PageInPageable(signal, info)) return;
  if ((signal == SIGSEGV || signal == SIGBUS) && Recovered(uc, RecoverSafeCopyFault)) return;
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t || !t->guard) {
    // Not driver code: an ntbox bug. Let the default action (core dump) happen on return.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(signal, &dfl, nullptr);
    if (signal == SIGTRAP) raise(SIGTRAP);
    return;
  }
  if (t->userGuard && t->guard == t->userGuard) {
    // A breakpoint the debugger set in the program's code, or the program's own int 3 while a
    // debugger is attached (as a kernel debugger hears of a user-mode break no other debugger took).
    const auto at = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]) - 1;
    if (signal == SIGTRAP && info->si_code != TRAP_TRACE && nt::kd::Attached() && Readable(at) &&
        *reinterpret_cast<const std::uint8_t*>(at) == 0xCC && nt::kd::Debugger::Get().OnBreakInstruction(uc, t)) {
      return;
    }
    return UserException(signal, info, uc, t);
  }
  Cpu cpu(uc);
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const std::uint64_t trappedAt = cpu.rip();
  const bool inDriver = kernel && kernel->ModuleAt(trappedAt);

  if (signal == SIGTRAP) {
    // int3 leaves rip after the 0xCC: a breakpoint the debugger set, a break instruction in driver
    // code, or nt!DbgBreakPoint's own while a debugger is attached.
    if ((inDriver || nt::kd::Attached()) && info->si_code != TRAP_TRACE && Readable(trappedAt - 1) &&
        *reinterpret_cast<const std::uint8_t*>(trappedAt - 1) == 0xCC) {
      if (nt::kd::Debugger::Get().OnBreakInstruction(uc, t)) return;
      if (inDriver) {
        nt::ReportBreakpoint(trappedAt - 1, 0);
        return;
      }
    }
    Decoded d = DecodeAt(trappedAt);
    Stop(uc, d, t, bc::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, StatusParameter(0x80000004), trappedAt, 0, 0,
         "single-step trap");
  }

  Decoded d = inDriver ? DecodeAt(trappedAt) : Decoded{};
  if (inDriver && d.available == 0 && t->Irql() < nt::DISPATCH_LEVEL && kernel->pageable().PageIn(trappedAt)) {
    return;  // the code was paged out between the fault and the decode: run it again
  }
  if (signal == SIGSEGV && inDriver && Emulate(cpu, d, t, uc)) {
    if (uc->uc_mcontext.gregs[REG_EFL] & static_cast<greg_t>(eflags::kTf)) nt::kd::Debugger::Get().AfterEmulatedStep(uc, t);
    return;
  }
  // A trampoline's access to the GS block (the IRQL, the interrupt flag) after driver code loaded
  // GS: the handler put the KPCR back (RestoreHostStateInTrap), so the access runs again, as the
  // trapped instruction it replaced would be emulated.
  if ((disturbed & disturbed::kGs) && inDriver && d.ok) {
    bool gs = false;
    for (int i = 0; i < d.insn.operand_count_visible; ++i) {
      gs |= d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[i].mem.segment == ZYDIS_REGISTER_GS;
    }
    const nt::Module* m = kernel->ModuleAt(trappedAt);
    if (gs && m->rewrite && m->rewrite->OriginalOf(m->image->base(), trappedAt)) return;
  }
  // Not emulated: from here on a trampoline's instruction is the original one.
  const std::uint64_t rip = MapTrampolineAddress(uc, d) ? cpu.rip() : trappedAt;

  // Faults that are exceptions whatever the address: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED.
  std::uint32_t status = 0;
  const char* what = nullptr;
  switch (signal) {
    case SIGILL: status = nt::STATUS_ILLEGAL_INSTRUCTION; what = "illegal instruction"; break;
    case SIGFPE: status = nt::STATUS_INTEGER_DIVIDE_BY_ZERO; what = "integer divide error"; break;
    case SIGBUS: status = nt::STATUS_ACCESS_VIOLATION; what = "bus error"; break;
    default:
      if (IsPrivileged(d)) {
        status = nt::STATUS_PRIVILEGED_INSTRUCTION;
        what = "privileged instruction ntbox does not emulate";
      }
      break;
  }
  if (status && inDriver && DispatchToDriver(uc, status, std::nullopt, false, false)) return;
  if (status) Stop(uc, d, t, bc::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, StatusParameter(status), rip, 0, 0, what);
  // An access violation. Find the address and whether it was a write.
  std::uint64_t address = reinterpret_cast<std::uint64_t>(info->si_addr);
  // A write through a constant the rewriter pointed at the host's read-only copy of
  // KUSER_SHARED_DATA: the driver wrote to 0xFFFFF78000000000 + offset.
  if (kernel) address = kernel->SharedDataAddressOf(address).value_or(address);
  const bool pageFault = info->si_code == SEGV_MAPERR || info->si_code == SEGV_ACCERR;
  bool knownAddress = pageFault;
  if (!knownAddress && d.ok) {
    for (int i = 0; i < d.insn.operand_count_visible; ++i) {
      if (cpu.EffectiveAddress(d.insn, d.ops[i], address)) {
        knownAddress = true;
        break;
      }
    }
  }
  const auto err = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_ERR]);
  const bool write = (err & 2) != 0;
  const bool execute = knownAddress && address == rip;
  if (pageFault && kernel) {
    // Special pool's guard and freed pages: the verifier's own codes, at any IRQL, and no
    // exception handler may catch them.
    const auto kind = kernel->pool().ClassifyFault(address);
    if (kind == nt::vf::SpecialPool::Fault::kFreed) {
      Stop(uc, d, t, inDriver ? bc::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL : bc::PAGE_FAULT_IN_FREED_SPECIAL_POOL,
           address, write ? 1 : 0, rip, 0, "special pool: a reference to pool already freed");
    }
    if (kind == nt::vf::SpecialPool::Fault::kBeyondEnd) {
      Stop(uc, d, t,
           inDriver ? bc::DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION : bc::PAGE_FAULT_BEYOND_END_OF_ALLOCATION,
           address, write ? 1 : 0, rip, 0, "special pool: a reference past the end of a pool allocation");
    }
  }
  if (execute && info->si_code == SEGV_ACCERR && kernel &&
      kernel->pageable().KindAt(address) == nt::mm::PageableMemory::Kind::kNone) {
    // A page that is there but not executable: NX protection, not a missing page.
    // Parameter 2 is the page's PTE on Windows; ntbox has none: 1 when the page is readable.
    Stop(uc, d, t, bc::ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, address, Readable(address) ? 1 : 0, 0, 0,
         "execution of memory that is not executable (data, the stack, NX pool)");
  }
  if (t->Irql() >= nt::DISPATCH_LEVEL) {
    const auto pageable = kernel && pageFault ? kernel->pageable().KindAt(address) : nt::mm::PageableMemory::Kind::kNone;
    const char* what = pageable == nt::mm::PageableMemory::Kind::kCode
                           ? "pageable code (a PAGE section) ran at DISPATCH_LEVEL or above; the verifier's IRQL "
                             "checking had paged it out, as Windows may"
                       : pageable == nt::mm::PageableMemory::Kind::kPool
                           ? "paged pool touched at DISPATCH_LEVEL or above; the verifier's IRQL checking had paged "
                             "it out, as Windows may"
                           : "invalid memory access at raised IRQL";
    Stop(uc, d, t, inDriver ? bc::DRIVER_IRQL_NOT_LESS_OR_EQUAL : bc::IRQL_NOT_LESS_OR_EQUAL, address, t->Irql(),
         execute ? 8 : write ? 1 : 0, rip, what);
  }
  const auto rsp = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RSP]);
  if (pageFault && !execute && address + 0x10000 >= rsp && address <= rsp + 0x1000) {
    // A fault at the stack pointer: the CPU cannot push the fault's frame (Windows: a double fault).
    // The thread ran off its stack when the memory just above is stack; else rsp is garbage.
    Stop(uc, d, t, bc::UNEXPECTED_KERNEL_MODE_TRAP, 8, 0, 0, 0,
         MappedAbove(address) ? "kernel stack overflow"
                              : "the stack pointer points at no memory (a double fault: the CPU could not push the "
                                "fault's frame)");
  }
  if (pageFault && address >= nt::mm::kSystemRangeStart) {
    Stop(uc, d, t, bc::PAGE_FAULT_IN_NONPAGED_AREA, address, execute ? 10 : write ? 2 : 0, rip, 2,
         "invalid kernel-space address");
  }
  if (inDriver && DispatchToDriver(uc, static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION),
                                   knownAddress ? std::optional<std::uint64_t>(address) : std::nullopt, write, execute)) {
    return;
  }
  Stop(uc, d, t, bc::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, StatusParameter(nt::STATUS_ACCESS_VIOLATION), rip, 0, 0,
       pageFault ? "access violation" : "general protection fault (non-canonical address)",
       knownAddress ? std::optional<std::uint64_t>(address) : std::nullopt, write);
}

int PreemptSignal() { return SIGRTMIN + 4; }
int WatchdogSignal() { return SIGRTMIN + 5; }
int BreakInSignal() { return SIGRTMIN + 6; }
std::atomic<std::uint64_t> g_watchdogP1{0}, g_watchdogTicks{0}, g_watchdogLimit{0};

// Where the interrupted thread runs driver code below DISPATCH_LEVEL with the kernel lock: let the
// threads waiting for the lock have it, as a clock interrupt's quantum end would. Elsewhere (host
// code may hold host locks; code at DISPATCH_LEVEL is never preempted) the request is dropped; the
// watchdog asks again next quantum.
void OnPreempt(int, siginfo_t*, void* context) {
  (void)EnterSignalHandler();
  auto* uc = static_cast<ucontext_t*>(context);
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  const nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!t || !kernel || !t->guard || t->guard == t->userGuard || t->Irql() >= nt::DISPATCH_LEVEL ||
      !t->InterruptsEnabled()) {
    return;  // no clock interrupt reaches code that disabled interrupts
  }
  if (!kernel->ModuleAt(static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]))) return;
  nt::ke::KernelLock& lock = nt::ke::TheKernelLock();
  if (lock.HeldByCaller()) lock.Yield();
}

// The DPC watchdog's stop, on the thread that stayed at DISPATCH_LEVEL: 0x133 where it spins.
void OnWatchdog(int, siginfo_t*, void* context) {
  (void)EnterSignalHandler();
  auto* uc = static_cast<ucontext_t*>(context);
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t || !t->guard || t->Irql() < nt::DISPATCH_LEVEL) return;
  const auto rip = static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const Decoded d = DecodeAt(rip);
  const std::uint64_t p1 = g_watchdogP1.load();
  Stop(uc, d, t, bc::DPC_WATCHDOG_VIOLATION, p1, g_watchdogTicks.load(), p1 == 0 ? g_watchdogLimit.load() : 0, 0,
       p1 == 0 ? "a DPC routine ran longer than the DPC watchdog allows (DpcTimeout)"
               : "the processor stayed at DISPATCH_LEVEL or above longer than the DPC watchdog allows "
                 "(DpcWatchdogPeriod)");
}

// A debugger's break-in, on the thread that keeps the kernel: it stops where it runs driver code.
void OnBreakIn(int, siginfo_t*, void* context) {
  (void)EnterSignalHandler();
  nt::kd::Debugger::Get().OnBreakInSignal(static_cast<ucontext_t*>(context), nt::ke::CurrentThread());
}

// A rewritten `mov cr8, reg` whose IRQL crosses DISPATCH_LEVEL (cpu/Rewriter.h): the registers as
// the helper entry saved them (lowest address first), the driver's rbp and the return address
// into the trampoline above.
struct IrqlWriteFrame {
  std::uint64_t r15, r14, r13, r12, r10, r9, r8, rdi, rsi, rbx, rdx, rcx, rax, flags, r11, rbp, ret;
  std::uint64_t Register(unsigned n) const {
    const std::uint64_t values[16] = {rax, rcx, rdx, rbx, DriverRsp(), rbp, rsi, rdi,
                                      r8,  r9,  r10, r11, r12, r13, r14, r15};
    return values[n & 15];
  }
  // rsp at the original instruction: above the return address.
  std::uint64_t DriverRsp() const { return reinterpret_cast<std::uint64_t>(&ret + 1); }
};
constexpr std::uint64_t kSlotCallLength = 6;  // call [rip+slot]

}  // namespace
}  // namespace ntbox::cpu

// The checks of a trapped IRQL write (Emulate's), for a rewritten one; a violation stops the
// machine as the trap would, at the original instruction (Stop maps the trampoline's call back).
extern "C" void ntbox_IrqlWrite(unsigned n, ntbox::cpu::IrqlWriteFrame* f) {
  using namespace ntbox::cpu;
  namespace nt = ntbox::nt;
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  const std::uint64_t value = f->Register(n);  // at most HIGH_LEVEL: the trampoline checked
  const std::uint64_t call = f->ret - kSlotCallLength;
  if (const auto v = InlineIrqlWriteViolation(t, call, value)) {
    ucontext_t uc{};
    auto& g = uc.uc_mcontext.gregs;
    const std::pair<int, std::uint64_t> registers[] = {
        {REG_RAX, f->rax}, {REG_RCX, f->rcx}, {REG_RDX, f->rdx}, {REG_RBX, f->rbx}, {REG_RSP, f->DriverRsp()},
        {REG_RBP, f->rbp}, {REG_RSI, f->rsi}, {REG_RDI, f->rdi}, {REG_R8, f->r8},   {REG_R9, f->r9},
        {REG_R10, f->r10}, {REG_R11, f->r11}, {REG_R12, f->r12}, {REG_R13, f->r13}, {REG_R14, f->r14},
        {REG_R15, f->r15}, {REG_EFL, f->flags}, {REG_RIP, call}};
    for (const auto& [reg, value] : registers) g[reg] = static_cast<greg_t>(value);
    Stop(&uc, Decoded{}, t, v->code, v->parameters[0], v->parameters[1], v->parameters[2], v->parameters[3], v->detail);
  }
  t->SetIrql(static_cast<nt::KIRQL>(value));
}

// The entries: rbp framed (a stack walk finds the trampoline's return address above it), the
// register's number in r12, every general register, the flags and xmm0-15 kept (host code is free
// to use them; the driver's code around a cr8 write assumes nothing changes), the host's flags and
// FS/GS put right as an export thunk does.
#define NTBOX_IRQL_WRITE_ENTRY(n)                 \
  "  .p2align 4\n"                                \
  "ntbox_irql_write_" #n ":\n"                    \
  "  push %rbp\n"                                 \
  "  mov %rsp, %rbp\n"                            \
  "  push %r11\n"                                 \
  "  mov $" #n ", %r11d\n"                        \
  "  jmp ntbox_irql_write_common\n"
asm(".text\n"
    NTBOX_IRQL_WRITE_ENTRY(0) NTBOX_IRQL_WRITE_ENTRY(1) NTBOX_IRQL_WRITE_ENTRY(2) NTBOX_IRQL_WRITE_ENTRY(3)
    NTBOX_IRQL_WRITE_ENTRY(4) NTBOX_IRQL_WRITE_ENTRY(5) NTBOX_IRQL_WRITE_ENTRY(6) NTBOX_IRQL_WRITE_ENTRY(7)
    NTBOX_IRQL_WRITE_ENTRY(8) NTBOX_IRQL_WRITE_ENTRY(9) NTBOX_IRQL_WRITE_ENTRY(10) NTBOX_IRQL_WRITE_ENTRY(11)
    NTBOX_IRQL_WRITE_ENTRY(12) NTBOX_IRQL_WRITE_ENTRY(13) NTBOX_IRQL_WRITE_ENTRY(14) NTBOX_IRQL_WRITE_ENTRY(15)
    R"(
  .p2align 4
ntbox_irql_write_common:
  pushfq
  push %rax
  push %rcx
  push %rdx
  push %rbx
  push %rsi
  push %rdi
  push %r8
  push %r9
  push %r10
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, %rbx
  mov %r11d, %r12d
  pushq $0x202
  popfq
  and $-16, %rsp
  sub $256, %rsp
  movdqa %xmm0, 0(%rsp)
  movdqa %xmm1, 16(%rsp)
  movdqa %xmm2, 32(%rsp)
  movdqa %xmm3, 48(%rsp)
  movdqa %xmm4, 64(%rsp)
  movdqa %xmm5, 80(%rsp)
  movdqa %xmm6, 96(%rsp)
  movdqa %xmm7, 112(%rsp)
  movdqa %xmm8, 128(%rsp)
  movdqa %xmm9, 144(%rsp)
  movdqa %xmm10, 160(%rsp)
  movdqa %xmm11, 176(%rsp)
  movdqa %xmm12, 192(%rsp)
  movdqa %xmm13, 208(%rsp)
  movdqa %xmm14, 224(%rsp)
  movdqa %xmm15, 240(%rsp)
  mov %fs, %eax
  mov %gs, %ecx
  or %ecx, %eax
  jz 1f
  call ntbox_restore_host_state
1:
  mov %r12d, %edi
  mov %rbx, %rsi
  call ntbox_IrqlWrite
  movdqa 0(%rsp), %xmm0
  movdqa 16(%rsp), %xmm1
  movdqa 32(%rsp), %xmm2
  movdqa 48(%rsp), %xmm3
  movdqa 64(%rsp), %xmm4
  movdqa 80(%rsp), %xmm5
  movdqa 96(%rsp), %xmm6
  movdqa 112(%rsp), %xmm7
  movdqa 128(%rsp), %xmm8
  movdqa 144(%rsp), %xmm9
  movdqa 160(%rsp), %xmm10
  movdqa 176(%rsp), %xmm11
  movdqa 192(%rsp), %xmm12
  movdqa 208(%rsp), %xmm13
  movdqa 224(%rsp), %xmm14
  movdqa 240(%rsp), %xmm15
  mov %rbx, %rsp
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %r10
  pop %r9
  pop %r8
  pop %rdi
  pop %rsi
  pop %rbx
  pop %rdx
  pop %rcx
  pop %rax
  popfq
  pop %r11
  pop %rbp
  ret
)");
#undef NTBOX_IRQL_WRITE_ENTRY
extern "C" char ntbox_irql_write_0[], ntbox_irql_write_1[], ntbox_irql_write_2[], ntbox_irql_write_3[],
    ntbox_irql_write_4[], ntbox_irql_write_5[], ntbox_irql_write_6[], ntbox_irql_write_7[], ntbox_irql_write_8[],
    ntbox_irql_write_9[], ntbox_irql_write_10[], ntbox_irql_write_11[], ntbox_irql_write_12[], ntbox_irql_write_13[],
    ntbox_irql_write_14[], ntbox_irql_write_15[];

namespace ntbox::cpu {
namespace {
}  // namespace

void RequestBreakIn(unsigned long pthread) { pthread_kill(static_cast<pthread_t>(pthread), BreakInSignal()); }

void RequestPreemption(unsigned long pthread) { pthread_kill(static_cast<pthread_t>(pthread), PreemptSignal()); }

void RequestWatchdogStop(unsigned long pthread, std::uint64_t p1, std::uint64_t ticks, std::uint64_t limit) {
  g_watchdogP1.store(p1);
  g_watchdogTicks.store(ticks);
  g_watchdogLimit.store(limit);
  pthread_kill(static_cast<pthread_t>(pthread), WatchdogSignal());
}

void InstallTrapHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_handlerProcess = ::getpid();
    for (int s : kSignals) {
      struct sigaction sa {};
      sa.sa_sigaction = OnTrap;
      // SA_NODEFER: the handler's FS/GS check may fault (see OnTrap).
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
      sigemptyset(&sa.sa_mask);
      sigaction(s, &sa, nullptr);
    }
    // SA_RESTART: a holder blocked in a system call goes on with it.
    struct sigaction preempt {};
    preempt.sa_sigaction = OnPreempt;
    preempt.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&preempt.sa_mask);
    sigaction(PreemptSignal(), &preempt, nullptr);
    struct sigaction watchdog = preempt;
    watchdog.sa_sigaction = OnWatchdog;
    sigaction(WatchdogSignal(), &watchdog, nullptr);
    struct sigaction breakIn = preempt;
    breakIn.sa_sigaction = OnBreakIn;
    sigaction(BreakInSignal(), &breakIn, nullptr);
  });
}

std::expected<std::uint64_t, nt::BugCheck> CallGuarded(GuardedFunction fn, void* context) {
  nt::ke::KernelThread* t = nt::ke::CurrentThread();
  if (!t) {
    nt::BugCheck b;
    b.code = bc::UNEXPECTED_KERNEL_MODE_TRAP;
    std::strncpy(b.detail, "driver code called on a thread not attached to the kernel", sizeof b.detail - 1);
    return std::unexpected(b);
  }
  InstallTrapHandlers();
  sigjmp_buf buffer;
  sigjmp_buf* const previous = t->guard;
  t->guard = &buffer;
  // The signal mask is not saved: that is a host system call (about 1 µs on these machines) on
  // every call into a driver. A stop that leaves a signal handler leaves only that handler's own
  // signal blocked (the trap handlers run SA_NODEFER with an empty sa_mask; the preemption and
  // watchdog handlers block their own): it is unblocked on the way out instead.
  if (sigsetjmp(buffer, 0) == 0) {
    const std::uint64_t value = fn(context);
    ReturnFromDriver();
    t->guard = previous;
    return value;
  }
  sigset_t handlers;
  sigemptyset(&handlers);
  sigaddset(&handlers, PreemptSignal());
  sigaddset(&handlers, WatchdogSignal());
  pthread_sigmask(SIG_UNBLOCK, &handlers, nullptr);
  t->guard = previous;
  return std::unexpected(t->pendingBugCheck);
}

std::uint64_t IrqlWriteEntry(unsigned reg) {
  static const char* const entries[16] = {
      ntbox_irql_write_0,  ntbox_irql_write_1,  ntbox_irql_write_2,  ntbox_irql_write_3,
      ntbox_irql_write_4,  ntbox_irql_write_5,  ntbox_irql_write_6,  ntbox_irql_write_7,
      ntbox_irql_write_8,  ntbox_irql_write_9,  ntbox_irql_write_10, ntbox_irql_write_11,
      ntbox_irql_write_12, ntbox_irql_write_13, ntbox_irql_write_14, ntbox_irql_write_15};
  return reinterpret_cast<std::uint64_t>(entries[reg & 15]);
}

HostFrameKind HostFrameAt(std::uint64_t rip) {
  if (rip == reinterpret_cast<std::uint64_t>(&ntbox_call_driver_return)) return HostFrameKind::kCallDriverReturn;
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(rip), &info)) return HostFrameKind::kNone;
  using Plain = std::expected<std::uint64_t, nt::BugCheck> (*)(GuardedFunction, void*);
  if (info.dli_saddr == reinterpret_cast<void*>(static_cast<Plain>(&CallGuarded))) return HostFrameKind::kGuardEntry;
  return HostFrameKind::kHost;
}

}  // namespace ntbox::cpu
