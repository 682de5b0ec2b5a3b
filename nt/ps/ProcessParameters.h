// RTL_USER_PROCESS_PARAMETERS: what a process starts with (its image path, command line, current
// directory, environment, standard handles and console), as the kernel copies them from a
// creator's memory (NtCreateUserProcess) and writes them into a new process's.
#pragma once
#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "nt/Types.h"

namespace ntbox::nt::mm {
class UserSpace;
}

namespace ntbox::nt::ps {

struct ProcessParameters {
  std::u16string currentDirectory;  // ends with a backslash
  std::u16string dllPath, imagePath, commandLine, windowTitle, desktop, shellInfo;
  std::string runtimeData;          // bytes: the CRT's inherited file table (lpReserved2)
  std::u16string environment;       // NAME=value strings, each ended by a NUL, then a NUL
  std::uint64_t consoleHandle = 0;  // a handle to the console, or one of kernelbase's CONSOLE_HANDLE_* values
  ULONG consoleFlags = 0;
  std::array<std::uint64_t, 3> standardHandles{};  // input, output, error
  // STARTUPINFO's dwX .. wShowWindow, as CreateProcess's caller gave them.
  std::array<ULONG, 9> startup{};
};

// Copies a creator's parameters (normalized or not) from its memory; STATUS_ACCESS_VIOLATION for
// a bad pointer, STATUS_INVALID_PARAMETER for lengths past their block.
std::expected<ProcessParameters, NTSTATUS> CaptureProcessParameters(const void* parameters);

// Writes parameters, normalized, into a process's user space (one block, as ntdll frees it);
// returns its address, 0 when the space is full.
std::uint64_t WriteProcessParameters(mm::UserSpace& space, const ProcessParameters& parameters);

}  // namespace ntbox::nt::ps
