// Function names from an image's COFF symbol table (mingw-w64 keeps one unless the image is
// stripped), for reports: "driver!TimerDpc+0x1c" instead of "driver+0x10b8".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pe/PeImage.h"

namespace ntbox::pe {

struct FunctionSymbol {
  std::uint32_t rva = 0;
  std::string name;
};

// A symbol as reports name the function: a C++ (Itanium-mangled) name demangled without its
// parameters ("_ZL13ReverseBufferPhm" -> "ReverseBuffer"), any other as it is.
std::string FunctionName(const std::string& symbol);

// Sorted by rva, names as FunctionName gives them; empty when the image has no (or a malformed)
// symbol table.
std::vector<FunctionSymbol> FunctionSymbols(const PeImage& image);

// The function containing rva, or nullptr.
const FunctionSymbol* FunctionAt(const std::vector<FunctionSymbol>& symbols, std::uint32_t rva);

}  // namespace ntbox::pe
