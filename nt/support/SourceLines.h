// Function and source line for an address in a driver, where the image carries DWARF (mingw-w64
// and clang builds with -g): what WinDbg shows as `driver!Function+0x1c [file.c @ 42]`. Looked up
// by the ntbox-lines helper beside the executable, in a process of its own (debug information is
// driver input and may be damaged), and remembered per image and address.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ntbox::nt {

struct Module;

struct SourceLine {
  std::string function;            // empty when DWARF names none
  std::uint64_t functionStart = 0;  // its first byte in the loaded image, or 0
  std::string file;
  std::uint32_t line = 0;
};

// Looks up every address of module not yet known in one run of the helper.
void LoadSourceLines(const Module& module, std::span<const std::uint64_t> addresses);
// nullopt without debug information for address (or without the helper).
std::optional<SourceLine> SourceLineAt(const Module& module, std::uint64_t address);

}  // namespace ntbox::nt
