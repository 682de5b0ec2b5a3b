#include "nt/rtl/Printf.h"

#include <cstdio>
#include <string_view>

#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt::rtl {
namespace {

enum class Size { Default, Short, Char, Long32, Long64, Pointer, Wide };

struct Spec {
  bool left = false, plus = false, space = false, alt = false, zero = false;
  int width = 0;
  int precision = -1;
  Size size = Size::Default;
  bool wideMod = false;   // 'l' or 'w' on c/s/Z
  bool narrowMod = false; // 'h' on c/s
};

constexpr char kNull[] = "(null)";

template <class Out>
class Writer {
 public:
  explicit Writer(std::basic_string<Out>& out) : out_(out) {}

  void Char(char32_t c) { out_.push_back(Convert(c)); }
  void Repeat(char32_t c, int n) {
    for (int i = 0; i < n; ++i) Char(c);
  }

  // Emits a string of `count` code units read by `at(i)`, padded to the spec's width.
  template <class At>
  void Padded(const Spec& spec, std::size_t count, At at) {
    const int pad = spec.width > static_cast<int>(count) ? spec.width - static_cast<int>(count) : 0;
    if (!spec.left) Repeat(spec.zero ? '0' : ' ', pad);
    for (std::size_t i = 0; i < count; ++i) Char(at(i));
    if (spec.left) Repeat(' ', pad);
  }

  // A number: sign/prefix, zero padding to the precision, then to the width.
  void Number(const Spec& spec, std::string_view prefix, std::string_view digits) {
    int zeros = spec.precision > static_cast<int>(digits.size())
                    ? spec.precision - static_cast<int>(digits.size())
                    : 0;
    int length = static_cast<int>(prefix.size() + digits.size()) + zeros;
    int pad = spec.width > length ? spec.width - length : 0;
    const bool zeroPad = spec.zero && !spec.left && spec.precision < 0;
    if (!spec.left && !zeroPad) Repeat(' ', pad);
    for (char c : prefix) Char(static_cast<unsigned char>(c));
    if (zeroPad) Repeat('0', pad);
    Repeat('0', zeros);
    for (char c : digits) Char(static_cast<unsigned char>(c));
    if (spec.left) Repeat(' ', pad);
  }

 private:
  static Out Convert(char32_t c) {
    if constexpr (sizeof(Out) == 1) {
      return static_cast<Out>(c <= 0xFF ? c : U'?');
    } else {
      return static_cast<Out>(c);
    }
  }
  std::basic_string<Out>& out_;
};

std::size_t BoundedLength(const char* s, int precision) {
  if (precision < 0) return std::strlen(s);
  const void* nul = std::memchr(s, 0, static_cast<std::size_t>(precision));
  return nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - s)
             : static_cast<std::size_t>(precision);
}

std::size_t BoundedLength(const char16_t* s, int precision) {
  std::size_t n = 0;
  while ((precision < 0 || n < static_cast<std::size_t>(precision)) && s[n]) ++n;
  return n;
}

std::size_t Limit(std::size_t count, int precision) {
  return precision >= 0 && static_cast<std::size_t>(precision) < count
             ? static_cast<std::size_t>(precision)
             : count;
}

std::string Digits(std::uint64_t value, unsigned base, bool upper) {
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buffer[64];
  int i = 64;
  do {
    buffer[--i] = set[value % base];
    value /= base;
  } while (value);
  return std::string(buffer + i, buffer + 64);
}

template <class In>
void ParseSpec(const In*& p, Spec& spec, MsVaList& args) {
  for (;; ++p) {
    switch (*p) {
      case '-': spec.left = true; continue;
      case '+': spec.plus = true; continue;
      case ' ': spec.space = true; continue;
      case '#': spec.alt = true; continue;
      case '0': spec.zero = true; continue;
      default: break;
    }
    break;
  }
  if (*p == '*') {
    const auto w = static_cast<std::int32_t>(args.NextInteger());
    if (w < 0) {
      spec.left = true;
      spec.width = -w;
    } else {
      spec.width = w;
    }
    ++p;
  } else {
    while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
  }
  if (*p == '.') {
    ++p;
    spec.precision = 0;
    if (*p == '*') {
      const auto v = static_cast<std::int32_t>(args.NextInteger());
      spec.precision = v < 0 ? -1 : v;
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
    }
  }
  // Size prefixes.
  for (;;) {
    if (p[0] == 'I' && p[1] == '6' && p[2] == '4') {
      spec.size = Size::Long64;
      p += 3;
    } else if (p[0] == 'I' && p[1] == '3' && p[2] == '2') {
      spec.size = Size::Long32;
      p += 3;
    } else if (p[0] == 'I') {
      spec.size = Size::Pointer;
      ++p;
    } else if (p[0] == 'l' && p[1] == 'l') {
      spec.size = Size::Long64;
      p += 2;
    } else if (p[0] == 'h' && p[1] == 'h') {
      spec.size = Size::Char;
      spec.narrowMod = true;
      p += 2;
    } else if (p[0] == 'l') {
      spec.size = Size::Long32;
      spec.wideMod = true;
      ++p;
    } else if (p[0] == 'w') {
      spec.size = Size::Wide;
      spec.wideMod = true;
      ++p;
    } else if (p[0] == 'h') {
      spec.size = Size::Short;
      spec.narrowMod = true;
      ++p;
    } else if (p[0] == 'z' || p[0] == 't' || p[0] == 'j') {
      spec.size = Size::Pointer;
      if (p[0] == 'j') spec.size = Size::Long64;
      ++p;
    } else if (p[0] == 'L') {
      ++p;
    } else {
      break;
    }
  }
}

std::uint64_t Truncate(std::uint64_t v, Size size) {
  switch (size) {
    case Size::Char: return v & 0xFF;
    case Size::Short: return v & 0xFFFF;
    case Size::Long64:
    case Size::Pointer: return v;
    default: return v & 0xFFFFFFFF;
  }
}

std::int64_t SignExtend(std::uint64_t v, Size size) {
  switch (size) {
    case Size::Char: return static_cast<std::int8_t>(v);
    case Size::Short: return static_cast<std::int16_t>(v);
    case Size::Long64:
    case Size::Pointer: return static_cast<std::int64_t>(v);
    default: return static_cast<std::int32_t>(v);
  }
}

template <class Out>
void FormatFloat(Writer<Out>& w, const Spec& spec, char type, double value) {
  // Only the digits come from the host; flags, width and precision are passed through unchanged.
  char fmt[32];
  int n = 0;
  fmt[n++] = '%';
  if (spec.left) fmt[n++] = '-';
  if (spec.plus) fmt[n++] = '+';
  if (spec.space) fmt[n++] = ' ';
  if (spec.alt) fmt[n++] = '#';
  if (spec.zero) fmt[n++] = '0';
  fmt[n++] = '*';
  fmt[n++] = '.';
  fmt[n++] = '*';
  fmt[n++] = type;
  fmt[n] = 0;
  char buffer[512];
  const int len = std::snprintf(buffer, sizeof buffer, fmt, spec.width,
                                spec.precision < 0 ? 6 : spec.precision, value);
  for (int i = 0; i < len && i < static_cast<int>(sizeof buffer) - 1; ++i) {
    w.Char(static_cast<unsigned char>(buffer[i]));
  }
}

template <class Out, class In>
void Format(std::basic_string<Out>& out, const In* format, MsVaList& args) {
  constexpr bool kWideFormat = sizeof(In) == 2;
  Writer<Out> w(out);
  for (const In* p = format; *p;) {
    if (*p != '%') {
      w.Char(static_cast<char32_t>(static_cast<std::make_unsigned_t<In>>(*p++)));
      continue;
    }
    ++p;
    if (*p == '%') {
      w.Char('%');
      ++p;
      continue;
    }
    Spec spec;
    ParseSpec(p, spec, args);
    const In type = *p;
    if (!type) break;
    ++p;
    switch (type) {
      case 'd':
      case 'i': {
        const std::int64_t v = SignExtend(args.NextInteger(), spec.size);
        const std::uint64_t magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
        const char* sign = v < 0 ? "-" : spec.plus ? "+" : spec.space ? " " : "";
        std::string digits = spec.precision == 0 && magnitude == 0 ? "" : Digits(magnitude, 10, false);
        w.Number(spec, sign, digits);
        break;
      }
      case 'u':
      case 'o':
      case 'x':
      case 'X': {
        const std::uint64_t v = Truncate(args.NextInteger(), spec.size);
        const unsigned base = type == 'u' ? 10 : type == 'o' ? 8 : 16;
        std::string digits = spec.precision == 0 && v == 0 ? "" : Digits(v, base, type == 'X');
        std::string_view prefix;
        if (spec.alt && v != 0) prefix = type == 'x' ? "0x" : type == 'X' ? "0X" : "";
        if (spec.alt && type == 'o' && (digits.empty() || digits[0] != '0')) digits.insert(0, "0");
        w.Number(spec, prefix, digits);
        break;
      }
      case 'p': {
        const std::uint64_t v = args.NextInteger();
        Spec s = spec;
        s.precision = 16;  // a pointer always shows all 16 digits, upper case
        w.Number(s, spec.alt ? "0X" : "", Digits(v, 16, true));
        break;
      }
      case 'c':
      case 'C': {
        const std::uint64_t v = args.NextInteger();
        // %c takes the format's own width; %C the other one; h/l/w force narrow/wide.
        bool wide = (type == 'c') == kWideFormat;
        if (spec.narrowMod) wide = false;
        if (spec.wideMod) wide = true;
        const char32_t c = wide ? static_cast<char16_t>(v) : static_cast<unsigned char>(v);
        Spec s = spec;
        s.zero = false;
        w.Padded(s, 1, [c](std::size_t) { return c; });
        break;
      }
      case 's':
      case 'S': {
        const auto raw = args.NextInteger();
        bool wide = (type == 's') == kWideFormat;
        if (spec.narrowMod) wide = false;
        if (spec.wideMod) wide = true;
        Spec s = spec;
        s.zero = false;
        if (raw == 0) {
          const std::size_t n = Limit(sizeof kNull - 1, spec.precision);
          w.Padded(s, n, [](std::size_t i) { return static_cast<char32_t>(kNull[i]); });
        } else if (wide) {
          const auto* str = reinterpret_cast<const char16_t*>(raw);
          w.Padded(s, BoundedLength(str, spec.precision), [str](std::size_t i) { return static_cast<char32_t>(str[i]); });
        } else {
          const auto* str = reinterpret_cast<const char*>(raw);
          w.Padded(s, BoundedLength(str, spec.precision),
                   [str](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(str[i])); });
        }
        break;
      }
      case 'Z': {
        const auto raw = args.NextInteger();
        Spec s = spec;
        s.zero = false;
        if (spec.wideMod) {
          const auto* str = reinterpret_cast<const UNICODE_STRING*>(raw);
          if (!str || !str->Buffer) {
            w.Padded(s, Limit(sizeof kNull - 1, spec.precision), [](std::size_t i) { return static_cast<char32_t>(kNull[i]); });
          } else {
            const WCHAR* b = str->Buffer;
            w.Padded(s, Limit(str->Length / 2u, spec.precision), [b](std::size_t i) { return static_cast<char32_t>(b[i]); });
          }
        } else {
          const auto* str = reinterpret_cast<const ANSI_STRING*>(raw);
          if (!str || !str->Buffer) {
            w.Padded(s, Limit(sizeof kNull - 1, spec.precision), [](std::size_t i) { return static_cast<char32_t>(kNull[i]); });
          } else {
            const CHAR* b = str->Buffer;
            w.Padded(s, Limit(str->Length, spec.precision),
                     [b](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(b[i])); });
          }
        }
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      case 'a':
      case 'A':
        FormatFloat(w, spec, static_cast<char>(type), args.NextDouble());
        break;
      case 'n':
        // Writing through %n is disabled, as in Microsoft's CRT; the argument is consumed.
        args.NextInteger();
        break;
      default:
        // An unknown conversion prints its character, as Microsoft's formatter does.
        w.Char(static_cast<char32_t>(static_cast<std::make_unsigned_t<In>>(type)));
        break;
    }
  }
}

}  // namespace

std::string FormatA(const char* format, MsVaList& args) {
  std::string out;
  if (format) Format(out, format, args);
  return out;
}

std::u16string FormatW(const char16_t* format, MsVaList& args) {
  std::u16string out;
  if (format) Format(out, format, args);
  return out;
}

std::string AnsiToUtf8(const std::string& ansi) {
  std::string out;
  out.reserve(ansi.size());
  for (unsigned char c : ansi) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace ntbox::nt::rtl
