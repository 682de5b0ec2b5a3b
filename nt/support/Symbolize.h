// Names for addresses in reports: "module+0xoffset" for driver images, the host symbol for
// ntbox's own kernel code ("nt!DbgPrint" style), a bare address otherwise.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nt/support/SourceLines.h"

namespace ntbox::nt {

std::string Symbolize(std::uint64_t address);
// "module!Function+0x1c", without the offset at the routine's first byte, as WinDbg writes it.
std::string SymbolText(std::string_view module, std::string_view function, std::uint64_t offset);
// WinDbg's address style: fffff800`64521020.
std::string WinDbgAddress(std::uint64_t address);

// A frame of a program (an address in its images; its process's PEB lists them): its symbol
// ("ioctl_app!main+0x20c") and its source line where the image has DWARF. The machine provides it
// (the debugger's symbols); nullopt without it or outside the program's images.
struct ProgramSymbol {
  std::string symbol;
  std::optional<SourceLine> source;
};
using ProgramFrameNamer = std::optional<ProgramSymbol> (*)(std::uint64_t address, std::uint64_t peb);
void SetProgramFrameNamer(ProgramFrameNamer namer);
std::optional<ProgramSymbol> NameProgramFrame(std::uint64_t address, std::uint64_t peb);

}  // namespace ntbox::nt
