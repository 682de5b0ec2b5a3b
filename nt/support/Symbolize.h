// Names for addresses in reports: "module+0xoffset" for driver images, the host symbol for
// ntbox's own kernel code ("nt!DbgPrint" style), a bare address otherwise.
#pragma once
#include <cstdint>
#include <string>

namespace ntbox::nt {

std::string Symbolize(std::uint64_t address);
// WinDbg's address style: fffff800`64521020.
std::string WinDbgAddress(std::uint64_t address);

}  // namespace ntbox::nt
