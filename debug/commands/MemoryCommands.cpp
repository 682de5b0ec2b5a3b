// d* (display memory), e* (enter values), ? (evaluate), as WinDbg prints them; unreadable memory
// shows as ?? and never stops the machine.
#include <cctype>
#include <cstring>

#include "debug/Session.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

std::string Ascii(const std::uint8_t* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += bytes[i] >= 0x20 && bytes[i] < 0x7F ? static_cast<char>(bytes[i]) : '.';
  return out;
}

// db: 16 bytes a line, a dash between the halves, then the characters.
void DumpBytes(Session& s, std::uint64_t address, std::uint64_t count) {
  for (std::uint64_t line = 0; line < count; line += 16) {
    std::uint8_t bytes[16];
    const std::size_t want = std::min<std::uint64_t>(16, count - line);
    const std::size_t got = s.Read(address + line, std::span(bytes, want));
    std::string hex;
    for (std::size_t i = 0; i < 16; ++i) {
      const char sep = i == 8 ? '-' : ' ';
      if (i >= want) hex += "   ";
      else if (i < got) hex += fmt::format("{}{:02x}", i == 0 ? ' ' : sep, bytes[i]);
      else hex += fmt::format("{}??", i == 0 ? ' ' : sep);
    }
    s.Printf("{} {}  {}\n", nt::WinDbgAddress(address + line), hex, Ascii(bytes, got));
  }
}

// dw, dd, dq: units of width bytes, 16 bytes a line.
void DumpUnits(Session& s, std::uint64_t address, std::uint64_t count, unsigned width) {
  const unsigned perLine = 16 / width;
  for (std::uint64_t n = 0; n < count; n += perLine) {
    std::string line = nt::WinDbgAddress(address + n * width) + " ";
    for (unsigned k = 0; k < perLine && n + k < count; ++k) {
      std::uint64_t v = 0;
      const std::uint64_t at = address + (n + k) * width;
      const bool ok = s.Read(at, std::span(reinterpret_cast<std::uint8_t*>(&v), width)) == width;
      if (width == 8) line += " " + (ok ? nt::WinDbgAddress(v) : std::string("????????`????????"));
      else if (ok) line += fmt::format(" {:0{}x}", v, width * 2);
      else line += " " + std::string(width * 2, '?');
    }
    s.Print(line + "\n");
  }
}

std::string ReadAnsi(Session& s, std::uint64_t address, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < max; ++i) {
    std::uint8_t c;
    if (s.Read(address + i, std::span(&c, 1)) != 1 || c == 0) break;
    out += static_cast<char>(c);
  }
  return out;
}

}  // namespace

void CmdDisplay(Session& s, std::string_view name, std::string_view args) {
  const auto words = SplitArgs(args);
  std::optional<std::uint64_t> count;
  std::string expression;
  for (const auto& w : words) {
    if (auto c = ParseCount(s, w)) count = *c;
    else expression += (expression.empty() ? "" : " ") + w;
  }
  std::uint64_t address = s.nextData;
  if (!expression.empty()) {
    auto v = s.Evaluate(expression);
    if (!v) {
      s.Printf("{}\n", v.error().message);
      return;
    }
    address = *v;
  } else if (!address) {
    s.Print("No address: give one (db ADDRESS)\n");
    return;
  }
  constexpr std::uint64_t kMax = 0x100000;
  if (name == "db") {
    const std::uint64_t n = std::min(count.value_or(0x80), kMax);
    DumpBytes(s, address, n);
    s.nextData = address + n;
  } else if (name == "dw" || name == "dd" || name == "dq" || name == "dp") {
    const unsigned width = name == "dw" ? 2 : name == "dd" ? 4 : 8;
    const std::uint64_t n = std::min(count.value_or(0x80 / width), kMax);
    DumpUnits(s, address, n, width);
    s.nextData = address + n * width;
  } else if (name == "da") {
    const std::string text = ReadAnsi(s, address, std::min(count.value_or(0x100), kMax));
    s.Printf("{}  \"{}\"\n", nt::WinDbgAddress(address), text);
    s.nextData = address + text.size() + 1;
  } else if (name == "du") {
    const std::string text = s.ReadUtf16(address, std::min(count.value_or(0x100), kMax), true);
    s.Printf("{}  \"{}\"\n", nt::WinDbgAddress(address), text);
    s.nextData = address + 2 * (text.size() + 1);
  } else {
    // ds: a STRING / ANSI_STRING, dS: a UNICODE_STRING (Length, MaximumLength, Buffer).
    std::uint8_t header[16];
    if (s.Read(address, header) != sizeof header) {
      s.Printf("{}  \"<Memory access error>\"\n", nt::WinDbgAddress(address));
      return;
    }
    std::uint16_t length = 0;
    std::uint64_t buffer = 0;
    std::memcpy(&length, header, 2);
    std::memcpy(&buffer, header + 8, 8);
    const std::string text = name == "dS" ? s.ReadUtf16(buffer, length / 2, false) : [&] {
      std::string t(length, '\0');
      const std::size_t got = s.Read(buffer, std::span(reinterpret_cast<std::uint8_t*>(t.data()), length));
      t.resize(got);
      return t;
    }();
    s.Printf("{}  \"{}\"\n", nt::WinDbgAddress(buffer), text);
  }
}

void CmdEnter(Session& s, std::string_view name, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.size() < 2) {
    s.Printf("Syntax: {} ADDRESS VALUE [VALUE...]\n", name);
    return;
  }
  auto address = s.Evaluate(words[0]);
  if (!address) {
    s.Printf("{}\n", address.error().message);
    return;
  }
  const unsigned width = name == "eb" ? 1 : name == "ew" ? 2 : name == "ed" ? 4 : 8;
  std::uint64_t at = *address;
  for (std::size_t i = 1; i < words.size(); ++i) {
    auto v = s.Evaluate(words[i]);
    if (!v) {
      s.Printf("{}\n", v.error().message);
      return;
    }
    if (!s.Write(at, std::span(reinterpret_cast<const std::uint8_t*>(&*v), width))) {
      s.Printf("Memory access error at '{}'\n", words[i]);
      return;
    }
    at += width;
  }
}

void CmdEvaluate(Session& s, std::string_view, std::string_view args) {
  auto v = s.Evaluate(args);
  if (!v) {
    s.Printf("{}\n", v.error().message);
    return;
  }
  s.Printf("Evaluate expression: {} = {}\n", static_cast<std::int64_t>(*v), nt::WinDbgAddress(*v));
}

}  // namespace ntbox::debug
