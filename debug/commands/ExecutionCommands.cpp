// Breakpoints (bp bu bl bc bd be), running (g), stepping (p t gu) and how a stop is shown, as
// WinDbg does it. Steps over calls use a breakpoint after the call; source-line steps repeat
// instruction steps until the line changes.
#include <algorithm>
#include <cctype>
#include <sstream>

#include "debug/Disassembler.h"
#include "debug/Session.h"
#include "nt/ke/BugCheck.h"
#include "nt/mm/AddressSpace.h"
#include "nt/ke/BugCheckReport.h"
#include "nt/support/Symbolize.h"
#include "support/InputFile.h"

namespace ntbox::debug {
namespace {

using nt::kd::Debugger;
using nt::kd::Resume;
using nt::kd::StopReason;

// The text of a source line, when the file is there to read (through the debugger's client: the
// machine server does not read the user's files by name).
std::string SourceText(const std::string& file, std::uint32_t line) {
  auto bytes = ReadInputFile(file, 64u << 20, "a source file");
  if (!bytes) return {};
  std::istringstream in(std::string(bytes->begin(), bytes->end()));
  std::string text;
  for (std::uint32_t n = 1; std::getline(in, text); ++n) {
    if (n == line) return text;
  }
  return {};
}

bool InDriverCode(Session& s, std::uint64_t address) {
  const ModuleSymbols* m = s.symbols().ModuleAt(address);
  return m && !m->kernelCode;
}

Breakpoint* FindBreakpoint(Session& s, std::uint64_t address, bool data = false) {
  for (auto& b : s.breakpoints) {
    if (b.address == address && b.enabled && (b.dataSize != 0) == data) return &b;
  }
  return nullptr;
}

// Writes one breakpoint into the machine (code: an int 3; data: its pages protected).
Result<void> Arm(const Breakpoint& b) {
  if (b.dataSize) return Debugger::Get().Watch(b.address, b.dataSize, b.access);
  return Debugger::Get().Insert(b.address);
}

void Disarm(const Breakpoint& b) {
  if (b.dataSize) Debugger::Get().Unwatch(b.address);
  else Debugger::Get().Remove(b.address);
}

// The module a breakpoint's expression names ("sioctl!DriverEntry" → "sioctl").
std::string ModuleOf(const std::string& expression) {
  const auto bang = expression.find('!');
  return bang == std::string::npos ? std::string() : expression.substr(0, bang);
}

}  // namespace

void Session::PrintLocation(std::uint64_t address) {
  std::string label = symbols_.NameOf(address);
  if (label.empty()) label = nt::WinDbgAddress(address);
  const auto pos = symbols_.LineAt(address);
  if (pos) {
    Printf("{} [{} @ {}]:\n", label, pos->file, pos->line);
    if (sourceMode) {
      const std::string text = SourceText(pos->file, pos->line);
      if (!text.empty()) Printf("{:>5}: {}\n", pos->line, text);
    }
  } else {
    Printf("{}:\n", label);
  }
  const Instruction i = Decode(address);
  if (i.length == 0) {
    Printf("{} ??              ???\n", nt::WinDbgAddress(address));
  } else {
    Printf("{} {:<15} {}\n", nt::WinDbgAddress(address), i.bytes, i.text);
  }
  nextCode = address;
}

void Session::ReportStop() {
  nt::kd::Stop* s = stop();
  if (!s) return;
  frame = 0;
  switch (s->reason) {
    case StopReason::kBreakpoint:
    case StopReason::kDataBreakpoint: {
      Breakpoint* b = FindBreakpoint(*this, s->address, s->reason == StopReason::kDataBreakpoint);
      if (b) {
        ++b->hits;
        Printf("Breakpoint {} hit\n", b->id);
      }
      break;
    }
    case StopReason::kBreakInstruction:
    case StopReason::kBreakIn:
      Print("Break instruction exception - code 80000003 (first chance)\n");
      if (!s->hasContext) {
        Print("The machine was idle (no thread ran driver code): the debugger holds it. Registers and k are\n"
              "not available; breakpoints, memory and the extensions are.\n");
        return;
      }
      break;
    case StopReason::kBugCheck: {
      const nt::BugCheck& b = *s->bugCheck;
      Printf("\n*** Fatal System Error: 0x{:08x}\n                       (0x{:016X},0x{:016X},0x{:016X},0x{:016X})\n\n",
             b.code, b.parameters[0], b.parameters[1], b.parameters[2], b.parameters[3]);
      Print("Break instruction exception - code 80000003 (first chance)\n\nA fatal system error has occurred.\n"
            "Debugger entered on first try; Bugcheck callbacks have not been invoked.\n\n"
            "A fatal system error has occurred.\n\nFor analysis of this file, run !analyze -v\n");
      if (!s->hasContext) return;
      break;
    }
    case StopReason::kStep:
    case StopReason::kModuleLoad:
      break;
  }
  if (s->hasContext) PrintLocation(s->context.Rip);
}

std::size_t Session::Frames(const nt::kd::Stop& stop, std::span<nt::StackFrame> out) {
  if (stop.context.Rip < nt::mm::kUserProbeAddress) return nt::ProgramStackWalk(stop.context, stop.peb, out);
  return nt::StackWalk(stop.context, out);
}

void Session::ArmBreakpoints() {
  for (auto& b : breakpoints) {
    if (b.unresolved || !b.address) {
      // Its module may have come (or gone and come back elsewhere).
      const std::string module = ModuleOf(b.expression);
      if (module.empty() || symbols_.ModuleNamed(module)) {
        if (auto a = Evaluate(b.expression)) b.address = *a;
      }
    } else if (!symbols_.ModuleAt(b.address)) {
      b.address = 0;  // its module went: deferred again
      b.unresolved = true;
      continue;
    }
    if (b.address && b.enabled && !b.dataSize) (void)Debugger::Get().Insert(b.address);
  }
}

bool Session::OnStopArrived() {
  nt::kd::Stop* s = stop();
  if (!s) return false;
  if (s->reason == StopReason::kModuleLoad) {
    if (s->userModule) {
      // A program's image: its process's modules, with this one before its loader lists it.
      symbols_.AddProgramImage(s->peb, s->moduleName, s->modulePath, s->moduleBase, s->moduleEnd);
      symbols_.SetProcess(s->peb);
    }
    symbols_.Refresh();
    ArmBreakpoints();
    Debugger::Get().Resume(Resume::kGo);
    return false;
  }
  symbols_.SetProcess(s->peb);
  symbols_.Refresh();
  ReportStop();
  return true;
}

bool Session::Continue(Resume how) {
  if (stop()) Debugger::Get().Resume(how);
  for (;;) {
    if (!wait_ || !wait_()) {
      ended = true;
      return false;
    }
    nt::kd::Stop* s = stop();
    if (!s) continue;
    if (s->reason == StopReason::kModuleLoad) {
      OnStopArrived();
      continue;
    }
    symbols_.SetProcess(s->peb);
    symbols_.Refresh();
    return true;
  }
}

std::optional<std::uint64_t> Session::Register(std::string_view name) {
  nt::kd::Stop* s = stop();
  if (!s || !s->hasContext) return std::nullopt;
  const nt::CONTEXT& c = s->context;
  static constexpr std::string_view k64[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                             "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static constexpr std::string_view k32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                             "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
  const nt::ULONG64* regs = &c.Rax;
  for (int i = 0; i < 16; ++i) {
    if (name == k64[i]) return regs[i];
    if (name == k32[i]) return regs[i] & 0xFFFFFFFF;
  }
  if (name == "rip" || name == "$ip") return c.Rip;
  if (name == "efl") return c.EFlags;
  return std::nullopt;
}

// bp ADDRESS | bu module!symbol: a breakpoint; one whose module is not loaded is deferred.
void CmdBreakpoint(Session& s, std::string_view name, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.empty()) {
    s.Print("Syntax: bp ADDRESS (bu module!symbol for a deferred breakpoint)\n");
    return;
  }
  Breakpoint b;
  b.id = s.nextBreakpoint;
  b.expression = words[0];
  const std::string module = ModuleOf(b.expression);
  const bool moduleLoaded = module.empty() || s.symbols().ModuleNamed(module);
  if (name == "bu" || !moduleLoaded) {
    b.unresolved = true;
    if (name == "bp") s.Printf("Bp expression '{}' could not be resolved, adding deferred bp\n", b.expression);
  }
  if (moduleLoaded) {
    auto address = s.Evaluate(b.expression);
    if (!address) {
      if (name == "bp") {
        s.Printf("{}\n", address.error().message);
        return;
      }
    } else {
      b.address = *address;
      if (!InDriverCode(s, b.address)) {
        s.Printf("Breakpoints go in driver code: {} is not in a loaded driver\n", b.expression);
        return;
      }
      if (auto inserted = Debugger::Get().Insert(b.address); !inserted) {
        s.Printf("Unable to insert breakpoint {} at {}: {}\n", b.id, nt::WinDbgAddress(b.address),
                 inserted.error().message);
        return;
      }
    }
  }
  // A second breakpoint at the same place replaces the first, as WinDbg says.
  for (auto& old : s.breakpoints) {
    if (old.expression == b.expression || (b.address && old.address == b.address)) {
      s.Printf("breakpoint {} redefined\n", old.id);
      old.address = b.address;
      old.unresolved = b.unresolved;
      old.enabled = true;
      return;
    }
  }
  ++s.nextBreakpoint;
  s.breakpoints.push_back(std::move(b));
}

void CmdBreakpointList(Session& s, std::string_view, std::string_view) {
  for (const auto& b : s.breakpoints) {
    const char state = b.enabled ? 'e' : 'd';
    if (b.dataSize) {
      s.Printf("{:>2} {}  {} {} {}  {:04} ({:04}) {}\n", b.id, state, nt::WinDbgAddress(b.address),
               b.access == nt::kd::Access::kWrite ? 'w' : 'r', b.dataSize, 1, 1, s.symbols().NameOf(b.address));
    } else if (!b.address) {
      s.Printf("{:>2} {}u                      {:04} ({:04}) ({})\n", b.id, state, 1, 1, b.expression);
    } else {
      s.Printf("{:>2} {}{} {}     {:04} ({:04}) {}\n", b.id, state, b.unresolved ? 'u' : ' ',
               nt::WinDbgAddress(b.address), 1, 1, s.symbols().NameOf(b.address));
    }
  }
}

// bc|bd|be ID|*: clear, disable, enable.
void CmdBreakpointChange(Session& s, std::string_view name, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.empty()) {
    s.Printf("Syntax: {} ID|*\n", name);
    return;
  }
  for (const auto& w : words) {
    const bool all = w == "*";
    const int id = all ? -1 : std::atoi(w.c_str());
    for (auto it = s.breakpoints.begin(); it != s.breakpoints.end();) {
      if (!all && it->id != id) {
        ++it;
        continue;
      }
      if (it->address && (name == "bc" || name == "bd")) Disarm(*it);
      if (name == "bc") {
        it = s.breakpoints.erase(it);
        continue;
      }
      it->enabled = name == "be";
      if (it->enabled && it->address) (void)Arm(*it);
      ++it;
    }
  }
}

// ba r|w|e SIZE ADDRESS (or ba w4 ADDRESS): a data breakpoint; e is a code breakpoint.
void CmdDataBreakpoint(Session& s, std::string_view, std::string_view args) {
  auto words = SplitArgs(args);
  // "w4" is "w 4".
  if (!words.empty() && words[0].size() > 1 && std::isalpha(static_cast<unsigned char>(words[0][0]))) {
    words.insert(words.begin() + 1, words[0].substr(1));
    words[0].resize(1);
  }
  if (words.size() != 3 || (words[0] != "r" && words[0] != "w" && words[0] != "e")) {
    s.Print("Syntax: ba r|w|e 1|2|4|8 ADDRESS\n");
    return;
  }
  auto address = s.Evaluate(words[2]);
  if (!address) {
    s.Printf("{}\n", address.error().message);
    return;
  }
  if (words[0] == "e") {
    CmdBreakpoint(s, "bp", words[2]);
    return;
  }
  Breakpoint b;
  b.id = s.nextBreakpoint;
  b.expression = words[2];
  b.address = *address;
  b.dataSize = static_cast<std::uint32_t>(std::strtoul(words[1].c_str(), nullptr, 16));
  b.access = words[0] == "w" ? nt::kd::Access::kWrite : nt::kd::Access::kReadWrite;
  if (auto armed = Arm(b); !armed) {
    s.Printf("Unable to set breakpoint {} at {}: {}\n", b.id, nt::WinDbgAddress(b.address), armed.error().message);
    return;
  }
  ++s.nextBreakpoint;
  s.breakpoints.push_back(std::move(b));
}

void CmdGo(Session& s, std::string_view, std::string_view args) {
  if (!args.empty()) {
    // g ADDRESS: run to there.
    auto address = s.Evaluate(args);
    if (!address) {
      s.Printf("{}\n", address.error().message);
      return;
    }
    const bool existing = Debugger::Get().IsBreakpoint(*address);
    if (!existing && !Debugger::Get().Insert(*address)) {
      s.Printf("Unable to run to {}\n", args);
      return;
    }
    if (!s.Continue(Resume::kGo)) return;
    if (!existing && !FindBreakpoint(s, *address)) Debugger::Get().Remove(*address);
    s.ReportStop();
    return;
  }
  // While the machine runs, g waits for its next stop (a script's "bu ...; g").
  if (s.Continue(Resume::kGo)) s.ReportStop();
}

namespace {

// One instruction: over a call (a breakpoint after it) or into it (t into driver code). False when
// the step did not end where it was meant to (a breakpoint or another stop came first).
bool StepInstruction(Session& s, bool into) {
  nt::kd::Stop* stop = s.stop();
  const std::uint64_t rip = stop->context.Rip;
  const std::uint64_t rsp = stop->context.Rsp;
  nt::ke::KernelThread* thread = stop->thread;
  const Instruction i = s.Decode(rip);
  const bool overCall = i.isCall && (!into || !i.target || !InDriverCode(s, *i.target));
  if (!overCall) {
    if (!s.Continue(Resume::kStep)) return false;
    return s.stop() && s.stop()->reason == StopReason::kStep;
  }
  const std::uint64_t next = rip + (i.length ? i.length : 1);
  const bool existing = Debugger::Get().IsBreakpoint(next);
  if (!existing && !Debugger::Get().Insert(next)) return s.Continue(Resume::kStep);
  for (;;) {
    if (!s.Continue(Resume::kGo)) return false;
    nt::kd::Stop* now = s.stop();
    // A recursive call that reaches the same place deeper in the stack goes on.
    if (now->reason == StopReason::kBreakpoint && now->address == next && now->thread == thread &&
        now->context.Rsp < rsp && !FindBreakpoint(s, next)) {
      continue;
    }
    if (!existing) Debugger::Get().Remove(next);
    if (now->reason == StopReason::kBreakpoint && now->address == next && now->thread == thread) {
      now->reason = FindBreakpoint(s, next) ? StopReason::kBreakpoint : StopReason::kStep;
      return now->reason == StopReason::kStep;
    }
    return false;
  }
}

}  // namespace

// p (over), t (into): one source line in source mode where the code has lines, else one instruction.
void CmdStep(Session& s, std::string_view name, std::string_view args) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->hasContext || !stop->thread) {
    s.Print(stop ? "No thread to step: the debugger's own break-in holds the machine (g runs it)\n"
                 : "The machine is running (Ctrl-C or kd -b breaks in)\n");
    return;
  }
  if (stop->reason == StopReason::kBugCheck) {
    s.Print("The machine is stopping with a bugcheck: g writes the report and ends it\n");
    return;
  }
  const bool into = name == "t";
  std::uint64_t count = 1;
  if (!args.empty()) {
    if (auto n = s.Evaluate(args)) count = std::max<std::uint64_t>(*n, 1);
  }
  for (std::uint64_t n = 0; n < count; ++n) {
    stop = s.stop();
    if (!InDriverCode(s, stop->context.Rip)) {
      s.Print("The kernel's own code is not stepped: g runs on to the next breakpoint\n");
      return;
    }
    const auto line = s.sourceMode ? s.symbols().LineAt(stop->context.Rip) : std::nullopt;
    const auto function = s.symbols().FunctionAt(stop->context.Rip);
    for (int steps = 0; steps < 100000; ++steps) {
      if (!StepInstruction(s, into)) {
        if (!s.ended) s.ReportStop();
        return;
      }
      if (!line) break;
      const std::uint64_t rip = s.stop()->context.Rip;
      // Done at the first instruction of another line, or outside the function (a call went in, or it returned).
      if (!function || rip < function->start || rip >= function->end) break;
      const auto now = s.symbols().LineAt(rip);
      if (!now) continue;
      if (now->address == rip && (now->line != line->line || now->file != line->file)) break;
    }
  }
  s.ReportStop();
}

// pc: step (over calls) until the next call instruction, which is not run yet.
void CmdStepToCall(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->hasContext || !stop->thread || stop->reason == StopReason::kBugCheck) {
    s.Print("No thread to step\n");
    return;
  }
  for (int steps = 0; steps < 100000; ++steps) {
    if (!InDriverCode(s, s.stop()->context.Rip)) break;
    if (steps > 0 && s.Decode(s.stop()->context.Rip).isCall) break;
    if (!StepInstruction(s, false)) {
      if (!s.ended) s.ReportStop();
      return;
    }
  }
  s.ReportStop();
}

// bm module!pattern: a breakpoint on every function that matches.
void CmdBreakpointMany(Session& s, std::string_view, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.empty()) {
    s.Print("Syntax: bm module!pattern\n");
    return;
  }
  int set = 0;
  for (const auto& match : s.symbols().Find(words.back())) {
    if (!match.function || !InDriverCode(s, match.address)) continue;
    const std::string name = match.module + "!" + match.name;
    CmdBreakpoint(s, "bp", name);
    s.Printf("{:>2}: {} @!\"{}\"\n", s.nextBreakpoint - 1, nt::WinDbgAddress(match.address), name);
    ++set;
  }
  if (!set) s.Printf("No matching code symbols found, no breakpoints set.\n");
}

// gu: run until the current function returns to its caller.
void CmdGoUp(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->hasContext) {
    s.Print("No thread is stopped\n");
    return;
  }
  nt::StackFrame frames[2];
  if (s.Frames(*stop, frames) < 2 || !InDriverCode(s, frames[1].rip)) {
    s.Print("The caller is the kernel's own code: g runs on to the next breakpoint\n");
    return;
  }
  const std::uint64_t target = frames[1].rip;
  const std::uint64_t rsp = stop->context.Rsp;
  nt::ke::KernelThread* thread = stop->thread;
  const bool existing = Debugger::Get().IsBreakpoint(target);
  if (!existing && !Debugger::Get().Insert(target)) return;
  for (;;) {
    if (!s.Continue(Resume::kGo)) return;
    nt::kd::Stop* now = s.stop();
    if (now->reason == StopReason::kBreakpoint && now->address == target && now->thread == thread &&
        now->context.Rsp <= rsp) {
      continue;  // the same function deeper in the stack
    }
    if (!existing) Debugger::Get().Remove(target);
    if (now->reason == StopReason::kBreakpoint && now->address == target && !FindBreakpoint(s, target)) {
      now->reason = StopReason::kStep;
    }
    break;
  }
  s.ReportStop();
}

// l+t / l-t: steps by source line or by instruction; l+s / l-s: source text at stops (with t).
void CmdLines(Session& s, std::string_view, std::string_view args) {
  if (args == "+t" || args == "+s") s.sourceMode = true;
  else if (args == "-t" || args == "-s") s.sourceMode = false;
  else s.Printf("Syntax: l+t | l-t\n");
  s.Printf("Source options are {}:\n", s.sourceMode ? "1" : "0");
  if (s.sourceMode) s.Print("    1/t - Step/trace by source line\n");
}

}  // namespace ntbox::debug
