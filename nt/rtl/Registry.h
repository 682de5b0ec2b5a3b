// The Rtl registry helpers drivers use over the Zw key services: RtlQueryRegistryValues with its
// table, RtlWriteRegistryValue, RtlDeleteRegistryValue, RtlCheckRegistryKey, RtlCreateRegistryKey.
#pragma once
#include <cstddef>

#include "nt/Types.h"

namespace ntbox::nt {

// RelativeTo: a base key, or a handle, and whether the key may be absent.
enum : ULONG {
  RTL_REGISTRY_ABSOLUTE = 0,
  RTL_REGISTRY_SERVICES = 1,
  RTL_REGISTRY_CONTROL = 2,
  RTL_REGISTRY_WINDOWS_NT = 3,
  RTL_REGISTRY_DEVICEMAP = 4,
  RTL_REGISTRY_USER = 5,
  RTL_REGISTRY_MAXIMUM = 6,
  RTL_REGISTRY_HANDLE = 0x40000000,
  RTL_REGISTRY_OPTIONAL = 0x80000000,
};

// RTL_QUERY_REGISTRY_TABLE.Flags.
enum : ULONG {
  RTL_QUERY_REGISTRY_SUBKEY = 0x1,
  RTL_QUERY_REGISTRY_TOPKEY = 0x2,
  RTL_QUERY_REGISTRY_REQUIRED = 0x4,
  RTL_QUERY_REGISTRY_NOVALUE = 0x8,
  RTL_QUERY_REGISTRY_NOEXPAND = 0x10,
  RTL_QUERY_REGISTRY_DIRECT = 0x20,
  RTL_QUERY_REGISTRY_DELETE = 0x40,
  RTL_QUERY_REGISTRY_NOSTRING = 0x80,
  RTL_QUERY_REGISTRY_TYPECHECK = 0x100,
};
constexpr ULONG RTL_QUERY_REGISTRY_TYPECHECK_SHIFT = 24;

// Registry value types.
enum : ULONG {
  REG_NONE = 0,
  REG_SZ = 1,
  REG_EXPAND_SZ = 2,
  REG_BINARY = 3,
  REG_DWORD = 4,
  REG_MULTI_SZ = 7,
  REG_QWORD = 11,
};

using PRTL_QUERY_REGISTRY_ROUTINE = NTSTATUS(NTAPI*)(PWSTR ValueName, ULONG ValueType, PVOID ValueData,
                                                     ULONG ValueLength, PVOID Context, PVOID EntryContext);

struct RTL_QUERY_REGISTRY_TABLE {
  PRTL_QUERY_REGISTRY_ROUTINE QueryRoutine;
  ULONG Flags;
  PWSTR Name;
  PVOID EntryContext;
  ULONG DefaultType;
  PVOID DefaultData;
  ULONG DefaultLength;
};
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, Flags) == 0x08);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, Name) == 0x10);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, EntryContext) == 0x18);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultType) == 0x20);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultData) == 0x28);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultLength) == 0x30);
static_assert(sizeof(RTL_QUERY_REGISTRY_TABLE) == 0x38);

NTSTATUS NTAPI RtlQueryRegistryValues(ULONG RelativeTo, PCWSTR Path, RTL_QUERY_REGISTRY_TABLE* QueryTable,
                                      PVOID Context, PVOID Environment);
NTSTATUS NTAPI RtlQueryRegistryValuesEx(ULONG RelativeTo, PCWSTR Path, RTL_QUERY_REGISTRY_TABLE* QueryTable,
                                        PVOID Context, PVOID Environment);
NTSTATUS NTAPI RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName, ULONG ValueType,
                                     PVOID ValueData, ULONG ValueLength);
NTSTATUS NTAPI RtlDeleteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName);
NTSTATUS NTAPI RtlCheckRegistryKey(ULONG RelativeTo, PWSTR Path);
NTSTATUS NTAPI RtlCreateRegistryKey(ULONG RelativeTo, PWSTR Path);

}  // namespace ntbox::nt
