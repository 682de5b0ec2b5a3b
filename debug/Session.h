// What the debugger's commands share: the symbols, the output, where u and d go on from, and the
// machine's memory as the debugger reads it (a fault is an unreadable byte, never a crash).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "debug/Disassembler.h"
#include "debug/Symbols.h"
#include "nt/kd/Debugger.h"
#include "support/Result.h"

namespace ntbox::debug {

// A breakpoint as the user set it: resolved to an address, or deferred until its module loads.
struct Breakpoint {
  int id = 0;
  std::string expression;  // as typed: "sioctl!DriverEntry"
  std::uint64_t address = 0;  // 0 while deferred
  bool enabled = true;
  bool unresolved = false;  // bu, or bp on a module not loaded yet: re-resolved at each load
  std::uint64_t hits = 0;
  // ba: a data breakpoint of this size on writes (w) or on every access (r); 0 for a code one.
  std::uint32_t dataSize = 0;
  nt::kd::Access access = nt::kd::Access::kWrite;
};

class Session {
 public:
  using Output = std::function<void(std::string_view)>;
  // While the machine runs (g, a step over a call): returns once a stop waits for the debugger,
  // false when the front end went away (the session ends).
  using Waiter = std::function<bool()>;
  Session(Output out, Waiter wait) : out_(std::move(out)), wait_(std::move(wait)) {}

  Symbols& symbols() { return symbols_; }
  void Print(std::string_view text) { out_(text); }
  template <class... A>
  void Printf(fmt::format_string<A...> format, A&&... args) {
    out_(fmt::format(format, std::forward<A>(args)...));
  }

  // A MASM expression; the error is WinDbg's text.
  Result<std::uint64_t> Evaluate(std::string_view expression);
  // Bytes at address, page by page up to the first that cannot be read; how many were read.
  std::size_t Read(std::uint64_t address, std::span<std::uint8_t> out);
  // The same with the debugger's breakpoints as they are written (0xCC).
  std::size_t ReadRaw(std::uint64_t address, std::span<std::uint8_t> out);
  std::optional<std::uint64_t> ReadPointer(std::uint64_t address);
  // A value (a structure, a number) read whole; false when part of it cannot be read.
  template <class T>
  bool ReadValue(std::uint64_t address, T& out) {
    return Read(address, std::span(reinterpret_cast<std::uint8_t*>(&out), sizeof out)) == sizeof out;
  }
  // UTF-16 text as ASCII (others as ?): up to chars characters, or the first NUL with stopAtNul.
  // complete: false when memory ran out before that.
  std::string ReadUtf16(std::uint64_t address, std::size_t chars, bool stopAtNul, bool* complete = nullptr);
  // The instruction at address, operands named by the symbols.
  Instruction Decode(std::uint64_t address);
  bool Write(std::uint64_t address, std::span<const std::uint8_t> bytes);
  // A register of the stopped thread (rax, eax, ax, al, rip, efl ...); nullopt while running.
  std::optional<std::uint64_t> Register(std::string_view name);

  // The stop the machine is held at, or nullptr while it runs.
  nt::kd::Stop* stop() { return nt::kd::Debugger::Get().current(); }
  // Lets the machine go (or step) and waits for the next stop worth showing (module loads resolve
  // deferred breakpoints and go on); false when the front end went away.
  bool Continue(nt::kd::Resume how);
  // Prints a stop as WinDbg does ("Breakpoint 0 hit", the location and its instruction).
  void ReportStop();
  // The stopped thread's frames from its context: the kernel's unwinder, or its program's (each
  // image's .pdata, through the PEB's loader list) when it stopped in the program's own code.
  std::size_t Frames(const nt::kd::Stop& stop, std::span<nt::StackFrame> out);
  // Handles a stop that arrived while nothing waited for one (at the prompt): true when it was
  // shown (a new prompt is due), false when it was a module load dealt with quietly.
  bool OnStopArrived();
  // Writes every enabled, resolved breakpoint; resolves deferred ones whose module is loaded.
  void ArmBreakpoints();
  std::vector<Breakpoint> breakpoints;
  int nextBreakpoint = 0;
  bool sourceMode = true;  // l+t: p and t go by source lines where there are some
  // The location line WinDbg prints at a stop or a step: label, source text, instruction.
  void PrintLocation(std::uint64_t address);

  // Where u and d continue when given no address.
  std::uint64_t nextCode = 0;
  std::uint64_t nextData = 0;
  // .frame: the frame dv shows (0: the innermost); back to 0 at every stop.
  std::size_t frame = 0;
  bool ended = false;  // q or qd

 private:
  Output out_;
  Waiter wait_;
  Symbols symbols_;
};

// A command's arguments split at spaces.
std::vector<std::string> SplitArgs(std::string_view text);
// "L8", "L?0x100": an element count for d*, u; nullopt when word is no count.
std::optional<std::uint64_t> ParseCount(Session& session, std::string_view word);

using CommandHandler = void (*)(Session& session, std::string_view name, std::string_view args);

// The command groups (debug/commands/*.cpp).
void CmdLm(Session&, std::string_view, std::string_view);
void CmdX(Session&, std::string_view, std::string_view);
void CmdLn(Session&, std::string_view, std::string_view);
void CmdU(Session&, std::string_view, std::string_view);
void CmdUf(Session&, std::string_view, std::string_view);
void CmdUb(Session&, std::string_view, std::string_view);
void CmdDisplay(Session&, std::string_view, std::string_view);  // db dw dd dq dp da du ds dS
void CmdEnter(Session&, std::string_view, std::string_view);    // eb ew ed eq
void CmdEvaluate(Session&, std::string_view, std::string_view);  // ?
void CmdDrvobj(Session&, std::string_view, std::string_view);
void CmdDevobj(Session&, std::string_view, std::string_view);
void CmdBreakpoint(Session&, std::string_view, std::string_view);  // bp bu
void CmdBreakpointList(Session&, std::string_view, std::string_view);  // bl
void CmdDataBreakpoint(Session&, std::string_view, std::string_view);  // ba
void CmdBreakpointChange(Session&, std::string_view, std::string_view);  // bc bd be
void CmdGo(Session&, std::string_view, std::string_view);  // g
void CmdStep(Session&, std::string_view, std::string_view);  // p t
void CmdGoUp(Session&, std::string_view, std::string_view);  // gu
void CmdStack(Session&, std::string_view, std::string_view);  // k kb kn kp kv
void CmdRegisters(Session&, std::string_view, std::string_view);  // r
void CmdLines(Session&, std::string_view, std::string_view);  // l+t l-t
void CmdBugCheck(Session&, std::string_view, std::string_view);  // .bugcheck
void CmdAnalyze(Session&, std::string_view, std::string_view);  // !analyze
void CmdDisplayType(Session&, std::string_view, std::string_view);  // dt
void CmdLocals(Session&, std::string_view, std::string_view);  // dv
void CmdFrame(Session&, std::string_view, std::string_view);  // .frame
void CmdStepToCall(Session&, std::string_view, std::string_view);  // pc
void CmdBreakpointMany(Session&, std::string_view, std::string_view);  // bm
void CmdIrql(Session&, std::string_view, std::string_view);  // !irql
void CmdPcr(Session&, std::string_view, std::string_view);  // !pcr
void CmdProcessors(Session&, std::string_view, std::string_view);  // ~
void CmdThread(Session&, std::string_view, std::string_view);  // !thread
void CmdProcess(Session&, std::string_view, std::string_view);  // !process
void CmdObject(Session&, std::string_view, std::string_view);  // !object
void CmdDevstack(Session&, std::string_view, std::string_view);  // !devstack
void CmdIrp(Session&, std::string_view, std::string_view);  // !irp
void CmdPool(Session&, std::string_view, std::string_view);  // !pool
void CmdPoolUsed(Session&, std::string_view, std::string_view);  // !poolused

}  // namespace ntbox::debug
