// dt (structures: the kernel's from ntbox's layouts, a driver's from its DWARF) and dv (a
// function's parameters and locals from DWARF), with values as WinDbg prints them.
#include <algorithm>
#include <cstring>

#include "debug/Session.h"
#include "nt/rtl/Exception.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

const TypeLayout* FindType(Session& s, std::string_view text) {
  std::string module, name(text);
  if (const auto bang = text.find('!'); bang != std::string_view::npos) {
    module = std::string(text.substr(0, bang));
    name = std::string(text.substr(bang + 1));
  }
  if (module.empty() || module == "nt") {
    if (const TypeLayout* t = KernelType(name)) return t;
  }
  for (const auto& mp : s.symbols().modules()) {
    if (mp->kernelCode || (!module.empty() && !WildcardMatch(module, mp->name))) continue;
    for (const auto& t : s.symbols().Load(*mp).dwarf.types) {
      if (t.name == name) return &t;
    }
  }
  return nullptr;
}

std::string ReadWide(Session& s, std::uint64_t buffer, std::uint16_t bytes) {
  bool complete = true;
  const std::string text = s.ReadUtf16(buffer, std::min(bytes / 2, 512), false, &complete);
  return complete ? text : text + "<Memory access error>";
}

// A value of type (WinDbg's notation) at address, as dt and dv show it.
std::string Value(Session& s, const std::string& type, std::uint64_t address, std::uint64_t size) {
  auto read = [&](auto& v) {
    return s.Read(address, std::span(reinterpret_cast<std::uint8_t*>(&v), sizeof v)) == sizeof v;
  };
  if (type.starts_with("Ptr64")) {
    std::uint64_t p = 0;
    if (!read(p)) return "<Memory access error>";
    if (!p) return "(null)";
    std::string out = "0x" + nt::WinDbgAddress(p);
    const std::string pointee = type.substr(type.find_first_not_of(' ', 5));
    if (pointee == "long" || pointee == "void") {
      const std::string name = s.symbols().NameOf(p);
      return out + "     " + pointee + (name.empty() ? "" : "  " + name);
    }
    if (pointee == "_UNICODE_STRING") {
      std::uint16_t length = 0;
      std::uint64_t buffer = 0;
      if (s.Read(p, std::span(reinterpret_cast<std::uint8_t*>(&length), 2)) == 2 &&
          s.Read(p + 8, std::span(reinterpret_cast<std::uint8_t*>(&buffer), 8)) == 8) {
        return out + " \"" + ReadWide(s, buffer, length) + "\"";
      }
    }
    return pointee == "Void" || pointee == "Wchar" ? out : out + " " + pointee;
  }
  if (type.starts_with("[")) {
    // An array: its length, then the first element.
    const auto close = type.find(']');
    const std::string element = type.substr(type.find_first_not_of(' ', close + 1));
    return type.substr(0, close + 1) + " " + Value(s, element, address, element.starts_with("Ptr64") ? 8 : size);
  }
  const bool isSigned = type.starts_with("Int") || type == "Char";
  const unsigned width = type == "Char" || type == "UChar" ? 1 : type.starts_with("Int") || type.starts_with("Uint") ? static_cast<unsigned>(type[type.size() - 2] - '0') : 0;
  if (width == 1 || width == 2 || width == 4 || width == 8) {
    std::uint64_t v = 0;
    if (s.Read(address, std::span(reinterpret_cast<std::uint8_t*>(&v), width)) != width) return "<Memory access error>";
    if (isSigned) {
      const std::int64_t sv = width == 8 ? static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v << (64 - 8 * width)) >> (64 - 8 * width);
      return fmt::format("0n{}", sv);
    }
    return fmt::format("0x{:x}", v);
  }
  if (type == "_UNICODE_STRING") {
    std::uint16_t length = 0;
    std::uint64_t buffer = 0;
    if (s.Read(address, std::span(reinterpret_cast<std::uint8_t*>(&length), 2)) != 2 ||
        s.Read(address + 8, std::span(reinterpret_cast<std::uint8_t*>(&buffer), 8)) != 8) {
      return "_UNICODE_STRING <Memory access error>";
    }
    return "_UNICODE_STRING \"" + ReadWide(s, buffer, length) + "\"";
  }
  if (type == "_LIST_ENTRY") {
    std::uint64_t links[2] = {};
    if (s.Read(address, std::span(reinterpret_cast<std::uint8_t*>(links), 16)) != 16) return "_LIST_ENTRY";
    return fmt::format("_LIST_ENTRY [ 0x{} - 0x{} ]", nt::WinDbgAddress(links[0]), nt::WinDbgAddress(links[1]));
  }
  return type;
}

void PrintLayout(Session& s, const TypeLayout& t, std::optional<std::uint64_t> address) {
  for (const auto& m : t.members) {
    s.Printf("   +0x{:03x} {:<16} : {}\n", m.offset, m.name, address ? Value(s, m.type, *address + m.offset, m.size) : m.type);
  }
}

// The stopped thread's frames, or none (said so) when no thread is stopped.
std::span<nt::StackFrame> StoppedFrames(Session& s, std::span<nt::StackFrame> room) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->hasContext) {
    s.Print("No thread is stopped\n");
    return {};
  }
  return room.first(s.Frames(*stop, room));
}

}  // namespace

// dt [module!]Type [ADDRESS] | dt [module!]variable
void CmdDisplayType(Session& s, std::string_view, std::string_view args) {
  std::vector<std::string> words;
  for (auto& w : SplitArgs(args)) {
    if (!w.starts_with('-')) words.push_back(w);  // -r, -v: the plain layout
  }
  if (words.empty()) {
    s.Print("Syntax: dt [module!]Type [Address]\n");
    return;
  }
  if (const TypeLayout* t = FindType(s, words[0])) {
    std::optional<std::uint64_t> address;
    if (words.size() > 1) {
      auto a = s.Evaluate(words[1]);
      if (!a) {
        s.Printf("{}\n", a.error().message);
        return;
      }
      address = *a;
    }
    if (!address) s.Printf("{}!{}\n", words[0].find('!') == std::string::npos ? "nt" : words[0].substr(0, words[0].find('!')), t->name);
    PrintLayout(s, *t, address);
    return;
  }
  // A global variable: its type's layout at its address.
  for (const auto& match : s.symbols().Find(words[0])) {
    if (!match.variable) continue;
    const std::string type = WinDbgTypeName(match.variable->type, match.variable->size);
    if (const TypeLayout* t = FindType(s, match.module + "!" + type)) {
      PrintLayout(s, *t, match.address);
    } else {
      s.Printf("{}\n", Value(s, type, match.address, match.variable->size));
    }
    return;
  }
  s.Printf("Symbol {} not found.\n", words[0]);
}

// dv: the parameters and locals of the function the stopped thread is in (DWARF's frame-base
// offsets from the canonical frame address, which the unwinder gives).
void CmdLocals(Session& s, std::string_view, std::string_view) {
  // The frame .frame chose: its function, and its canonical frame address (the next frame's rsp).
  nt::StackFrame room[64];
  const auto frames = StoppedFrames(s, room);
  const std::size_t depth = frames.size();
  if (depth == 0) return;
  if (s.frame + 1 >= depth) {
    s.Print("Unable to enumerate locals: the frame cannot be unwound\n");
    return;
  }
  const std::uint64_t pc = s.frame == 0 ? frames[0].rip : frames[s.frame].rip - 1;
  const FunctionInfo* f = s.symbols().DwarfFunctionAt(pc);
  const ModuleSymbols* m = s.symbols().ModuleAt(pc);
  if (!f || !m) {
    s.Print("Unable to enumerate locals: no symbols for the current function\n");
    return;
  }
  const std::uint64_t cfa = frames[s.frame + 1].rsp;
  std::vector<const LocalInfo*> locals;
  std::size_t width = 0;
  for (const auto& l : m->dwarf.locals) {
    if (l.function != f->low) continue;
    locals.push_back(&l);
    width = std::max(width, l.name.size());
  }
  for (const LocalInfo* l : locals) {
    const std::string type = WinDbgTypeName(l->type, l->size);
    std::string value = Value(s, type, cfa + static_cast<std::uint64_t>(l->frameOffset), l->size);
    if (!type.starts_with("Ptr64") && !type.starts_with("Int") && !type.starts_with("Uint") && !type.ends_with("Char")) {
      value = (l->type.starts_with("struct ") || l->type.starts_with("union ") ? l->type.substr(0, l->type.find(' ') + 1) : "") + value;
    }
    s.Printf("{:>{}} = {}\n", l->name, width + 2, value);
  }
}

// .frame [N]: the frame dv shows, as k numbers them.
void CmdFrame(Session& s, std::string_view, std::string_view args) {
  nt::StackFrame room[64];
  const auto frames = StoppedFrames(s, room);
  const std::size_t depth = frames.size();
  if (depth == 0) return;
  if (!args.empty()) {
    auto n = s.Evaluate(args);
    if (!n || *n >= depth) {
      s.Printf("Frame {} is out of range\n", args);
      return;
    }
    s.frame = *n;
  }
  const auto& f = frames[s.frame];
  std::string site = s.symbols().NameOf(f.rip);
  if (const auto pos = s.symbols().LineAt(s.frame == 0 ? f.rip : f.rip - 1)) site += fmt::format(" [{} @ {}]", pos->file, pos->line);
  s.Printf("{:02x} {} {} {}\n", s.frame, nt::WinDbgAddress(f.rsp),
           nt::WinDbgAddress(s.frame + 1 < depth ? frames[s.frame + 1].rip : 0), site);
}

}  // namespace ntbox::debug
