// The one entry point of libntbox_dwarf.so, the only part of ntbox linked with LLVM: the function
// and source line at an address of a PE image, from the DWARF that mingw-w64 and clang put in it.
// Reports load the library on demand (dlopen), so no command pays LLVM's start-up cost.
#pragma once
#include <cstddef>
#include <cstdint>

extern "C" {

// address is a virtual address at the image's preferred base. Returns 1 and fills the outputs
// (NUL-terminated, truncated to their sizes) when the image's DWARF covers address, else 0.
int ntbox_dwarf_line(const char* imagePath, std::uint64_t address, char* function, std::size_t functionSize,
                     char* file, std::size_t fileSize, std::uint32_t* line, std::uint64_t* functionStart);
}
