#include "debug/Engine.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "cpu/SafeCopy.h"
#include "debug/Expression.h"

namespace ntbox::debug {
namespace {

void CmdQuit(Session& s, std::string_view, std::string_view) { s.ended = true; }
void CmdCls(Session&, std::string_view, std::string_view) {}
void CmdReload(Session& s, std::string_view, std::string_view) {
  s.symbols().Unload();
  s.symbols().Refresh();
}

// .sympath [folders] / .sympath+ folder: where images with debug information are looked for
// (separated by ';', as WinDbg's).
void CmdSymbolPath(Session& s, std::string_view name, std::string_view args) {
  std::vector<std::string> path = name == ".sympath+" ? s.symbols().searchPath() : std::vector<std::string>{};
  if (!args.empty() || name == ".sympath+") {
    std::size_t start = 0;
    while (start <= args.size()) {
      const auto end = std::min(args.find(';', start), args.size());
      std::string folder(args.substr(start, end - start));
      while (!folder.empty() && folder.back() == ' ') folder.pop_back();
      if (!folder.empty()) path.push_back(folder);
      start = end + 1;
    }
    s.symbols().SetSearchPath(path);
  }
  std::string text;
  for (const auto& folder : s.symbols().searchPath()) text += (text.empty() ? "" : ";") + folder;
  s.Printf("Symbol search path is: {}\n", text.empty() ? "<empty> (debug information is read from the images themselves)" : text);
}

struct Command {
  std::string_view name;
  CommandHandler handler;
};

constexpr std::array kCommands{
    Command{"lm", CmdLm},        Command{"x", CmdX},           Command{"ln", CmdLn},
    Command{"u", CmdU},          Command{"uf", CmdUf},         Command{"ub", CmdUb},
    Command{"db", CmdDisplay},   Command{"dw", CmdDisplay},    Command{"dd", CmdDisplay},
    Command{"dq", CmdDisplay},   Command{"dp", CmdDisplay},    Command{"da", CmdDisplay},
    Command{"du", CmdDisplay},   Command{"ds", CmdDisplay},    Command{"dS", CmdDisplay},
    Command{"eb", CmdEnter},     Command{"ew", CmdEnter},      Command{"ed", CmdEnter},
    Command{"eq", CmdEnter},     Command{"?", CmdEvaluate},    Command{"!drvobj", CmdDrvobj},
    Command{"!devobj", CmdDevobj}, Command{".cls", CmdCls},    Command{".reload", CmdReload},
    Command{"q", CmdQuit},       Command{"qq", CmdQuit},       Command{"qd", CmdQuit},
    Command{"bp", CmdBreakpoint}, Command{"bu", CmdBreakpoint}, Command{"bl", CmdBreakpointList},
    Command{"ba", CmdDataBreakpoint},
    Command{"bc", CmdBreakpointChange}, Command{"bd", CmdBreakpointChange}, Command{"be", CmdBreakpointChange},
    Command{"g", CmdGo},         Command{"p", CmdStep},        Command{"t", CmdStep},
    Command{"gu", CmdGoUp},      Command{"k", CmdStack},       Command{"kb", CmdStack},
    Command{"kn", CmdStack},     Command{"kp", CmdStack},      Command{"kv", CmdStack},
    Command{"r", CmdRegisters},  Command{"l", CmdLines},       Command{".bugcheck", CmdBugCheck},
    Command{"!analyze", CmdAnalyze}, Command{"dt", CmdDisplayType}, Command{"dv", CmdLocals},
    Command{"!irql", CmdIrql},   Command{"!pcr", CmdPcr},      Command{"~", CmdProcessors},
    Command{"!thread", CmdThread}, Command{"!process", CmdProcess}, Command{"!object", CmdObject},
    Command{"!devstack", CmdDevstack}, Command{"!irp", CmdIrp}, Command{"!pool", CmdPool},
    Command{"!poolused", CmdPoolUsed}, Command{".frame", CmdFrame}, Command{"pc", CmdStepToCall},
    Command{"bm", CmdBreakpointMany}, Command{".sympath", CmdSymbolPath}, Command{".sympath+", CmdSymbolPath},
};

// The command word: "!ext", ".meta", "?", or the letters before the arguments ("dd", "lmv").
std::pair<std::string_view, std::string_view> SplitCommand(std::string_view text) {
  std::size_t end = 0;
  if (text.starts_with('?') || text.starts_with('~')) {
    end = 1;
  } else if (text.starts_with(".sympath+")) {
    end = 9;
  } else {
    if (text.starts_with('!') || text.starts_with('.')) end = 1;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
  }
  std::string_view args = text.substr(end);
  while (!args.empty() && std::isspace(static_cast<unsigned char>(args.front()))) args.remove_prefix(1);
  while (!args.empty() && std::isspace(static_cast<unsigned char>(args.back()))) args.remove_suffix(1);
  return {text.substr(0, end), args};
}

}  // namespace

std::vector<std::string> SplitArgs(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::optional<std::uint64_t> ParseCount(Session& session, std::string_view word) {
  if (word.size() < 2 || (word[0] != 'L' && word[0] != 'l')) return std::nullopt;
  word.remove_prefix(1);
  if (word.starts_with('?')) word.remove_prefix(1);
  auto v = session.Evaluate(word);
  if (!v) return std::nullopt;
  return *v;
}

Result<std::uint64_t> Session::Evaluate(std::string_view expression) {
  EvaluationContext context{symbols_, [this](std::string_view r) { return Register(r); },
                            [this](std::uint64_t a) { return ReadPointer(a); }};
  return debug::Evaluate(expression, context);
}

std::size_t Session::Read(std::uint64_t address, std::span<std::uint8_t> out) {
  const std::size_t done = ReadRaw(address, out);
  // Breakpoints are the debugger's own: memory shows what the driver wrote there.
  nt::kd::Debugger::Get().HideBreakpoints(address, out.subspan(0, done));
  return done;
}

std::size_t Session::ReadRaw(std::uint64_t address, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = address + done;
    if (at < address) break;  // wrapped
    const std::size_t chunk = std::min<std::uint64_t>(out.size() - done, ((at | 0xFFF) + 1) - at);
    // The first 64 KiB hold nothing anywhere; reading them is always a mistake in the address.
    if (at < 0x10000 || !cpu::SafeCopy(out.data() + done, reinterpret_cast<const void*>(at), chunk)) break;
    done += chunk;
  }
  return done;
}

std::optional<std::uint64_t> Session::ReadPointer(std::uint64_t address) {
  std::uint64_t value = 0;
  if (Read(address, std::span(reinterpret_cast<std::uint8_t*>(&value), 8)) != 8) return std::nullopt;
  return value;
}

std::string Session::ReadUtf16(std::uint64_t address, std::size_t chars, bool stopAtNul, bool* complete) {
  std::string out;
  if (complete) *complete = true;
  for (std::size_t i = 0; i < chars; ++i) {
    std::uint16_t c = 0;
    if (!ReadValue(address + 2 * i, c)) {
      if (complete) *complete = false;
      break;
    }
    if (c == 0 && stopAtNul) break;
    out += c < 0x80 ? static_cast<char>(c) : '?';
  }
  return out;
}

Instruction Session::Decode(std::uint64_t address) {
  std::uint8_t code[16];
  const std::size_t n = Read(address, code);
  return Disassemble(address, std::span<const std::uint8_t>(code, n), [this](std::uint64_t a) { return symbols_.NameOf(a); });
}

bool Session::Write(std::uint64_t address, std::span<const std::uint8_t> bytes) {
  if (address < 0x10000) return false;
  return cpu::SafeCopy(reinterpret_cast<void*>(address), bytes.data(), bytes.size());
}

Engine::Engine(Session::Output out, Session::Waiter wait)
    : session_(std::make_unique<Session>(std::move(out), std::move(wait))) {
  session_->symbols().Refresh();
  // Module loads stop for the debugger: deferred breakpoints are written before the image runs.
  nt::kd::Debugger::Get().SetStopOnLoad(true);
}

Engine::~Engine() { nt::kd::Debugger::Get().Detach(); }

std::string Engine::Prompt() const {
  if (nt::kd::Stop* stop = session_->stop()) return fmt::format("{}: kd> ", stop->processor);
  return "kd> ";
}

bool Engine::Execute(std::string_view line, bool echo) {
  // ';' separates commands, except inside quotes.
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"') quoted = !quoted;
    if (i == line.size() || (line[i] == ';' && !quoted)) {
      std::string_view command = line.substr(start, i - start);
      while (!command.empty() && std::isspace(static_cast<unsigned char>(command.front()))) command.remove_prefix(1);
      while (!command.empty() && std::isspace(static_cast<unsigned char>(command.back()))) command.remove_suffix(1);
      if (!command.empty()) {
        if (echo) session_->Printf("{}{}\n", Prompt(), command);
        Run(command);
      }
      if (session_->ended) return false;
      start = i + 1;
    }
  }
  return true;
}

void Engine::Run(std::string_view text) {
  session_->symbols().Refresh();
  auto [name, args] = SplitCommand(text);
  for (const Command& c : kCommands) {
    if (c.name == name) return c.handler(*session_, name, args);
  }
  // lmv, lmvm: lm with its options glued on.
  if (name.starts_with("lm")) return CmdLm(*session_, name, std::string(name.substr(2)) + " " + std::string(args));
  session_->Printf("       ^ Syntax error in '{}'\n", text);
}

}  // namespace ntbox::debug
