// lm, x, ln: modules and symbols, as WinDbg prints them.
#include <algorithm>
#include <cstring>

#include "debug/Session.h"
#include "nt/Kernel.h"
#include "nt/support/Symbolize.h"
#include "pe/PeFormat.h"

namespace ntbox::debug {
namespace {

std::string Trimmed(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

// lmv's details, from the image's headers as they are mapped.
void PrintVerbose(Session& s, const ModuleSymbols& m) {
  const auto fileName = m.path.substr(m.path.find_last_of("\\/") + 1);
  s.Printf("    Loaded symbol image file: {}\n", fileName);
  s.Printf("    Image path: {}\n", m.path);
  s.Printf("    Image name: {}\n", fileName);
  std::uint8_t headers[0x200] = {};
  if (!m.kernelCode && s.Read(m.base, headers) == sizeof headers) {
    std::uint32_t peOffset = 0, stamp = 0, checksum = 0;
    std::memcpy(&peOffset, headers + 0x3C, 4);
    if (peOffset + 0x60 <= sizeof headers) {
      std::memcpy(&stamp, headers + peOffset + 8, 4);
      std::memcpy(&checksum, headers + peOffset + 24 + 64, 4);
      s.Printf("    Timestamp:        {:08X}\n", stamp);
      s.Printf("    CheckSum:         {:08X}\n", checksum);
    }
  }
  s.Printf("    ImageSize:        {:08X}\n", m.end - m.base);
}

}  // namespace

// lm [v] [m PATTERN]
void CmdLm(Session& s, std::string_view, std::string_view args) {
  bool verbose = false;
  std::string pattern = "*";
  const auto words = SplitArgs(args);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "m" || w == "vm") {
      verbose |= w == "vm";
      if (i + 1 < words.size()) pattern = words[++i];
    } else if (w == "v") {
      verbose = true;
    } else if (w.starts_with("m") && w.size() > 1 && w != "module") {
      pattern = w.substr(1);
    }
  }
  s.Print("start             end                 module name\n");
  for (const auto& mp : s.symbols().modules()) {
    ModuleSymbols& m = *mp;
    if (!WildcardMatch(pattern, m.name)) continue;
    if (verbose) s.symbols().Load(m);
    const std::string file = !m.symbolFile.empty()                                            ? m.symbolFile
                             : m.loaded && !m.kernelCode && (m.state() != "(no symbols)") ? m.path
                             : m.kernelCode                                               ? m.path
                                                                                          : "";
    s.Print(Trimmed(fmt::format("{} {}   {:<8}   {:<22} {}", nt::WinDbgAddress(m.base), nt::WinDbgAddress(m.end),
                                m.name, m.state(), file)));
    if (verbose) PrintVerbose(s, m);
  }
  if (pattern == "*" && !verbose) {
    if (nt::Kernel* k = nt::Kernel::CurrentOrNull()) {
      const auto unloaded = k->UnloadedModules();
      if (!unloaded.empty()) {
        s.Print("\nUnloaded modules:\n");
        for (const auto& u : unloaded) {
          s.Printf("{} {}   {}\n", nt::WinDbgAddress(u.base), nt::WinDbgAddress(u.end), u.fileName);
        }
      }
    }
  }
}

// x [/options] module!pattern
void CmdX(Session& s, std::string_view, std::string_view args) {
  std::string pattern;
  for (const auto& w : SplitArgs(args)) {
    if (w.starts_with('/')) continue;  // /D (markup), /f, /v ...: the plain listing
    pattern = w;
  }
  if (pattern.empty()) {
    s.Print("Syntax error: a symbol pattern is needed (x module!pattern)\n");
    return;
  }
  for (const auto& match : s.symbols().Find(pattern)) {
    std::string detail;
    if (match.variable) {
      const auto& v = *match.variable;
      std::uint64_t value = 0;
      const std::size_t width = v.size == 1 || v.size == 2 || v.size == 4 || v.size == 8 ? v.size : 0;
      if (width && s.Read(v.address, std::span(reinterpret_cast<std::uint8_t*>(&value), width)) == width) {
        detail = fmt::format(" = 0x{:0{}x}", value, width * 2);
        if (width == 8) detail = " = 0x" + nt::WinDbgAddress(value);
      } else if (!v.type.empty()) {
        detail = " = " + v.type;
      } else {
        detail = " = <no type information>";
      }
    } else if (match.parameters) {
      detail = fmt::format(" ({})", match.parameters->empty() ? "void" : *match.parameters);
    } else {
      detail = match.function ? fmt::format(" ({})", match.name) : " = <no type information>";
    }
    s.Printf("{} {}!{}{}\n", nt::WinDbgAddress(match.address), match.module, match.name, detail);
  }
}

// ln address: the nearest symbols.
void CmdLn(Session& s, std::string_view, std::string_view args) {
  auto address = s.Evaluate(args);
  if (!address) {
    s.Printf("{}\n", address.error().message);
    return;
  }
  const auto fn = s.symbols().FunctionAt(*address);
  const auto line = s.symbols().LineAt(*address);
  if (line) s.Printf(" [{} @ {}]\n", line->file, line->line);
  const std::string name = s.symbols().NameOf(*address);
  if (name.empty()) return;
  if (fn) {
    s.Printf("({})   {}   |  ({})\n", nt::WinDbgAddress(fn->start), name, nt::WinDbgAddress(fn->end));
  } else {
    s.Printf("({})   {}\n", nt::WinDbgAddress(*address), name);
  }
  s.Print(name.find('+') == std::string::npos ? "Exact matches:\n    " + name + "\n" : "");
}

}  // namespace ntbox::debug
