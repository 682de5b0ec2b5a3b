// The registry's information structures (x64 WDK layouts), as NtQueryKey and NtQueryValueKey fill them.
#pragma once
#include <cstddef>

#include "nt/Types.h"

namespace ntbox::nt {

struct KEY_BASIC_INFORMATION {
  LONGLONG LastWriteTime;
  ULONG TitleIndex;
  ULONG NameLength;
  WCHAR Name[1];
};
static_assert(offsetof(KEY_BASIC_INFORMATION, Name) == 0x10);

struct KEY_NODE_INFORMATION {
  LONGLONG LastWriteTime;
  ULONG TitleIndex;
  ULONG ClassOffset;
  ULONG ClassLength;
  ULONG NameLength;
  WCHAR Name[1];
};
static_assert(offsetof(KEY_NODE_INFORMATION, Name) == 0x18);

struct KEY_FULL_INFORMATION {
  LONGLONG LastWriteTime;
  ULONG TitleIndex;
  ULONG ClassOffset;
  ULONG ClassLength;
  ULONG SubKeys;
  ULONG MaxNameLen;
  ULONG MaxClassLen;
  ULONG Values;
  ULONG MaxValueNameLen;
  ULONG MaxValueDataLen;
  WCHAR Class[1];
};
static_assert(offsetof(KEY_FULL_INFORMATION, Class) == 0x2C);

struct KEY_NAME_INFORMATION {
  ULONG NameLength;
  WCHAR Name[1];
};
static_assert(offsetof(KEY_NAME_INFORMATION, Name) == 0x4);

struct KEY_CACHED_INFORMATION {
  LONGLONG LastWriteTime;
  ULONG TitleIndex;
  ULONG SubKeys;
  ULONG MaxNameLen;
  ULONG Values;
  ULONG MaxValueNameLen;
  ULONG MaxValueDataLen;
  ULONG NameLength;
};
static_assert(sizeof(KEY_CACHED_INFORMATION) == 0x28);

struct KEY_VALUE_BASIC_INFORMATION {
  ULONG TitleIndex;
  ULONG Type;
  ULONG NameLength;
  WCHAR Name[1];
};
static_assert(offsetof(KEY_VALUE_BASIC_INFORMATION, Name) == 0xC);

struct KEY_VALUE_FULL_INFORMATION {
  ULONG TitleIndex;
  ULONG Type;
  ULONG DataOffset;
  ULONG DataLength;
  ULONG NameLength;
  WCHAR Name[1];
};
static_assert(offsetof(KEY_VALUE_FULL_INFORMATION, Name) == 0x14);

struct KEY_VALUE_PARTIAL_INFORMATION {
  ULONG TitleIndex;
  ULONG Type;
  ULONG DataLength;
  UCHAR Data[1];
};
static_assert(offsetof(KEY_VALUE_PARTIAL_INFORMATION, Data) == 0xC);

// Access rights (winnt.h).
constexpr ACCESS_MASK KEY_QUERY_VALUE = 0x1;
constexpr ACCESS_MASK KEY_SET_VALUE = 0x2;
constexpr ACCESS_MASK KEY_CREATE_SUB_KEY = 0x4;
constexpr ACCESS_MASK KEY_ENUMERATE_SUB_KEYS = 0x8;
constexpr ACCESS_MASK KEY_READ = 0x20019;
constexpr ACCESS_MASK KEY_WRITE = 0x20006;
constexpr ACCESS_MASK KEY_ALL_ACCESS = 0xF003F;

constexpr ULONG REG_OPTION_VOLATILE = 0x1;
constexpr ULONG REG_OPTION_CREATE_LINK = 0x2;
constexpr ULONG REG_CREATED_NEW_KEY = 1;
constexpr ULONG REG_OPENED_EXISTING_KEY = 2;

}  // namespace ntbox::nt
