// printf as Microsoft's kernel and CRT do it, written here rather than passed to glibc: %ld is 32
// bits, %p is 16 upper-case hex digits, %wZ/%Z print counted strings, %S swaps the string width,
// %I64d/%I32x/%Iu name their sizes. Used by DbgPrint, _vsnprintf & co. and the Win32 CRT.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace ntbox::nt::rtl {

// The Microsoft x64 variadic argument area: every argument occupies one 8-byte slot (callee-homed
// register arguments included), floating-point values as doubles.
class MsVaList {
 public:
  explicit MsVaList(const void* area) : next_(static_cast<const std::uint8_t*>(area)) {}
  std::uint64_t NextInteger() {
    std::uint64_t v;
    std::memcpy(&v, next_, 8);
    next_ += 8;
    return v;
  }
  double NextDouble() {
    double v;
    std::memcpy(&v, next_, 8);
    next_ += 8;
    return v;
  }

 private:
  const std::uint8_t* next_;
};

// Narrow output: text in the ANSI code page (ntbox's is Latin-1: a wide character above U+00FF
// becomes '?', as Windows does for characters its code page lacks).
std::string FormatA(const char* format, MsVaList& args);
// Wide output (UTF-16 code units, as wchar_t is on Windows).
std::u16string FormatW(const char16_t* format, MsVaList& args);

// Latin-1 bytes to UTF-8, for showing kernel text on a Linux terminal.
std::string AnsiToUtf8(const std::string& ansi);

}  // namespace ntbox::nt::rtl
