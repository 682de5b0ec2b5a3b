// Basic NT types with fixed widths. Host code never includes Windows headers: there `long` is 32
// bits, here it is 64, so every type a driver shares with us is spelled out with its real width.
#pragma once
#include <cstddef>
#include <cstdint>

// Kernel functions called by drivers use the Microsoft x64 calling convention.
#define NTAPI __attribute__((ms_abi))

namespace ntbox::nt {

using UCHAR = std::uint8_t;
using CHAR = char;
using CCHAR = char;
using BOOLEAN = std::uint8_t;
using USHORT = std::uint16_t;
using CSHORT = std::int16_t;
using SHORT = std::int16_t;
using WCHAR = char16_t;
using ULONG = std::uint32_t;
using LONG = std::int32_t;
using ULONG64 = std::uint64_t;
using LONG64 = std::int64_t;
using ULONGLONG = std::uint64_t;
using LONGLONG = std::int64_t;
using ULONG_PTR = std::uint64_t;
using LONG_PTR = std::int64_t;
using SIZE_T = std::uint64_t;
using PVOID = void*;
using HANDLE = void*;
using NTSTATUS = std::int32_t;
using KIRQL = std::uint8_t;
using KPROCESSOR_MODE = std::int8_t;
using KSPIN_LOCK = std::uint64_t;
using ACCESS_MASK = std::uint32_t;
using PCSTR = const char*;
using PCWSTR = const char16_t*;
using PWSTR = char16_t*;

union LARGE_INTEGER {
  struct {
    ULONG LowPart;
    LONG HighPart;
  } u;
  LONGLONG QuadPart;
};
static_assert(sizeof(LARGE_INTEGER) == 8);

constexpr BOOLEAN TRUE = 1;
constexpr BOOLEAN FALSE = 0;

constexpr KIRQL PASSIVE_LEVEL = 0;
constexpr KIRQL APC_LEVEL = 1;
constexpr KIRQL DISPATCH_LEVEL = 2;
constexpr KIRQL CLOCK_LEVEL = 13;
constexpr KIRQL HIGH_LEVEL = 15;

}  // namespace ntbox::nt
