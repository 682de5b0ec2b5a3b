// Copies to or from memory that may not be mapped (a process's user buffers): a fault inside
// the copy returns false instead of stopping anything, as the Windows I/O manager's probes and
// copies under __try do. The trap handler recognizes the copy loop and resumes at its exit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntbox::cpu {

bool SafeCopy(void* destination, const void* source, std::size_t size);
// Whether the byte at address can be read (write: and written, by an atomic `lock or` of zero that
// leaves it as it is whatever another thread does meanwhile): a probe's touch of one page.
bool SafeTouch(const void* address, bool write);
// The 8 bytes at address, read in one load when they can be (a pointer a driver handed in).
bool SafeRead64(const void* address, std::uint64_t& value);
bool SafeWrite64(void* address, std::uint64_t value);
// True (and rip moved to the recovery point) when rip faulted inside SafeCopy.
bool RecoverSafeCopyFault(std::uint64_t& rip, std::uint64_t& rax);

}  // namespace ntbox::cpu
