// Copies to or from memory that may not be mapped (a process's user buffers): a fault inside
// the copy returns false instead of stopping anything, as the Windows I/O manager's probes and
// copies under __try do. The trap handler recognizes the copy loop and resumes at its exit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntbox::cpu {

bool SafeCopy(void* destination, const void* source, std::size_t size);
// True (and rip moved to the recovery point) when rip faulted inside SafeCopy.
bool RecoverSafeCopyFault(std::uint64_t& rip, std::uint64_t& rax);

}  // namespace ntbox::cpu
