// Names for addresses in reports: "module+0xoffset" for driver images, the host symbol for
// ntbox's own kernel code ("nt!DbgPrint" style), a bare address otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ntbox::nt {

std::string Symbolize(std::uint64_t address);
// "module!Function+0x1c", without the offset at the routine's first byte, as WinDbg writes it.
std::string SymbolText(std::string_view module, std::string_view function, std::uint64_t offset);
// WinDbg's address style: fffff800`64521020.
std::string WinDbgAddress(std::uint64_t address);

}  // namespace ntbox::nt
