#include "pe/CoffSymbols.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace ntbox::pe {
namespace {

constexpr std::size_t kSymbolSize = 18;  // IMAGE_SYMBOL
constexpr std::uint16_t kFunctionType = 0x20;  // DTYPE_FUNCTION << 4
constexpr std::uint8_t kExternal = 2, kStatic = 3;

template <class T>
T Read(const std::vector<std::uint8_t>& file, std::size_t offset) {
  T value{};
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

}  // namespace

std::string FunctionName(const std::string& symbol) {
  if (symbol.rfind("_Z", 0) != 0) return symbol;
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(symbol.c_str(), nullptr, nullptr, &status),
                                                  &std::free);
  if (status != 0 || !out) return symbol;
  std::string name(out.get());
  // The qualified name without its parameters (and cv-qualifiers after them), as WinDbg shows a
  // C++ function: the parameter list is the last top-level parenthesis.
  const std::size_t close = name.rfind(')');
  if (close == std::string::npos) return name;
  int depth = 0;
  for (std::size_t i = close + 1; i-- > 0;) {
    if (name[i] == ')') ++depth;
    if (name[i] == '(' && --depth == 0) {
      if (i > 0) name.resize(i);
      break;
    }
  }
  return name;
}

std::vector<FunctionSymbol> FunctionSymbols(const PeImage& image) {
  const auto& file = image.file();
  const std::uint64_t table = image.fileHeader().PointerToSymbolTable;
  const std::uint64_t count = image.fileHeader().NumberOfSymbols;
  std::vector<FunctionSymbol> out;
  if (table == 0 || count == 0 || table + count * kSymbolSize + 4 > file.size()) return out;
  const std::uint64_t strings = table + count * kSymbolSize;
  const std::uint32_t stringsSize = Read<std::uint32_t>(file, strings);
  if (strings + stringsSize > file.size()) return out;
  const auto& sections = image.sections();
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t at = table + i * kSymbolSize;
    const auto value = Read<std::uint32_t>(file, at + 8);
    const auto section = Read<std::int16_t>(file, at + 12);
    const auto type = Read<std::uint16_t>(file, at + 14);
    const auto storage = file[at + 16];
    const auto aux = file[at + 17];
    if (type == kFunctionType && (storage == kExternal || storage == kStatic) && section > 0 &&
        static_cast<std::size_t>(section) <= sections.size()) {
      std::string name;
      if (Read<std::uint32_t>(file, at) == 0) {
        const std::uint32_t offset = Read<std::uint32_t>(file, at + 4);
        if (offset >= 4 && offset < stringsSize) {
          const char* s = reinterpret_cast<const char*>(file.data() + strings + offset);
          name.assign(s, strnlen(s, stringsSize - offset));
        }
      } else {
        const char* s = reinterpret_cast<const char*>(file.data() + at);
        name.assign(s, strnlen(s, 8));
      }
      if (!name.empty()) out.push_back({sections[section - 1].virtualAddress + value, FunctionName(name)});
    }
    i += aux;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.rva < b.rva; });
  return out;
}

const FunctionSymbol* FunctionAt(const std::vector<FunctionSymbol>& symbols, std::uint32_t rva) {
  auto it = std::upper_bound(symbols.begin(), symbols.end(), rva,
                             [](std::uint32_t r, const FunctionSymbol& s) { return r < s.rva; });
  if (it == symbols.begin()) return nullptr;
  return &*std::prev(it);
}

}  // namespace ntbox::pe
