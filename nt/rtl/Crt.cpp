#include "nt/rtl/Crt.h"

#include <cstring>
#include <limits>
#include <string>

#include "nt/rtl/Printf.h"
#include "nt/rtl/RtlExports.h"

namespace ntbox::nt::crt {
namespace {

int AsciiUpper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
int AsciiLower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

template <class Ch, class Map>
int CompareN(const Ch* a, const Ch* b, SIZE_T n, Map map) {
  for (SIZE_T i = 0; i < n; ++i) {
    const int ca = map(a[i]);
    const int cb = map(b[i]);
    if (ca != cb || ca == 0) return ca < cb ? -1 : ca > cb ? 1 : 0;
  }
  return 0;
}

constexpr SIZE_T kUnbounded = std::numeric_limits<SIZE_T>::max();

int UnsignedChar(char c) { return static_cast<unsigned char>(c); }
int WideChar(wchar c) { return c; }
int UpperChar(char c) { return AsciiUpper(static_cast<unsigned char>(c)); }
int UpperWide(wchar c) { return UpcaseChar(c); }

// Microsoft's bounded printf contract: the whole text fits -> terminated, length returned;
// exactly `count` characters -> no terminator, count returned; longer -> count characters
// written, no terminator, -1 returned.
template <class Ch>
int CopyOut(Ch* buffer, SIZE_T count, const std::basic_string<Ch>& text) {
  const SIZE_T n = text.size();
  if (n < count) {
    std::memcpy(buffer, text.data(), n * sizeof(Ch));
    buffer[n] = 0;
    return static_cast<int>(n);
  }
  std::memcpy(buffer, text.data(), count * sizeof(Ch));
  return n == count ? static_cast<int>(n) : -1;
}

template <class Ch>
bool IsSpaceT(Ch c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// strtol/strtoul on either character width, with C's saturation rules.
template <class Ch>
unsigned long long ParseNumber(const Ch* s, const Ch** end, int base, bool* negative, bool* overflow) {
  const Ch* p = s;
  while (IsSpaceT(*p)) ++p;
  *negative = false;
  *overflow = false;
  if (*p == '+' || *p == '-') *negative = *p++ == '-';
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  const Ch* digitsStart = p;
  unsigned long long value = 0;
  for (;; ++p) {
    int d;
    if (*p >= '0' && *p <= '9') d = *p - '0';
    else if (*p >= 'a' && *p <= 'z') d = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'Z') d = *p - 'A' + 10;
    else break;
    if (d >= base) break;
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (value > 0xFFFFFFFFull) *overflow = true;
  }
  *end = p == digitsStart ? s : p;
  return value;
}

template <class Ch>
LONG ToLong(const Ch* s, Ch** end, int base) {
  bool negative, overflow;
  const Ch* stop;
  unsigned long long v = ParseNumber(s, &stop, base, &negative, &overflow);
  if (end) *end = const_cast<Ch*>(stop);
  if (overflow || v > (negative ? 0x80000000ull : 0x7FFFFFFFull)) return negative ? INT32_MIN : INT32_MAX;
  return negative ? -static_cast<LONG>(v) : static_cast<LONG>(v);
}

template <class Ch>
ULONG ToULong(const Ch* s, Ch** end, int base) {
  bool negative, overflow;
  const Ch* stop;
  unsigned long long v = ParseNumber(s, &stop, base, &negative, &overflow);
  if (end) *end = const_cast<Ch*>(stop);
  if (overflow) return 0xFFFFFFFFu;
  return negative ? 0u - static_cast<ULONG>(v) : static_cast<ULONG>(v);
}

}  // namespace

void* NTAPI memcpy(void* dst, const void* src, SIZE_T n) { return std::memcpy(dst, src, n); }
void* NTAPI memmove(void* dst, const void* src, SIZE_T n) { return std::memmove(dst, src, n); }
void* NTAPI memset(void* dst, int c, SIZE_T n) { return std::memset(dst, c, n); }
int NTAPI memcmp(const void* a, const void* b, SIZE_T n) { return std::memcmp(a, b, n); }
const void* NTAPI memchr(const void* s, int c, SIZE_T n) { return std::memchr(s, c, n); }
SIZE_T NTAPI strlen(const char* s) { return std::strlen(s); }
SIZE_T NTAPI strnlen(const char* s, SIZE_T max) { return ::strnlen(s, max); }
SIZE_T NTAPI wcslen(const wchar* s) { return wcsnlen(s, kUnbounded); }
SIZE_T NTAPI wcsnlen(const wchar* s, SIZE_T max) {
  SIZE_T n = 0;
  while (n < max && s[n]) ++n;
  return n;
}
int NTAPI strcmp(const char* a, const char* b) { return CompareN(a, b, kUnbounded, UnsignedChar); }
int NTAPI strncmp(const char* a, const char* b, SIZE_T n) { return CompareN(a, b, n, UnsignedChar); }
int NTAPI wcscmp(const wchar* a, const wchar* b) { return CompareN(a, b, kUnbounded, WideChar); }
int NTAPI wcsncmp(const wchar* a, const wchar* b, SIZE_T n) { return CompareN(a, b, n, WideChar); }
int NTAPI _stricmp(const char* a, const char* b) { return CompareN(a, b, kUnbounded, UpperChar); }
int NTAPI _strnicmp(const char* a, const char* b, SIZE_T n) { return CompareN(a, b, n, UpperChar); }
int NTAPI _wcsicmp(const wchar* a, const wchar* b) { return CompareN(a, b, kUnbounded, UpperWide); }
int NTAPI _wcsnicmp(const wchar* a, const wchar* b, SIZE_T n) { return CompareN(a, b, n, UpperWide); }

char* NTAPI strcpy(char* dst, const char* src) { return std::strcpy(dst, src); }
char* NTAPI strncpy(char* dst, const char* src, SIZE_T n) { return std::strncpy(dst, src, n); }
char* NTAPI strcat(char* dst, const char* src) { return std::strcat(dst, src); }
char* NTAPI strncat(char* dst, const char* src, SIZE_T n) { return std::strncat(dst, src, n); }
wchar* NTAPI wcscpy(wchar* dst, const wchar* src) {
  SIZE_T i = 0;
  do { dst[i] = src[i]; } while (src[i++]);
  return dst;
}
wchar* NTAPI wcsncpy(wchar* dst, const wchar* src, SIZE_T n) {
  SIZE_T i = 0;
  for (; i < n && src[i]; ++i) dst[i] = src[i];
  for (; i < n; ++i) dst[i] = 0;  // C pads the rest with NULs
  return dst;
}
wchar* NTAPI wcscat(wchar* dst, const wchar* src) {
  wcscpy(dst + wcslen(dst), src);
  return dst;
}
wchar* NTAPI wcsncat(wchar* dst, const wchar* src, SIZE_T n) {
  wchar* end = dst + wcslen(dst);
  SIZE_T i = 0;
  for (; i < n && src[i]; ++i) end[i] = src[i];
  end[i] = 0;
  return dst;
}
const char* NTAPI strchr(const char* s, int c) { return std::strchr(s, c); }
const char* NTAPI strrchr(const char* s, int c) { return std::strrchr(s, c); }
const char* NTAPI strstr(const char* s, const char* sub) { return std::strstr(s, sub); }
const wchar* NTAPI wcschr(const wchar* s, wchar c) {
  for (;; ++s) {
    if (*s == c) return s;
    if (!*s) return nullptr;
  }
}
const wchar* NTAPI wcsrchr(const wchar* s, wchar c) {
  const wchar* found = nullptr;
  for (;; ++s) {
    if (*s == c) found = s;
    if (!*s) return found;
  }
}
const wchar* NTAPI wcsstr(const wchar* s, const wchar* sub) {
  const SIZE_T n = wcslen(sub);
  if (n == 0) return s;
  for (; *s; ++s) {
    if (wcsncmp(s, sub, n) == 0) return s;
  }
  return nullptr;
}
char* NTAPI _strupr(char* s) {
  for (char* p = s; *p; ++p) *p = static_cast<char>(AsciiUpper(static_cast<unsigned char>(*p)));
  return s;
}
char* NTAPI _strlwr(char* s) {
  for (char* p = s; *p; ++p) *p = static_cast<char>(AsciiLower(static_cast<unsigned char>(*p)));
  return s;
}
wchar* NTAPI _wcsupr(wchar* s) {
  for (wchar* p = s; *p; ++p) *p = UpcaseChar(*p);
  return s;
}
wchar* NTAPI _wcslwr(wchar* s) {
  for (wchar* p = s; *p; ++p) *p = DowncaseChar(*p);
  return s;
}
int NTAPI toupper(int c) { return AsciiUpper(c); }
int NTAPI tolower(int c) { return AsciiLower(c); }
wchar NTAPI towupper(wchar c) { return UpcaseChar(c); }
wchar NTAPI towlower(wchar c) { return DowncaseChar(c); }
int NTAPI isdigit(int c) { return c >= '0' && c <= '9'; }
int NTAPI isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int NTAPI isspace(int c) { return IsSpaceT(c); }
int NTAPI isupper(int c) { return c >= 'A' && c <= 'Z'; }
int NTAPI islower(int c) { return c >= 'a' && c <= 'z'; }
int NTAPI isalpha(int c) { return isupper(c) || islower(c); }
int NTAPI isalnum(int c) { return isalpha(c) || isdigit(c); }
int NTAPI isprint(int c) { return c >= 0x20 && c < 0x7F; }
int NTAPI iswdigit(wchar c) { return c >= u'0' && c <= u'9'; }
int NTAPI iswspace(wchar c) { return IsSpaceT(c); }
int NTAPI atoi(const char* s) { return ToLong<char>(s, nullptr, 10); }
LONG NTAPI atol(const char* s) { return ToLong<char>(s, nullptr, 10); }
LONG NTAPI strtol(const char* s, char** end, int base) { return ToLong(s, end, base); }
ULONG NTAPI strtoul(const char* s, char** end, int base) { return ToULong(s, end, base); }
LONG NTAPI wcstol(const wchar* s, wchar** end, int base) { return ToLong(s, end, base); }
ULONG NTAPI wcstoul(const wchar* s, wchar** end, int base) { return ToULong(s, end, base); }

int NTAPI _vsnprintf(char* buffer, SIZE_T count, const char* format, char* args) {
  rtl::MsVaList list(args);
  return CopyOut(buffer, count, rtl::FormatA(format, list));
}

int NTAPI _snprintf(char* buffer, SIZE_T count, const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = _vsnprintf(buffer, count, format, args);
  __builtin_ms_va_end(args);
  return r;
}

int NTAPI vsprintf(char* buffer, const char* format, char* args) {
  return _vsnprintf(buffer, kUnbounded, format, args);
}

int NTAPI sprintf(char* buffer, const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = _vsnprintf(buffer, kUnbounded, format, args);
  __builtin_ms_va_end(args);
  return r;
}

int NTAPI _vsnwprintf(wchar* buffer, SIZE_T count, const wchar* format, char* args) {
  rtl::MsVaList list(args);
  return CopyOut(buffer, count, rtl::FormatW(format, list));
}

int NTAPI _snwprintf(wchar* buffer, SIZE_T count, const wchar* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = _vsnwprintf(buffer, count, format, args);
  __builtin_ms_va_end(args);
  return r;
}

int NTAPI swprintf(wchar* buffer, const wchar* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = _vsnwprintf(buffer, kUnbounded, format, args);
  __builtin_ms_va_end(args);
  return r;
}

int NTAPI vswprintf(wchar* buffer, const wchar* format, char* args) {
  return _vsnwprintf(buffer, kUnbounded, format, args);
}

int NTAPI _vscprintf(const char* format, char* args) {
  rtl::MsVaList list(args);
  return static_cast<int>(rtl::FormatA(format, list).size());
}

}  // namespace ntbox::nt::crt
