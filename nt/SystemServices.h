// The system services as data: one row per Nt* service (its name, implementation and argument
// count), as the export table is for the kernel's exports. Programs reach a row through the
// system-call entry (user/SystemCall), which numbers the rows as the machine's ntdll does; the
// implementations are the kernel's own, the ones drivers' Zw* calls run.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace ntbox::nt {

struct SystemService {
  std::string_view name;  // "NtClose"
  void* function;         // NTAPI, every argument a register-sized word
  std::uint8_t arguments;
};

// The most arguments a service takes (NtCreateUserProcess and its kin stay below).
inline constexpr std::size_t kMaxServiceArguments = 17;

std::span<const SystemService> SystemServices();
const SystemService* FindSystemService(std::string_view name);

// Calls a service's implementation with args[0..arguments) (Windows' x64 convention).
std::uint64_t CallSystemService(const SystemService& service, const std::uint64_t* args);

}  // namespace ntbox::nt
