// The machine's address-space split. User-mode buffers of machine processes live below
// MmUserProbeAddress; kernel images, pool and stacks above it. Everything of the host (the ntbox
// binary, its heap, libraries and stacks: PIE images near 0x55.., mappings near 0x7f..) lies
// above the boundary too, so a host address handed in from user mode fails a probe exactly as a
// kernel address does on Windows.
#pragma once
#include <cstdint>

namespace ntbox::nt::mm {

constexpr std::uint64_t kSystemRangeStart = 0x0000100000000000ull;      // 16 TiB
constexpr std::uint64_t kUserProbeAddress = kSystemRangeStart - 0x10000;  // as Windows: 64 KiB gap
constexpr std::uint64_t kHighestUserAddress = kUserProbeAddress - 1;
// Relocatable driver images are placed here (the "fffff800`..." of this machine).
constexpr std::uint64_t kSystemImageStart = 0x0000200000000000ull;
constexpr std::uint64_t kSystemImageEnd = 0x0000210000000000ull;

}  // namespace ntbox::nt::mm
