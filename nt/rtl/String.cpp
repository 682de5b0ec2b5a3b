#include <algorithm>
#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/PoolExports.h"
#include "nt/rtl/RtlExports.h"

namespace ntbox::nt {
namespace {

constexpr USHORT kMaxUnicodeBytes = 0xFFFE;
constexpr ULONG kStringTag = 0x53747472;  // 'rttS' prints as "Strt"

std::size_t WideLength(PCWSTR s) {
  std::size_t n = 0;
  while (s[n]) ++n;
  return n;
}

template <class Ch, class Map>
LONG Compare(const Ch* a, std::size_t na, const Ch* b, std::size_t nb, Map map) {
  const std::size_t n = std::min(na, nb);
  for (std::size_t i = 0; i < n; ++i) {
    const LONG ca = map(a[i]);
    const LONG cb = map(b[i]);
    if (ca != cb) return ca - cb;
  }
  return static_cast<LONG>(na) - static_cast<LONG>(nb);
}

char16_t Identity(char16_t c) { return c; }
unsigned char AnsiUpper(unsigned char c) { return static_cast<unsigned char>(UpcaseChar(c)); }
unsigned char AnsiSame(unsigned char c) { return c; }

void* AllocateString(SIZE_T bytes) {
  return Kernel::Current().pool().Allocate(PagedPool, bytes, kStringTag,
                                           reinterpret_cast<std::uint64_t>(__builtin_return_address(0)),
                                           true);
}

}  // namespace

char16_t UpcaseChar(char16_t c) {
  if (c >= u'a' && c <= u'z') return c - 0x20;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 0x20;  // Greek
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;                // Cyrillic
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
}

char16_t DowncaseChar(char16_t c) {
  if (c >= u'A' && c <= u'Z') return c + 0x20;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

void NTAPI RtlInitUnicodeString(UNICODE_STRING* Destination, PCWSTR Source) {
  Destination->Buffer = const_cast<WCHAR*>(Source);
  if (!Source) {
    Destination->Length = Destination->MaximumLength = 0;
    return;
  }
  const std::size_t bytes = std::min<std::size_t>(WideLength(Source) * 2, kMaxUnicodeBytes - 2);
  Destination->Length = static_cast<USHORT>(bytes);
  Destination->MaximumLength = static_cast<USHORT>(bytes + 2);
}

NTSTATUS NTAPI RtlInitUnicodeStringEx(UNICODE_STRING* Destination, PCWSTR Source) {
  if (Source && WideLength(Source) * 2 > kMaxUnicodeBytes - 2u) return STATUS_NAME_TOO_LONG;
  RtlInitUnicodeString(Destination, Source);
  return STATUS_SUCCESS;
}

void NTAPI RtlInitAnsiString(ANSI_STRING* Destination, PCSTR Source) {
  Destination->Buffer = const_cast<CHAR*>(Source);
  if (!Source) {
    Destination->Length = Destination->MaximumLength = 0;
    return;
  }
  const std::size_t bytes = std::min<std::size_t>(std::strlen(Source), 0xFFFE);
  Destination->Length = static_cast<USHORT>(bytes);
  Destination->MaximumLength = static_cast<USHORT>(bytes + 1);
}

void NTAPI RtlInitString(STRING* Destination, PCSTR Source) { RtlInitAnsiString(Destination, Source); }

void NTAPI RtlCopyUnicodeString(UNICODE_STRING* Destination, const UNICODE_STRING* Source) {
  if (!Source) {
    Destination->Length = 0;
    return;
  }
  const USHORT bytes = std::min(Source->Length, Destination->MaximumLength);
  std::memmove(Destination->Buffer, Source->Buffer, bytes);
  Destination->Length = bytes;
  if (bytes + 2u <= Destination->MaximumLength) Destination->Buffer[bytes / 2] = 0;
}

void NTAPI RtlCopyString(STRING* Destination, const STRING* Source) {
  if (!Source) {
    Destination->Length = 0;
    return;
  }
  const USHORT bytes = std::min(Source->Length, Destination->MaximumLength);
  std::memmove(Destination->Buffer, Source->Buffer, bytes);
  Destination->Length = bytes;
  if (bytes < Destination->MaximumLength) Destination->Buffer[bytes] = 0;
}

NTSTATUS NTAPI RtlAppendUnicodeStringToString(UNICODE_STRING* Destination, const UNICODE_STRING* Source) {
  if (!Source || Source->Length == 0) return STATUS_SUCCESS;
  const std::size_t total = std::size_t{Destination->Length} + Source->Length;
  if (total > Destination->MaximumLength) return STATUS_BUFFER_TOO_SMALL;
  std::memmove(reinterpret_cast<std::uint8_t*>(Destination->Buffer) + Destination->Length,
               Source->Buffer, Source->Length);
  Destination->Length = static_cast<USHORT>(total);
  if (total + 2 <= Destination->MaximumLength) Destination->Buffer[total / 2] = 0;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlAppendUnicodeToString(UNICODE_STRING* Destination, PCWSTR Source) {
  if (!Source) return STATUS_SUCCESS;
  UNICODE_STRING s;
  RtlInitUnicodeString(&s, Source);
  return RtlAppendUnicodeStringToString(Destination, &s);
}

LONG NTAPI RtlCompareUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                   BOOLEAN CaseInSensitive) {
  return Compare(String1->Buffer, String1->Length / 2u, String2->Buffer, String2->Length / 2u,
                 CaseInSensitive ? UpcaseChar : Identity);
}

LONG NTAPI RtlCompareString(const STRING* String1, const STRING* String2, BOOLEAN CaseInSensitive) {
  return Compare(reinterpret_cast<const unsigned char*>(String1->Buffer), String1->Length,
                 reinterpret_cast<const unsigned char*>(String2->Buffer), String2->Length,
                 CaseInSensitive ? AnsiUpper : AnsiSame);
}

BOOLEAN NTAPI RtlEqualUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                    BOOLEAN CaseInSensitive) {
  return String1->Length == String2->Length &&
         RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}

BOOLEAN NTAPI RtlEqualString(const STRING* String1, const STRING* String2, BOOLEAN CaseInSensitive) {
  return String1->Length == String2->Length && RtlCompareString(String1, String2, CaseInSensitive) == 0;
}

BOOLEAN NTAPI RtlPrefixUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                     BOOLEAN CaseInSensitive) {
  if (String1->Length > String2->Length) return FALSE;
  return Compare(String1->Buffer, String1->Length / 2u, String2->Buffer, String1->Length / 2u,
                 CaseInSensitive ? UpcaseChar : Identity) == 0;
}

SIZE_T NTAPI RtlCompareMemory(const void* Source1, const void* Source2, SIZE_T Length) {
  const auto* a = static_cast<const std::uint8_t*>(Source1);
  const auto* b = static_cast<const std::uint8_t*>(Source2);
  SIZE_T same = 0;
  while (same < Length && a[same] == b[same]) ++same;
  return same;
}

void NTAPI RtlFreeUnicodeString(UNICODE_STRING* UnicodeString) {
  if (UnicodeString->Buffer) ExFreePool(UnicodeString->Buffer);
  UnicodeString->Buffer = nullptr;
  UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

void NTAPI RtlFreeAnsiString(ANSI_STRING* AnsiString) {
  if (AnsiString->Buffer) ExFreePool(AnsiString->Buffer);
  AnsiString->Buffer = nullptr;
  AnsiString->Length = AnsiString->MaximumLength = 0;
}

NTSTATUS NTAPI RtlAnsiStringToUnicodeString(UNICODE_STRING* Destination, const ANSI_STRING* Source,
                                            BOOLEAN AllocateDestinationString) {
  const std::size_t bytes = std::size_t{Source->Length} * 2;
  if (bytes + 2 > kMaxUnicodeBytes + 2u) return STATUS_INVALID_PARAMETER_2;
  if (AllocateDestinationString) {
    Destination->Buffer = static_cast<WCHAR*>(AllocateString(bytes + 2));
    if (!Destination->Buffer) return STATUS_NO_MEMORY;
    Destination->MaximumLength = static_cast<USHORT>(bytes + 2);
  } else if (bytes + 2 > Destination->MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  for (std::size_t i = 0; i < Source->Length; ++i) {
    Destination->Buffer[i] = static_cast<unsigned char>(Source->Buffer[i]);  // Latin-1
  }
  Destination->Buffer[Source->Length] = 0;
  Destination->Length = static_cast<USHORT>(bytes);
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlUnicodeStringToAnsiString(ANSI_STRING* Destination, const UNICODE_STRING* Source,
                                            BOOLEAN AllocateDestinationString) {
  std::size_t chars = Source->Length / 2u;
  NTSTATUS status = STATUS_SUCCESS;
  if (AllocateDestinationString) {
    Destination->Buffer = static_cast<CHAR*>(AllocateString(chars + 1));
    if (!Destination->Buffer) return STATUS_NO_MEMORY;
    Destination->MaximumLength = static_cast<USHORT>(chars + 1);
  } else if (chars + 1 > Destination->MaximumLength) {
    if (Destination->MaximumLength == 0) return STATUS_BUFFER_OVERFLOW;
    // Windows converts what fits and reports the overflow.
    chars = Destination->MaximumLength - 1u;
    status = STATUS_BUFFER_OVERFLOW;
  }
  for (std::size_t i = 0; i < chars; ++i) {
    const char16_t c = Source->Buffer[i];
    Destination->Buffer[i] = static_cast<CHAR>(c <= 0xFF ? c : u'?');
  }
  Destination->Buffer[chars] = 0;
  Destination->Length = static_cast<USHORT>(chars);
  return status;
}

NTSTATUS NTAPI RtlUpcaseUnicodeString(UNICODE_STRING* Destination, const UNICODE_STRING* Source,
                                      BOOLEAN AllocateDestinationString) {
  if (AllocateDestinationString) {
    Destination->Buffer = static_cast<WCHAR*>(AllocateString(Source->Length + 2u));
    if (!Destination->Buffer) return STATUS_NO_MEMORY;
    Destination->MaximumLength = static_cast<USHORT>(Source->Length + 2u);
  } else if (Source->Length > Destination->MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  for (std::size_t i = 0; i < Source->Length / 2u; ++i) Destination->Buffer[i] = UpcaseChar(Source->Buffer[i]);
  Destination->Length = Source->Length;
  return STATUS_SUCCESS;
}

WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter) { return UpcaseChar(SourceCharacter); }
WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter) { return DowncaseChar(SourceCharacter); }

namespace {

// Shared by the Unicode and ANSI parsers: leading blanks, a sign, an optional 0x/0o/0b prefix
// when the base is 0, then digits up to the first character that is not one.
template <class Ch>
NTSTATUS ParseInteger(const Ch* s, std::size_t n, ULONG base, ULONG* value) {
  if (base != 0 && base != 2 && base != 8 && base != 10 && base != 16) return STATUS_INVALID_PARAMETER;
  std::size_t i = 0;
  while (i < n && s[i] <= ' ') ++i;
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (base == 0) {
    base = 10;
    if (i + 1 < n && s[i] == '0') {
      const Ch p = s[i + 1];
      if (p == 'x' || p == 'X') base = 16;
      if (p == 'o' || p == 'O') base = 8;
      if (p == 'b' || p == 'B') base = 2;
      if (base != 10) i += 2;
    }
  }
  ULONG result = 0;
  for (; i < n; ++i) {
    const Ch c = s[i];
    ULONG digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else break;
    if (digit >= base) break;
    result = result * base + digit;
  }
  *value = negative ? 0u - result : result;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI RtlUnicodeStringToInteger(const UNICODE_STRING* String, ULONG Base, ULONG* Value) {
  return ParseInteger(String->Buffer, String->Length / 2u, Base, Value);
}

NTSTATUS NTAPI RtlCharToInteger(PCSTR String, ULONG Base, ULONG* Value) {
  return ParseInteger(String, std::strlen(String), Base, Value);
}

NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, UNICODE_STRING* String) {
  if (Base == 0) Base = 10;
  if (Base != 2 && Base != 8 && Base != 10 && Base != 16) return STATUS_INVALID_PARAMETER;
  char16_t digits[33];
  int n = 0;
  do {
    const ULONG d = Value % Base;
    digits[n++] = static_cast<char16_t>(d < 10 ? u'0' + d : u'A' + d - 10);
    Value /= Base;
  } while (Value);
  const std::size_t bytes = static_cast<std::size_t>(n) * 2;
  if (bytes > String->MaximumLength) return STATUS_BUFFER_OVERFLOW;
  for (int i = 0; i < n; ++i) String->Buffer[i] = digits[n - 1 - i];
  String->Length = static_cast<USHORT>(bytes);
  if (bytes + 2 <= String->MaximumLength) String->Buffer[n] = 0;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
