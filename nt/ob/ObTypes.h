// Object manager layouts shared with drivers (x64 WDK).
#pragma once
#include <cstddef>

#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

struct OBJECT_ATTRIBUTES {
  ULONG Length;
  HANDLE RootDirectory;
  UNICODE_STRING* ObjectName;
  ULONG Attributes;
  PVOID SecurityDescriptor;
  PVOID SecurityQualityOfService;
};
static_assert(sizeof(OBJECT_ATTRIBUTES) == 0x30);
static_assert(offsetof(OBJECT_ATTRIBUTES, RootDirectory) == 0x8);
static_assert(offsetof(OBJECT_ATTRIBUTES, ObjectName) == 0x10);
static_assert(offsetof(OBJECT_ATTRIBUTES, Attributes) == 0x18);
static_assert(offsetof(OBJECT_ATTRIBUTES, SecurityDescriptor) == 0x20);

constexpr ULONG OBJ_INHERIT = 0x2;
constexpr ULONG OBJ_CASE_INSENSITIVE = 0x40;
constexpr ULONG OBJ_PERMANENT = 0x10;
constexpr ULONG OBJ_OPENIF = 0x80;
constexpr ULONG OBJ_KERNEL_HANDLE = 0x200;

}  // namespace ntbox::nt
