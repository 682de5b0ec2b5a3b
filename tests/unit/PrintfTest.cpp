// Microsoft printf semantics, driven through a real Microsoft-ABI variadic call so arguments
// arrive in 8-byte slots exactly as a driver passes them.
#include <gtest/gtest.h>

#include "nt/rtl/Crt.h"
#include "nt/rtl/Printf.h"
#include "nt/rtl/RtlTypes.h"

namespace {

using namespace ntbox::nt;

__attribute__((ms_abi)) std::string Fmt(const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  rtl::MsVaList list(args);
  std::string out = rtl::FormatA(format, list);
  __builtin_ms_va_end(args);
  return out;
}

__attribute__((ms_abi)) std::u16string FmtW(const char16_t* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  rtl::MsVaList list(args);
  std::u16string out = rtl::FormatW(format, list);
  __builtin_ms_va_end(args);
  return out;
}

TEST(Printf, IntegerSizesFollowMicrosoft) {
  EXPECT_EQ(Fmt("%ld", 0xFFFFFFFF00000005ull), "5");  // %ld is 32 bits on Windows
  EXPECT_EQ(Fmt("%lx", 0x1234567890ull), "34567890");
  EXPECT_EQ(Fmt("%I64x", 0x1234567890ull), "1234567890");
  EXPECT_EQ(Fmt("%I64d", -5000000000ll), "-5000000000");
  EXPECT_EQ(Fmt("%I32u", 0x100000001ull), "1");
  EXPECT_EQ(Fmt("%Iu", 0x100000001ull), "4294967297");
  EXPECT_EQ(Fmt("%lld|%llu", -7ll, ~0ull), "-7|18446744073709551615");
  EXPECT_EQ(Fmt("%hd|%hhx", 0x1FFFF, 0x1FF), "-1|ff");
  EXPECT_EQ(Fmt("%d", 0x80000000), "-2147483648");
}

TEST(Printf, PointerIsSixteenUpperCaseDigits) {
  EXPECT_EQ(Fmt("%p", 0x1234abcdull), "000000001234ABCD");
  EXPECT_EQ(Fmt("%p", 0ull), "0000000000000000");
}

TEST(Printf, FlagsWidthPrecisionStar) {
  EXPECT_EQ(Fmt("[%5d][%-5d][%05d][%+d][% d]", 42, 42, 42, 42, 42), "[   42][42   ][00042][+42][ 42]");
  EXPECT_EQ(Fmt("[%.3d][%8.3d][%#x][%#o][%#x]", 7, 7, 255, 8, 0), "[007][     007][0xff][010][0]");
  EXPECT_EQ(Fmt("[%*d][%-*d][%.*d]", 4, 1, 4, 1, 2, 3), "[   1][1   ][03]");
  EXPECT_EQ(Fmt("[%*d]", -4, 1), "[1   ]");
  EXPECT_EQ(Fmt("[%.0d]", 0), "[]");
}

TEST(Printf, StringsOfBothWidths) {
  EXPECT_EQ(Fmt("%s|%hs|%ws|%ls|%S", "a", "b", u"c", u"d", u"e"), "a|b|c|d|e");
  EXPECT_EQ(Fmt("[%5s][%-5s][%.2s]", "ab", "ab", "abcdef"), "[   ab][ab   ][ab]");
  EXPECT_EQ(Fmt("%s|%ws", nullptr, nullptr), "(null)|(null)");
  EXPECT_EQ(Fmt("%ws", u"\u00e9\u4e2d"), "\xe9?");  // outside the ANSI code page -> '?'
  EXPECT_EQ(FmtW(u"%s|%S|%hs|%ls", u"w", "n", "h", u"l"), u"w|n|h|l");
  EXPECT_EQ(FmtW(u"%c%C", u'x', 'y'), u"xy");
}

TEST(Printf, CountedStrings) {
  char16_t buffer[] = u"Unicode!";
  UNICODE_STRING us{14, 16, buffer};  // Length excludes the '!'
  char abuf[] = "Ansi?";
  ANSI_STRING as{4, 5, abuf};
  EXPECT_EQ(Fmt("%wZ|%Z", &us, &as), "Unicode|Ansi");
  EXPECT_EQ(Fmt("%.3wZ", &us), "Uni");
  EXPECT_EQ(Fmt("%wZ|%Z", nullptr, nullptr), "(null)|(null)");
  UNICODE_STRING empty{0, 0, nullptr};
  EXPECT_EQ(Fmt("%wZ", &empty), "(null)");
}

TEST(Printf, CharsPercentAndUnknown) {
  EXPECT_EQ(Fmt("%c%C%%%y", 'a', u'B'), "aB%y");
  EXPECT_EQ(Fmt("%3c|%-3c|", 'x', 'y'), "  x|y  |");
}

TEST(Printf, Floats) {
  EXPECT_EQ(Fmt("%.2f|%5.1f|%e", 3.14159, 2.25, 1.5), "3.14|  2.2|1.500000e+00");
}

TEST(Crt, SnprintfTruncationContract) {
  char buffer[8];
  std::memset(buffer, 'X', sizeof buffer);
  EXPECT_EQ(crt::_snprintf(buffer, 4, "%s", "abcdef"), -1);  // truncated: -1, no terminator
  EXPECT_EQ(std::string(buffer, 5), "abcdX");
  std::memset(buffer, 'X', sizeof buffer);
  EXPECT_EQ(crt::_snprintf(buffer, 3, "abc"), 3);  // exactly fits: count, no terminator
  EXPECT_EQ(buffer[3], 'X');
  EXPECT_EQ(crt::_snprintf(buffer, 8, "%d", 12), 2);
  EXPECT_STREQ(buffer, "12");
  char16_t wide[8];
  EXPECT_EQ(crt::swprintf(wide, u"%d-%s", 5, u"w"), 3);
  EXPECT_EQ(std::u16string(wide), u"5-w");
}

TEST(Crt, StringRoutines) {
  EXPECT_EQ(crt::_stricmp("HeLLo", "hello"), 0);
  EXPECT_LT(crt::_wcsicmp(u"abc", u"ABD"), 0);
  EXPECT_EQ(crt::wcslen(u"four"), 4u);
  EXPECT_STREQ(reinterpret_cast<const char*>(crt::wcsstr(u"haystack", u"st")) ? "found" : "no", "found");
  EXPECT_EQ(crt::strtoul("0x1F", nullptr, 0), 31u);
  EXPECT_EQ(crt::strtol("-2147483649", nullptr, 10), INT32_MIN);
  EXPECT_EQ(crt::towupper(u'\u00e9'), u'\u00c9');
}

}  // namespace
