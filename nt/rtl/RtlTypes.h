// Run-time library layouts shared with drivers (x64 WDK).
#pragma once
#include <string>

#include "nt/Types.h"

namespace ntbox::nt {

struct UNICODE_STRING {
  USHORT Length;         // bytes, without a terminating NUL
  USHORT MaximumLength;  // bytes
  WCHAR* Buffer;
};
static_assert(sizeof(UNICODE_STRING) == 0x10);
static_assert(offsetof(UNICODE_STRING, MaximumLength) == 0x2);
static_assert(offsetof(UNICODE_STRING, Buffer) == 0x8);

// A kernel string over s (which keeps its terminator, hence MaximumLength); s must outlive it.
inline UNICODE_STRING ViewOf(std::u16string& s) {
  const auto bytes = static_cast<USHORT>(s.size() < 0x7FFF ? s.size() * 2 : 0xFFFC);
  return UNICODE_STRING{bytes, static_cast<USHORT>(bytes + 2), reinterpret_cast<WCHAR*>(s.data())};
}

struct ANSI_STRING {
  USHORT Length;
  USHORT MaximumLength;
  CHAR* Buffer;
};
using STRING = ANSI_STRING;
static_assert(sizeof(ANSI_STRING) == 0x10);
static_assert(offsetof(ANSI_STRING, Buffer) == 0x8);

struct LIST_ENTRY {
  LIST_ENTRY* Flink;
  LIST_ENTRY* Blink;
};
static_assert(sizeof(LIST_ENTRY) == 0x10);
static_assert(offsetof(LIST_ENTRY, Blink) == 0x8);

struct SINGLE_LIST_ENTRY {
  SINGLE_LIST_ENTRY* Next;
};

struct RTL_OSVERSIONINFOW {
  ULONG dwOSVersionInfoSize;
  ULONG dwMajorVersion;
  ULONG dwMinorVersion;
  ULONG dwBuildNumber;
  ULONG dwPlatformId;
  WCHAR szCSDVersion[128];
};
static_assert(sizeof(RTL_OSVERSIONINFOW) == 0x114);

struct RTL_OSVERSIONINFOEXW {
  ULONG dwOSVersionInfoSize;
  ULONG dwMajorVersion;
  ULONG dwMinorVersion;
  ULONG dwBuildNumber;
  ULONG dwPlatformId;
  WCHAR szCSDVersion[128];
  USHORT wServicePackMajor;
  USHORT wServicePackMinor;
  USHORT wSuiteMask;
  UCHAR wProductType;
  UCHAR wReserved;
};
static_assert(sizeof(RTL_OSVERSIONINFOEXW) == 0x11C);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, dwMajorVersion) == 0x4);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, dwBuildNumber) == 0xC);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, dwPlatformId) == 0x10);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, szCSDVersion) == 0x14);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, wServicePackMajor) == 0x114);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, wSuiteMask) == 0x118);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, wProductType) == 0x11A);
static_assert(offsetof(RTL_OSVERSIONINFOEXW, wReserved) == 0x11B);

}  // namespace ntbox::nt
