#include "nt/ke/BugCheckReport.h"

#include <Zydis/Zydis.h>

#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nt/Status.h"
#include "nt/ex/Pool.h"
#include "nt/io/IoTypes.h"
#include "nt/ob/Object.h"
#include "nt/rtl/Printf.h"
#include "nt/support/SourceLines.h"
#include "nt/support/Symbolize.h"
#include "nt/support/HostSymbols.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

// A report never waits for ever on a lock the stopped thread may hold (the pool's, the kernel's): what
// it cannot have in this time it leaves out.
constexpr std::chrono::milliseconds kReportLockWait{500};

struct ParameterHelp {
  const char* arg[4];
  const char* summary;
};

ParameterHelp HelpFor(ULONG code) {
  switch (code) {
    case bugcheck::KMODE_EXCEPTION_NOT_HANDLED:
      return {{"the exception code that was not handled", "the address where the exception occurred",
               "parameter 0 of the exception (access violation: 0 read, 1 write, 8 execute)",
               "parameter 1 of the exception (access violation: the address accessed)"},
              "A kernel-mode request raised an exception (a fault in driver code or an explicit raise) "
              "that no handler caught."};
    case bugcheck::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED:
      return {{"the exception code that was not handled", "the address where the exception occurred",
               "exception record address (not recorded by ntbox)", "context record address (not recorded by ntbox)"},
              "A kernel-mode thread raised an exception (a fault in driver code or an explicit raise) "
              "that no handler caught."};
    case bugcheck::IRQL_NOT_LESS_OR_EQUAL:
    case bugcheck::DRIVER_IRQL_NOT_LESS_OR_EQUAL:
      return {{"the memory referenced", "the IRQL at the time of the reference",
               "0: read, 1: write, 8: execute", "the address of the instruction that referenced memory"},
              "Code running at DISPATCH_LEVEL or above touched memory that is invalid or pageable."};
    case bugcheck::PAGE_FAULT_IN_NONPAGED_AREA:
      return {{"the memory referenced", "0: read, 2: write, 10: execute",
               "the address of the instruction that referenced memory", "2: the address is not valid"},
              "Code referenced kernel memory that is not mapped."};
    case bugcheck::IRQL_NOT_GREATER_OR_EQUAL:
      return {{"the current IRQL", "the IRQL requested", "reserved", "reserved"},
              "A raise of the IRQL asked for a level below the current one."};
    case bugcheck::BAD_POOL_CALLER:
      return {{"the kind of violation (see the BAD_POOL_CALLER table)", "depends on parameter 1",
               "depends on parameter 1", "depends on parameter 1"},
              "The current thread made a bad pool request."};
    case bugcheck::UNEXPECTED_KERNEL_MODE_TRAP:
      return {{"the trap number (8: double fault: a kernel stack overflow, or a stack pointer the CPU could not "
               "push the fault onto)",
               "reserved", "reserved", "reserved"},
              "The CPU raised a trap the kernel cannot continue from."};
    case bugcheck::ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY:
      return {{"the address executed", "the page's PTE (ntbox: 1 when the page is readable)", "reserved",
               "reserved"},
              "Code jumped to memory that is not executable (data, the stack, NX pool)."};
    case bugcheck::KERNEL_SECURITY_CHECK_FAILURE:
      return {{"the fast-fail code (FAST_FAIL_*)", "trap frame (not recorded by ntbox)",
               "exception record (not recorded by ntbox)", "reserved"},
              "Code detected the corruption of a critical structure and called __fastfail."};
    case bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION:
      return {{"the address the driver freed", "the address where the bytes were overwritten", "reserved",
               "0x23: bytes before the block, 0x24: bytes after its end"},
              "Special pool found the bytes around a block changed when the block was freed."};
    case bugcheck::TIMER_OR_DPC_INVALID:
      return {{"0: a timer, 1: a DPC object, 2: a DPC routine", "its address",
               "the start of the memory being unloaded", "the end of the memory being unloaded"},
              "A timer or DPC was still live in memory that went away (a driver unloaded without cancelling it)."};
    case bugcheck::PAGE_FAULT_IN_FREED_SPECIAL_POOL:
    case bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL:
      return {{"the memory referenced", "0: read, 1: write", "the address of the instruction that referenced memory",
               "reserved"},
              "Code referenced special pool after it was freed."};
    case bugcheck::PAGE_FAULT_BEYOND_END_OF_ALLOCATION:
    case bugcheck::DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION:
      return {{"the memory referenced", "0: read, 1: write", "the address of the instruction that referenced memory",
               "reserved"},
              "Code referenced memory past the end of a special pool allocation."};
    case bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS:
      return {{"the driver code still referenced", "8: execute", "the pending object (work item), if known",
               "reserved"},
              "A driver unloaded while work of its own (a work item, a system thread) was still pending."};
    case bugcheck::MULTIPLE_IRP_COMPLETE_REQUESTS:
      return {{"the IRP", "reserved", "reserved", "reserved"},
              "A driver completed an IRP that was already complete."};
    case bugcheck::DRIVER_VERIFIER_IOMANAGER_VIOLATION:
      return {{"the kind of violation", "depends on parameter 1 (the device object, the IRP or the routine)",
               "depends on parameter 1", "depends on parameter 1"},
              "Driver Verifier's I/O checks found the driver breaking an I/O manager rule."};
    case bugcheck::RESOURCE_NOT_OWNED:
      return {{"the resource", "the thread", "the owner table (not recorded by ntbox)", "reserved"},
              "A thread released an ERESOURCE it does not own."};
    case bugcheck::DPC_WATCHDOG_VIOLATION:
      return {{"0: one DPC ran too long, 1: the processor stayed at DISPATCH_LEVEL too long",
               "the time it ran, in clock ticks (15.625 ms)", "0: the limit for one DPC, in clock ticks", "reserved"},
              "A processor was stuck at DISPATCH_LEVEL or above (here: spinning on a spin lock that can never "
              "be released)."};
    default:
      return {{"", "", "", ""}, "The driver or the kernel stopped the machine."};
  }
}

// Driver Verifier's general code: the meaning of the other parameters depends on the first.
ParameterHelp VerifierHelp(ULONG64 subcode) {
  const char* summary = "Driver Verifier caught the driver breaking a rule.";
  switch (subcode) {
    case 0x00:
      return {{"0x00: a zero-byte pool allocation", "the current IRQL", "the pool type", "the number of bytes"},
              summary};
    case 0x01:
      return {{"0x01: paged pool allocated at an IRQL above APC_LEVEL", "the current IRQL", "the pool type",
               "the size of the allocation"},
              summary};
    case 0x11:
      return {{"0x11: paged pool freed at an IRQL above APC_LEVEL", "the current IRQL", "the pool type",
               "the address of the pool"},
              summary};
    case 0x30:
      return {{"0x30: KeRaiseIrql to an IRQL below the current one (or above HIGH_LEVEL)", "the current IRQL",
               "the requested IRQL", "reserved"},
              summary};
    case 0x31:
      return {{"0x31: KeLowerIrql to an IRQL above the current one", "the current IRQL", "the requested IRQL",
               "0: the new IRQL is bad, 1: the new IRQL is invalid inside a DPC routine"},
              summary};
    case 0x32:
    case 0x40:
    case 0x41:
    case 0x42:
      return {{"the rule broken (a spin lock called at the wrong IRQL)", "the current IRQL", "the spin lock",
               "reserved"},
              summary};
    case 0x33:
    case 0x34:
      return {{"the rule broken (a fast mutex at the wrong IRQL)", "the current IRQL", "the fast mutex", "reserved"},
              summary};
    case 0x37:
    case 0x38:
    case 0x39:
    case 0x3A:
      return {{"the rule broken (APCs not disabled)", "the current IRQL", "the thread's APC disable count",
               "the resource or mutex"},
              summary};
    case 0xCC:
      return {{"0xCC: pool freed with an active lookaside list in it", "the lookaside list",
               "the start of the pool block", "the size of the pool block"},
              summary};
    case 0xD2:
      return {{"0xD2: pool freed with an active ERESOURCE in it", "the ERESOURCE", "the start of the pool block",
               "the size of the pool block"},
              summary};
    case 0x62:
      return {{"0x62: the driver unloaded without freeing its pool", "the driver's name (UNICODE_STRING)",
               "reserved", "the number of allocations not freed"},
              summary};
    case 0x1000:
      return {{"0x1000: a lock acquired again by the thread that holds it", "the lock", "reserved", "reserved"},
              summary};
    case 0x100A:
      return {{"0x100A: a routine returned holding a spin lock it acquired", "the thread", "the spin lock",
               "the routine that returned"},
              summary};
    default:
      return {{"the rule broken (see the DRIVER_VERIFIER_DETECTED_VIOLATION table)", "depends on parameter 1",
               "depends on parameter 1", "depends on parameter 1"},
              summary};
  }
}

std::string Disassemble(const BugCheck& b) {
  if (!b.hasContext || b.codeLength == 0) return {};
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  std::string hex;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, b.code_bytes.data(), b.code_bytes.size(), &insn, ops))) {
    for (unsigned i = 0; i < b.codeLength && i < 8; ++i) hex += fmt::format("{:02x}", b.code_bytes[i]);
    return fmt::format("{} {:<16} ???", WinDbgAddress(b.address), hex);
  }
  ZydisFormatter formatter;
  ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL);
  ZydisFormatterSetProperty(&formatter, ZYDIS_FORMATTER_PROP_HEX_UPPERCASE, ZYAN_FALSE);
  char text[128];
  ZydisFormatterFormatInstruction(&formatter, &insn, ops, insn.operand_count_visible, text, sizeof text, b.address,
                                  nullptr);
  for (unsigned i = 0; i < insn.length; ++i) hex += fmt::format("{:02x}", b.code_bytes[i]);
  return fmt::format("{} {:<16} {}", WinDbgAddress(b.address), hex, text);
}

std::string Registers(const BugCheck& b) {
  auto r = [&b](Reg reg) { return b.registers[static_cast<int>(reg)]; };
  return fmt::format(
      "rax={:016x} rbx={:016x} rcx={:016x}\n"
      "rdx={:016x} rsi={:016x} rdi={:016x}\n"
      "rip={:016x} rsp={:016x} rbp={:016x}\n"
      " r8={:016x}  r9={:016x} r10={:016x}\n"
      "r11={:016x} r12={:016x} r13={:016x}\n"
      "r14={:016x} r15={:016x} efl={:08x}\n",
      r(Reg::rax), r(Reg::rbx), r(Reg::rcx), r(Reg::rdx), r(Reg::rsi), r(Reg::rdi), r(Reg::rip), r(Reg::rsp),
      r(Reg::rbp), r(Reg::r8), r(Reg::r9), r(Reg::r10), r(Reg::r11), r(Reg::r12), r(Reg::r13), r(Reg::r14),
      r(Reg::r15), r(Reg::efl));
}

// A driver address as WinDbg shows it with symbols: `driver!Function+0x1c`, named from the image's
// DWARF where it has some (that also names static functions the COFF table lacks), and the source.
struct SourcedSymbol {
  std::string symbol;
  std::optional<SourceLine> source;
  std::string Text() const {
    return source ? fmt::format("{} [{} @ {}]", symbol, source->file, source->line) : symbol;
  }
};

// Every driver address the report names, looked up in one helper run per image.
void LoadReportSourceLines(const BugCheck& b, Kernel& kernel) {
  std::map<const Module*, std::vector<std::uint64_t>> byModule;
  auto add = [&](std::uint64_t address) {
    if (const Module* m = address ? kernel.ModuleAt(address) : nullptr) byModule[m].push_back(address);
  };
  add(b.address);
  add(b.driverCaller);
  for (std::uint8_t i = 0; i < b.stackDepth; ++i) add(b.stack[i]);
  for (const auto& [module, addresses] : byModule) LoadSourceLines(*module, addresses);
}

// A frame of the stack a report shows: not the machinery between kernel routines.
bool Shown(std::uint64_t address) {
  const auto host = HostSymbolAt(address);
  return !host || !host->plumbing;
}

// A frame of the report's stack: a program's (from index programFrom on) named by its images.
SourcedSymbol DescribeFrame(const BugCheck& b, std::uint8_t i, Kernel& kernel);

SourcedSymbol Describe(std::uint64_t address, Kernel& kernel) {
  SourcedSymbol out{Symbolize(address), std::nullopt};
  const Module* module = kernel.ModuleAt(address);
  if (!module) return out;
  out.source = SourceLineAt(*module, address);
  if (out.source && !out.source->function.empty() && out.source->functionStart &&
      out.source->functionStart <= address) {
    out.symbol = SymbolText(module->name, out.source->function, address - out.source->functionStart);
  }
  return out;
}

SourcedSymbol DescribeFrame(const BugCheck& b, std::uint8_t i, Kernel& kernel) {
  if (i >= b.programFrom) {
    if (auto program = NameProgramFrame(b.stack[i], b.peb)) return {program->symbol, program->source};
  }
  return Describe(b.stack[i], kernel);
}

std::string MajorFunctionName(std::uint8_t major) {
  return major < std::size(kMajorFunctionNames) ? kMajorFunctionNames[major] : fmt::format("IRP_MJ_{:#x}", major);
}

std::string StatusText(ULONG status) {
  const std::string_view name = NtStatusName(static_cast<NTSTATUS>(status));
  return name.empty() ? fmt::format("{:#010x}", status) : fmt::format("{:#010x} {}", status, name);
}

// The IRP the stop is about, as WinDbg's !irp prints it: its stack locations with the current one
// marked, then the fields a driver writer checks (status, cancel state, buffers).
std::string FormatIrp(const IrpSnapshot& irp, Kernel& kernel) {
  std::string out = fmt::format("IRP_ADDRESS: {}\n", WinDbgAddress(irp.address));
  if (irp.stackCount == 0) return out + "  (not readable as an IRP)\n\n";
  const bool completed = irp.currentLocation > irp.stackCount;
  if (completed) {
    out += fmt::format("Irp is completed ({} stacks).\n", irp.stackCount);
  } else {
    out += fmt::format("Irp is active with {} stacks {} is current\n", irp.stackCount, irp.currentLocation);
  }
  out += fmt::format(" Mdl={} System buffer={} User buffer={} Thread={}\n", WinDbgAddress(irp.mdl),
                     WinDbgAddress(irp.systemBuffer), WinDbgAddress(irp.userBuffer), WinDbgAddress(irp.thread));
  out += fmt::format(" IoStatus: Status={} Information={:#x}\n", StatusText(irp.status), irp.information);
  out += fmt::format(" Cancel={} CancelRoutine={} PendingReturned={} RequestorMode={} Flags={:08x}\n",
                     irp.cancel ? 1 : 0, irp.cancelRoutine ? Symbolize(irp.cancelRoutine) : std::string("0"),
                     irp.pendingReturned ? 1 : 0, irp.requestorMode ? "UserMode" : "KernelMode", irp.flags);
  out += "     cmd  flg cl Device            File              Completion-Context\n";
  for (std::uint8_t i = 0; i < irp.locations; ++i) {
    const auto& l = irp.stack[i];
    const bool current = !completed && i + 1 == irp.currentLocation;
    if (l.device == 0 && l.major == 0 && !current) {
      out += fmt::format(" [N/A(0), N/A(0)]\n");
      continue;
    }
    out += fmt::format("{}[{}({:x}), {:x}]\n", current ? ">" : " ", MajorFunctionName(l.major), l.major, l.minor);
    out += fmt::format("           {:2x} {:2x} {} {} {}{}\n", l.flags, l.control, WinDbgAddress(l.device),
                       WinDbgAddress(l.file),
                       l.completionRoutine ? Symbolize(l.completionRoutine) : std::string("00000000"),
                       l.completionRoutine ? "-" + WinDbgAddress(l.context) : std::string("-00000000"));
    if (l.device) {
      if (const auto name = kernel.objects().NameOf(reinterpret_cast<const void*>(l.device))) {
        out += "           " + Utf16ToUtf8(*name) + "\n";
      }
    }
    out += fmt::format("           Args: {:016x} {:016x} {:016x} {:016x}{}\n", l.arguments[0], l.arguments[1],
                       l.arguments[2], l.arguments[3], (l.control & 0x01) ? "  (pending)" : "");
  }
  return out + "\n";
}

}  // namespace

std::string FormatStopLine(const BugCheck& b) {
  const std::string_view name = BugCheckName(b.code);
  return fmt::format("*** STOP: 0x{:08X} (0x{:016X},0x{:016X},0x{:016X},0x{:016X}){}{}", b.code, b.parameters[0],
                     b.parameters[1], b.parameters[2], b.parameters[3], name.empty() ? "" : " ", name);
}

std::string FormatBugCheckReport(const BugCheck& b, Kernel& kernel) {
  LoadReportSourceLines(b, kernel);
  const ParameterHelp help =
      b.code == bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION ? VerifierHelp(b.parameters[0]) : HelpFor(b.code);
  const std::string_view name = BugCheckName(b.code);
  std::string out;
  out += "*******************************************************************************\n";
  out += "*                                                                             *\n";
  out += "*                        Bugcheck Analysis                                    *\n";
  out += "*                                                                             *\n";
  out += "*******************************************************************************\n\n";
  out += fmt::format("{} ({:x})\n{}\n", name.empty() ? "UNKNOWN_BUGCHECK" : name, b.code, help.summary);
  if (b.detail[0]) out += fmt::format("ntbox: {}\n", b.detail);
  out += "Arguments:\n";
  for (int i = 0; i < 4; ++i) {
    out += fmt::format("Arg{}: {:016x}{}{}\n", i + 1, b.parameters[i], help.arg[i][0] ? ", " : "", help.arg[i]);
  }
  if (b.code == bugcheck::SYSTEM_THREAD_EXCEPTION_NOT_HANDLED || b.code == bugcheck::KMODE_EXCEPTION_NOT_HANDLED) {
    const auto status = static_cast<NTSTATUS>(b.parameters[0]);
    if (auto sname = NtStatusName(status); !sname.empty()) out += fmt::format("EXCEPTION_CODE: ({}) {:08x}\n", sname, static_cast<std::uint32_t>(status));
  }
  out += "\n";

  const Module* module = b.address ? kernel.ModuleAt(b.address) : nullptr;
  if (!module && b.driverCaller) module = kernel.ModuleAt(b.driverCaller);
  if (b.address) {
    out += fmt::format("{}:\n{}\n", b.hasContext ? "FAULTING_IP" : "CALLER", Describe(b.address, kernel).Text());
    if (const std::string insn = Disassemble(b); !insn.empty()) out += insn + "\n";
    if (b.driverCaller) {
      out += fmt::format("called from {} ({})\n", Describe(b.driverCaller, kernel).Text(), WinDbgAddress(b.driverCaller));
    }
    out += "\n";
  }
  if (b.hasContext) out += "CONTEXT:\n" + Registers(b) + "\n";
  if (b.stackDepth) {
    out += "STACK_TEXT:\n";
    for (std::uint8_t i = 0; i < b.stackDepth; ++i) {
      if (!Shown(b.stack[i])) continue;
      out += fmt::format("{} {}\n", WinDbgAddress(b.stack[i]), DescribeFrame(b, i, kernel).Text());
    }
    out += "\n";
  }
  out += fmt::format("CURRENT_IRQL:  {:x}\nPROCESSOR:     {}\nTHREAD_ID:     {:x}\n\n", b.irql, b.processor, b.threadId);
  if (b.irp.address) out += FormatIrp(b.irp, kernel);
  if (module) {
    out += fmt::format("MODULE_NAME: {}\nIMAGE_NAME:  {}\nFAULTING_MODULE: {} {}\n\n", module->name, module->fileName,
                       WinDbgAddress(module->image->base()), module->name);
  } else if (b.address) {
    out += "MODULE_NAME: nt (ntbox kernel code, called by a driver)\n\n";
  }
  const auto recent = kernel.RecentDebugOutputWithin(kReportLockWait);
  if (!recent.empty()) {
    out += "LAST_DEBUG_OUTPUT:\n";
    const std::size_t first = recent.size() > 10 ? recent.size() - 10 : 0;
    for (std::size_t i = first; i < recent.size(); ++i) {
      std::string line = rtl::AnsiToUtf8(recent[i].text);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      out += fmt::format("  [{:.6f}] {}\n", recent[i].seconds, line);
    }
    out += "\n";
  }
  const auto pool = kernel.pool().OutstandingWithin(kReportLockWait).value_or(std::vector<PoolAllocation>{});
  if (!pool.empty()) {
    SIZE_T bytes = 0;
    for (const auto& a : pool) bytes += a.size;
    out += fmt::format("POOL: {} allocation(s) outstanding, {} bytes\n\n", pool.size(), bytes);
  }
  out += FormatStopLine(b) + "\n";
  return out;
}

std::string FormatBugCheckJson(const BugCheck& b, Kernel& kernel) {
  LoadReportSourceLines(b, kernel);
  using nlohmann::json;
  const ParameterHelp help =
      b.code == bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION ? VerifierHelp(b.parameters[0]) : HelpFor(b.code);
  auto hex = [](std::uint64_t v) { return fmt::format("0x{:016X}", v); };
  json j;
  j["code"] = b.code;
  j["code_hex"] = fmt::format("0x{:08X}", b.code);
  j["name"] = std::string(BugCheckName(b.code));
  j["summary"] = help.summary;
  j["detail"] = std::string(b.detail);
  j["stop"] = FormatStopLine(b);
  json parameters = json::array();
  for (int i = 0; i < 4; ++i) parameters.push_back({{"value", hex(b.parameters[i])}, {"meaning", help.arg[i]}});
  j["parameters"] = parameters;
  j["irql"] = b.irql;
  j["processor"] = b.processor;
  j["thread_id"] = b.threadId;
  const Module* module = b.address ? kernel.ModuleAt(b.address) : nullptr;
  if (!module && b.driverCaller) module = kernel.ModuleAt(b.driverCaller);
  if (b.address) {
    j["faulting_address"] = hex(b.address);
    const SourcedSymbol where = Describe(b.address, kernel);
    j["faulting_symbol"] = where.symbol;
    if (where.source) j["faulting_source"] = {{"file", where.source->file}, {"line", where.source->line}};
    j["faulting_instruction"] = Disassemble(b);
  }
  if (b.driverCaller) j["called_from"] = Symbolize(b.driverCaller);
  j["module"] = module ? json{{"name", module->name}, {"image", module->fileName}, {"base", hex(module->image->base())}}
                       : json(nullptr);
  json stack = json::array();
  for (std::uint8_t i = 0; i < b.stackDepth; ++i) {
    if (!Shown(b.stack[i])) continue;
    const SourcedSymbol frame = DescribeFrame(b, i, kernel);
    json entry = {{"address", hex(b.stack[i])}, {"symbol", frame.symbol}};
    if (frame.source) entry["source"] = {{"file", frame.source->file}, {"line", frame.source->line}};
    stack.push_back(entry);
  }
  j["stack"] = stack;
  if (b.hasContext) {
    static constexpr const char* kNames[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rip", "rsp", "rbp",
                                             "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "efl"};
    json registers;
    for (int i = 0; i < static_cast<int>(Reg::count); ++i) registers[kNames[i]] = hex(b.registers[i]);
    j["registers"] = registers;
  }
  json debug = json::array();
  const auto recent = kernel.RecentDebugOutputWithin(kReportLockWait);
  for (std::size_t i = recent.size() > 10 ? recent.size() - 10 : 0; i < recent.size(); ++i) {
    std::string line = rtl::AnsiToUtf8(recent[i].text);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    debug.push_back({{"seconds", recent[i].seconds}, {"text", line}});
  }
  j["last_debug_output"] = debug;
  if (b.irp.address) {
    json irp = {{"address", hex(b.irp.address)}};
    if (b.irp.stackCount) {
      json stack = json::array();
      for (std::uint8_t i = 0; i < b.irp.locations; ++i) {
        const auto& l = b.irp.stack[i];
        stack.push_back({{"major_function", MajorFunctionName(l.major)}, {"minor_function", l.minor},
                         {"control", l.control}, {"device", hex(l.device)}, {"file", hex(l.file)},
                         {"completion_routine", l.completionRoutine ? Symbolize(l.completionRoutine) : ""},
                         {"arguments", {hex(l.arguments[0]), hex(l.arguments[1]), hex(l.arguments[2]),
                                        hex(l.arguments[3])}}});
      }
      irp.update({{"stack_count", b.irp.stackCount}, {"current_location", b.irp.currentLocation},
                  {"status", StatusText(b.irp.status)}, {"information", b.irp.information},
                  {"cancel", b.irp.cancel}, {"cancel_routine", b.irp.cancelRoutine ? Symbolize(b.irp.cancelRoutine) : ""},
                  {"pending_returned", b.irp.pendingReturned}, {"system_buffer", hex(b.irp.systemBuffer)},
                  {"user_buffer", hex(b.irp.userBuffer)}, {"mdl", hex(b.irp.mdl)}, {"stack", stack}});
    }
    j["irp"] = irp;
  }
  const auto pool = kernel.pool().OutstandingWithin(kReportLockWait).value_or(std::vector<PoolAllocation>{});
  SIZE_T bytes = 0;
  json allocations = json::array();
  for (const auto& a : pool) {
    bytes += a.size;
    // The drivers' own allocations, which are what a report is read for (bounded).
    if (allocations.size() < 32 && kernel.ModuleAt(a.caller)) {
      allocations.push_back({{"address", hex(a.address)}, {"bytes", a.size}, {"tag", PoolTagText(a.tag)},
                             {"allocated_at", Symbolize(a.caller)}, {"special_pool", a.special}});
    }
  }
  j["pool"] = {{"allocations", pool.size()}, {"bytes", bytes}, {"driver_allocations", allocations}};
  return j.dump(2) + "\n";
}

}  // namespace ntbox::nt
