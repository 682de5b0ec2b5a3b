#include "nt/ExportThunks.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cpu/HostState.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Exception.h"

extern "C" void ntbox_irql_violation();

namespace ntbox::nt {
namespace {

constexpr std::size_t kThunkSize = 80;

// Builds one thunk at code; slots: the export's address, the IRQL violation handler, the host-state
// repair. Layout:
//   cld; pushfq; pop rax; and eax, AC|DF|TF; mov r11d, fs; or eax, r11d; mov r11d, gs; or eax, r11d
//   jnz repair
// back:
//   [checked: movzx eax, byte gs:[0x50]; cmp al, maxIrql; ja violation]
//   jmp [export]
//   [checked: violation: mov r10, index; jmp [handler]]
// repair:
//   call [ntbox_restore_host_state]; jmp back
// rax, r10 and r11 are free at a call (volatile, no argument) in Windows' x64 convention.
class Emitter {
 public:
  explicit Emitter(std::uint8_t* at) : at_(at), p_(at) {}
  void Bytes(std::initializer_list<std::uint8_t> bytes) {
    for (auto b : bytes) *p_++ = b;
  }
  void Imm32(std::uint32_t v) {
    std::memcpy(p_, &v, 4);
    p_ += 4;
  }
  void Imm64(std::uint64_t v) {
    std::memcpy(p_, &v, 8);
    p_ += 8;
  }
  // An indirect jmp or call through slot, RIP-relative.
  void Indirect(std::uint8_t modrm, const std::uint64_t* slot) {
    Bytes({0xFF, modrm});
    const auto rel = static_cast<std::int32_t>(reinterpret_cast<const std::uint8_t*>(slot) - (p_ + 4));
    std::memcpy(p_, &rel, 4);
    p_ += 4;
  }
  std::uint8_t* here() const { return p_; }
  std::size_t size() const { return static_cast<std::size_t>(p_ - at_); }
  static void Patch8(std::uint8_t* displacement, const std::uint8_t* target) {
    *displacement = static_cast<std::uint8_t>(target - (displacement + 1));
  }

 private:
  std::uint8_t* at_;
  std::uint8_t* p_;
};

struct Slots {
  std::uint64_t* exports;
  std::uint64_t* violation;
  std::uint64_t* repair;
};

void EmitThunk(std::uint8_t* code, std::size_t index, const Export& e, bool checked, const Slots& slots) {
  Emitter x(code);
  x.Bytes({0xFC, 0x9C, 0x58, 0x25});  // cld; pushfq; pop rax; and eax, AC|DF|TF
  x.Imm32(static_cast<std::uint32_t>(cpu::eflags::kHostClears));
  x.Bytes({0x41, 0x8C, 0xE3, 0x44, 0x09, 0xD8});              // mov r11d, fs; or eax, r11d
  x.Bytes({0x41, 0x8C, 0xEB, 0x44, 0x09, 0xD8});              // mov r11d, gs; or eax, r11d
  x.Bytes({0x75, 0x00});                                      // jnz repair
  std::uint8_t* toRepair = x.here() - 1;
  std::uint8_t* back = x.here();
  std::uint8_t* toViolation = nullptr;
  if (checked) {
    x.Bytes({0x65, 0x0F, 0xB6, 0x04, 0x25, 0x50, 0x00, 0x00, 0x00});  // movzx eax, byte gs:[0x50]
    x.Bytes({0x3C, e.maxIrql, 0x77, 0x00});                            // cmp al, maxIrql; ja violation
    toViolation = x.here() - 1;
  }
  x.Indirect(0x25, &slots.exports[index]);  // jmp [export]
  if (checked) {
    Emitter::Patch8(toViolation, x.here());
    x.Bytes({0x49, 0xBA});  // mov r10, index
    x.Imm64(index);
    x.Indirect(0x25, slots.violation);  // jmp [ntbox_irql_violation]
  }
  Emitter::Patch8(toRepair, x.here());
  x.Indirect(0x15, slots.repair);  // call [ntbox_restore_host_state]
  x.Bytes({0xEB, 0x00});           // jmp back
  Emitter::Patch8(x.here() - 1, back);
  if (x.size() > kThunkSize) throw std::logic_error("export thunk too large");
}

// Two thunks per export row (plain, IRQL-checked), then the slots.
struct Thunks {
  std::uint8_t* plain = nullptr;
  std::uint8_t* checked = nullptr;
};

Thunks Build() {
  const auto exports = Exports();
  const std::size_t n = exports.size();
  const std::size_t codeBytes = 2 * n * kThunkSize;
  const std::size_t total = codeBytes + (n + 2) * 8;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* code = static_cast<std::uint8_t*>(p);
  std::memset(code, 0xCC, codeBytes);
  auto* slotBase = reinterpret_cast<std::uint64_t*>(code + codeBytes);
  const Slots slots{slotBase, &slotBase[n], &slotBase[n + 1]};
  *slots.violation = reinterpret_cast<std::uint64_t>(&ntbox_irql_violation);
  *slots.repair = reinterpret_cast<std::uint64_t>(&ntbox_restore_host_state);
  Thunks thunks{code, code + n * kThunkSize};
  for (std::size_t i = 0; i < n; ++i) {
    slots.exports[i] = reinterpret_cast<std::uint64_t>(exports[i].address);
    EmitThunk(thunks.plain + i * kThunkSize, i, exports[i], false, slots);
    EmitThunk(thunks.checked + i * kThunkSize, i, exports[i], true, slots);
  }
  mprotect(p, total, PROT_READ | PROT_EXEC);
  return thunks;
}

const Thunks& Table() {
  static const Thunks thunks = Build();
  return thunks;
}

}  // namespace

std::uint64_t ThroughEntryThunk(std::uint64_t address) {
  const auto exports = Exports();
  const auto start = reinterpret_cast<std::uint64_t>(Table().plain);
  const std::uint64_t offset = address - start;
  if (offset >= 2 * exports.size() * kThunkSize || offset % kThunkSize != 0) return address;
  return reinterpret_cast<std::uint64_t>(exports[(offset / kThunkSize) % exports.size()].address);
}

void* ExportEntry(const Export& e, bool checkIrql) {
  if (e.data) return e.address;
  const auto index = static_cast<std::size_t>(&e - Exports().data());
  const bool checked = checkIrql && e.maxIrql < HIGH_LEVEL;
  return (checked ? Table().checked : Table().plain) + index * kThunkSize;
}

}  // namespace ntbox::nt

namespace ntbox::nt::vf {
namespace {

std::string_view IrqlName(KIRQL irql) {
  switch (irql) {
    case PASSIVE_LEVEL: return "PASSIVE_LEVEL";
    case APC_LEVEL: return "APC_LEVEL";
    case DISPATCH_LEVEL: return "DISPATCH_LEVEL";
    case HIGH_LEVEL: return "HIGH_LEVEL";
    default: return "a device IRQL";
  }
}

}  // namespace
}  // namespace ntbox::nt::vf

// Reached from a thunk: r10 = the export's row, [rsp] = the driver's return address.
// The caller's non-volatile registers, as ntbox_irql_violation pushes them.
struct CallerRegisters {
  std::uint64_t rbx, rbp, rsi, rdi, r12, r13, r14, r15;
};

extern "C" [[noreturn]] void NTAPI ntbox_IrqlViolation(std::uint64_t index, std::uint64_t caller,
                                                      std::uint64_t callerRsp, const CallerRegisters* regs) {
  using namespace ntbox::nt;
  const Export& e = Exports()[index];
  const ke::KernelThread* t = ke::CurrentThread();
  const KIRQL irql = t ? t->Irql() : 0;
  const auto routine = reinterpret_cast<ULONG64>(e.address);
  // No destructors run past a bugcheck: the text goes on the stack.
  char detail[160];
  const auto n = fmt::format_to_n(detail, sizeof detail - 1, "{} called at {}; it may be called at {} at most", e.name,
                                  vf::IrqlName(irql), vf::IrqlName(e.maxIrql)).size;
  BugCheck record;
  record.code = bugcheck::IRQL_NOT_LESS_OR_EQUAL;
  record.parameters = {routine, irql, 8, routine};
  record.address = caller;
  record.irql = irql;
  record.processor = t ? t->processor : 0;
  record.threadId = t ? t->id : 0;
  std::memcpy(record.detail, detail, std::min(n, sizeof record.detail - 1));
  CONTEXT context{};
  context.Rip = caller;
  context.Rsp = callerRsp;
  context.Rbx = regs->rbx;
  context.Rbp = regs->rbp;
  context.Rsi = regs->rsi;
  context.Rdi = regs->rdi;
  context.R12 = regs->r12;
  context.R13 = regs->r13;
  context.R14 = regs->r14;
  context.R15 = regs->r15;
  record.stackDepth = static_cast<std::uint8_t>(StackTrace(context, record.stack));
  RaiseBugCheck(record);
}

asm(R"(
  .text
  .globl ntbox_irql_violation
ntbox_irql_violation:
  mov %r10, %rcx
  mov (%rsp), %rdx
  lea 8(%rsp), %r8
  push %r15
  push %r14
  push %r13
  push %r12
  push %rdi
  push %rsi
  push %rbp
  push %rbx
  mov %rsp, %r9
  sub $0x28, %rsp
  call ntbox_IrqlViolation
  ud2
)");
