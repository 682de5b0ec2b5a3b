// Function and source line for an address in a driver, where the image carries DWARF (mingw-w64
// and clang builds with -g): what WinDbg shows as `driver!Function+0x1c [file.c @ 42]`.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace ntbox::nt {

struct Module;

struct SourceLine {
  std::string function;            // empty when DWARF names none
  std::uint64_t functionStart = 0;  // its first byte in the loaded image, or 0
  std::string file;
  std::uint32_t line = 0;
};

// nullopt without debug information (or without libntbox_dwarf.so beside the executable).
std::optional<SourceLine> SourceLineAt(const Module& module, std::uint64_t address);

}  // namespace ntbox::nt
