#include "nt/vf/IrqlThunks.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include <fmt/format.h>

#include "nt/ke/BugCheck.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Exception.h"

extern "C" void ntbox_irql_violation();

namespace ntbox::nt::vf {
namespace {

constexpr std::size_t kThunkSize = 48;

// The checking thunk, with the IRQL limit, the jump to the export's slot, and the violation path
// that passes the export's index in r10 (volatile, no argument register) to ntbox_irql_violation.
constexpr std::uint8_t kTemplate[] = {
    0x65, 0x0F, 0xB6, 0x04, 0x25, 0x50, 0x00, 0x00, 0x00,  // movzx eax, byte ptr gs:[0x50]
    0x3C, 0x00,                                            // cmp al, maxIrql          (+10)
    0x77, 0x06,                                            // ja violation
    0xFF, 0x25, 0x00, 0x00, 0x00, 0x00,                    // jmp [rip+slot]          (+15)
    0x49, 0xBA, 0, 0, 0, 0, 0, 0, 0, 0,                    // mov r10, index          (+21)
    0xFF, 0x25, 0x00, 0x00, 0x00, 0x00,                    // jmp [rip+handler slot]  (+31)
};
static_assert(sizeof kTemplate <= kThunkSize);

struct Thunks {
  std::uint8_t* code = nullptr;  // one thunk per export row, then the slots
};

Thunks Build() {
  const auto exports = Exports();
  const std::size_t n = exports.size();
  const std::size_t codeBytes = n * kThunkSize;
  const std::size_t total = codeBytes + (n + 1) * 8;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* code = static_cast<std::uint8_t*>(p);
  auto* slots = reinterpret_cast<std::uint64_t*>(code + codeBytes);
  slots[n] = reinterpret_cast<std::uint64_t>(&ntbox_irql_violation);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t* t = code + i * kThunkSize;
    std::memset(t, 0xCC, kThunkSize);
    std::memcpy(t, kTemplate, sizeof kTemplate);
    t[10] = exports[i].maxIrql;
    slots[i] = reinterpret_cast<std::uint64_t>(exports[i].address);
    const auto slotRel = static_cast<std::int32_t>(reinterpret_cast<std::uint8_t*>(&slots[i]) - (t + 19));
    std::memcpy(t + 15, &slotRel, 4);
    const std::uint64_t index = i;
    std::memcpy(t + 21, &index, 8);
    const auto handlerRel = static_cast<std::int32_t>(reinterpret_cast<std::uint8_t*>(&slots[n]) - (t + 35));
    std::memcpy(t + 31, &handlerRel, 4);
  }
  mprotect(p, total, PROT_READ | PROT_EXEC);
  return Thunks{code};
}

const Thunks& Table() {
  static const Thunks thunks = Build();
  return thunks;
}

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

void* IrqlCheckedAddress(const Export& e) {
  if (e.data || e.maxIrql >= HIGH_LEVEL) return e.address;
  const auto index = static_cast<std::size_t>(&e - Exports().data());
  return Table().code + index * kThunkSize;
}

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
  const KIRQL irql = t ? t->irql : 0;
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
  record.stackDepth = static_cast<std::uint8_t>(DriverStack(context, record.stack));
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
