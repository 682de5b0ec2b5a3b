#include "nt/support/SourceLines.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "nt/Kernel.h"
#include "support/dwarf/DwarfLines.h"

namespace ntbox::nt {
namespace {

using LineFunction = decltype(&ntbox_dwarf_line);

// libntbox_dwarf.so from the build's lib/ folder beside bin/, loaded the first time a report asks:
// LLVM costs ~15 ms to load, which no command that makes no report should pay.
LineFunction Lookup() {
  static LineFunction function = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    void* library = nullptr;
    if (!ec) library = dlopen((self.parent_path().parent_path() / "lib" / "libntbox_dwarf.so").c_str(), RTLD_NOW);
    if (!library) library = dlopen("libntbox_dwarf.so", RTLD_NOW);
    if (library) function = reinterpret_cast<LineFunction>(dlsym(library, "ntbox_dwarf_line"));
  });
  return function;
}

}  // namespace

std::optional<SourceLine> SourceLineAt(const Module& module, std::uint64_t address) {
  if (!module.image || !module.image->contains(address)) return std::nullopt;
  const LineFunction line = Lookup();
  if (!line) return std::nullopt;
  // DWARF addresses are virtual addresses at the preferred base.
  const std::uint64_t preferred = module.image->pe().preferredBase();
  char function[256];
  char file[512];
  SourceLine out;
  std::uint64_t start = 0;
  if (!line(module.path.c_str(), preferred + (address - module.image->base()), function, sizeof function, file,
            sizeof file, &out.line, &start)) {
    return std::nullopt;
  }
  out.function = function;
  out.file = file;
  if (start >= preferred) out.functionStart = module.image->base() + (start - preferred);
  return out;
}

}  // namespace ntbox::nt
