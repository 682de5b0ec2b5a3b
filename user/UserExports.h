// The user-mode DLLs ntbox implements, as export tables: kernel32.dll (with the ntdll functions
// programs import through it) and msvcrt.dll. Program imports bind to these rows by name, case-
// insensitively on the DLL; anything else is refused before the program runs.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "user/CrtData.h"

namespace ntbox::user {

struct UserExport {
  std::string_view dll;
  std::string_view name;
  void* address;
};

std::span<const UserExport> Kernel32Exports();
std::span<const UserExport> MsvcrtExports();
const UserExport* FindUserExport(std::string_view dll, std::string_view name);
// msvcrt's exported variables live per process: the address of the one named, or nullopt.
std::optional<std::uint64_t> CrtDataImport(std::string_view dll, std::string_view name, CrtData& crt);

// The value GetProcessHeap returns (every heap handle names the program's one heap).
constexpr std::uint64_t kProcessHeapHandle = 0x00000000000F0000ull;

}  // namespace ntbox::user
