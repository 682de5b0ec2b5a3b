// k (the stack), r (registers), .bugcheck and !analyze at a stop, as WinDbg prints them.
#include "debug/Session.h"
#include "nt/Kernel.h"
#include "nt/ke/BugCheckReport.h"
#include "nt/support/HostSymbols.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

nt::kd::Stop* StoppedWithContext(Session& s) {
  nt::kd::Stop* stop = s.stop();
  if (!stop) {
    s.Print("The machine is running (Ctrl-C or kd -b breaks in)\n");
    return nullptr;
  }
  if (!stop->hasContext) {
    s.Print("No thread is stopped: the debugger's own break-in holds an idle machine\n");
    return nullptr;
  }
  return stop;
}

// The flags as WinDbg spells them: "nv up ei pl zr na po nc".
std::string FlagText(std::uint64_t f) {
  return fmt::format("{} {} {} {} {} {} {} {}", f & 0x800 ? "ov" : "nv", f & 0x400 ? "dn" : "up", f & 0x200 ? "ei" : "di",
                     f & 0x80 ? "ng" : "pl", f & 0x40 ? "zr" : "nz", f & 0x10 ? "ac" : "na", f & 0x4 ? "pe" : "po",
                     f & 0x1 ? "cy" : "nc");
}

}  // namespace

// k, kb, kn, kp, kv [count]: Child-SP, RetAddr and the call site with its source line.
void CmdStack(Session& s, std::string_view name, std::string_view args) {
  nt::kd::Stop* stop = StoppedWithContext(s);
  if (!stop) return;
  std::size_t limit = 64;
  if (!args.empty()) {
    if (auto n = s.Evaluate(args)) limit = std::min<std::size_t>(*n, 256);
  }
  nt::StackFrame frames[256];
  const std::size_t n = s.Frames(*stop, std::span(frames, 256));
  // The kernel's plumbing between its routines is left out, as a report does.
  std::vector<nt::StackFrame> shown;
  for (std::size_t i = 0; i < n; ++i) {
    const auto host = s.symbols().ModuleAt(frames[i].rip);
    if (host && host->kernelCode) {
      if (auto sym = nt::HostSymbolAt(frames[i].rip); sym && sym->plumbing) continue;
    }
    shown.push_back(frames[i]);
  }
  // Then the program that made the system call, when a program did.
  if (stop->hasUserContext) {
    nt::StackFrame program[64];
    const std::size_t count = nt::ProgramStackWalk(stop->userContext, stop->peb, program);
    shown.insert(shown.end(), program, program + count);
  }
  const bool numbered = name == "kn";
  s.Print(numbered ? " # Child-SP          RetAddr           Call Site\n" : "# Child-SP          RetAddr           Call Site\n");
  for (std::size_t i = 0; i < shown.size() && i < limit; ++i) {
    const auto& f = shown[i];
    const std::uint64_t ret = i + 1 < shown.size() ? shown[i + 1].rip : 0;
    std::string site = s.symbols().NameOf(f.rip);
    if (site.empty()) site = nt::WinDbgAddress(f.rip);
    // A return address names the line of its call: look up the byte before it.
    if (const auto pos = s.symbols().LineAt(i == 0 ? f.rip : f.rip - 1)) {
      site += fmt::format(" [{} @ {}]", pos->file, pos->line);
    }
    s.Printf("{:02x} {} {} {}\n", i, nt::WinDbgAddress(f.rsp), nt::WinDbgAddress(ret), site);
  }
}

// r: the registers; r NAME: one; r NAME=VALUE: set one.
void CmdRegisters(Session& s, std::string_view, std::string_view args) {
  nt::kd::Stop* stop = StoppedWithContext(s);
  if (!stop) return;
  nt::CONTEXT& c = stop->context;
  if (!args.empty()) {
    const auto eq = args.find('=');
    std::string name(args.substr(0, eq));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.starts_with('@')) name.erase(0, 1);
    if (!s.Register(name)) {
      s.Printf("Bad register error at '{}'\n", name);
      return;
    }
    if (eq == std::string_view::npos) {
      s.Printf("{}={:016x}\n", name, *s.Register(name));
      return;
    }
    auto value = s.Evaluate(args.substr(eq + 1));
    if (!value) {
      s.Printf("{}\n", value.error().message);
      return;
    }
    static constexpr std::string_view k64[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    nt::ULONG64* regs = &c.Rax;
    for (int i = 0; i < 16; ++i) {
      if (name == k64[i]) regs[i] = *value;
    }
    if (name == "rip") c.Rip = *value;
    if (name == "efl") c.EFlags = static_cast<nt::ULONG>(*value);
    return;
  }
  s.Printf("rax={:016x} rbx={:016x} rcx={:016x}\n", c.Rax, c.Rbx, c.Rcx);
  s.Printf("rdx={:016x} rsi={:016x} rdi={:016x}\n", c.Rdx, c.Rsi, c.Rdi);
  s.Printf("rip={:016x} rsp={:016x} rbp={:016x}\n", c.Rip, c.Rsp, c.Rbp);
  s.Printf(" r8={:016x}  r9={:016x} r10={:016x}\n", c.R8, c.R9, c.R10);
  s.Printf("r11={:016x} r12={:016x} r13={:016x}\n", c.R11, c.R12, c.R13);
  s.Printf("r14={:016x} r15={:016x}\n", c.R14, c.R15);
  s.Printf("iopl=0         {}\n", FlagText(c.EFlags));
  s.Printf("cs={:04x}  ss={:04x}  ds=002b  es=002b  fs=0053  gs=002b             efl={:08x}\n", c.SegCs, c.SegSs,
           c.EFlags);
  s.PrintLocation(c.Rip);
}

void CmdBugCheck(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->bugCheck) {
    s.Print("The machine has not bugchecked\n");
    return;
  }
  const nt::BugCheck& b = *stop->bugCheck;
  s.Printf("Bugcheck code {:08X}\nArguments {} {} {} {}\n", b.code, nt::WinDbgAddress(b.parameters[0]),
           nt::WinDbgAddress(b.parameters[1]), nt::WinDbgAddress(b.parameters[2]), nt::WinDbgAddress(b.parameters[3]));
}

// !analyze -v: the report a bugcheck writes, from the record the stop holds.
void CmdAnalyze(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!stop || !stop->bugCheck || !kernel) {
    s.Print("The machine has not bugchecked: !analyze explains a bugcheck (the debugger stops at one)\n");
    return;
  }
  s.Print(nt::FormatBugCheckReport(*stop->bugCheck, *kernel));
}

}  // namespace ntbox::debug
