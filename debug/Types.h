// Structure layouts for dt: the kernel's own (ntbox's layouts, the ones drivers are compiled
// against: nt!_DRIVER_OBJECT, nt!_DEVICE_OBJECT, nt!_IRP ...) and a driver's from its DWARF. Member
// types are written as WinDbg writes them: Int2B, Uint4B, Ptr64 _DEVICE_OBJECT, _UNICODE_STRING,
// [28] Ptr64 Void.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ntbox::debug {

struct TypeMember {
  std::uint64_t offset = 0;
  std::string name;
  std::string type;  // WinDbg's notation
  std::uint64_t size = 0;
};

struct TypeLayout {
  std::string name;  // "_DRIVER_OBJECT"
  std::uint64_t size = 0;
  std::vector<TypeMember> members;
};

// ntbox's layout of a kernel structure by its WinDbg name, or nullptr.
const TypeLayout* KernelType(std::string_view name);
// A C type as DWARF names it ("struct _DEVICE_OBJECT *", "unsigned long") in WinDbg's notation.
std::string WinDbgTypeName(std::string_view cType, std::uint64_t size);

}  // namespace ntbox::debug
