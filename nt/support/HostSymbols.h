// The kernel's own code by name: ntbox's functions from its executable's symbol table (static ones
// included, which the dynamic symbols lack), as a report names a frame of the kernel ("nt!Name").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace ntbox::nt {

struct HostSymbol {
  std::string name;     // as a kernel frame is named: "IofCallDriver", "Processors::RunDpcs"
  std::uint64_t start;  // the function's first byte
  // Machinery between kernel routines (std::function's invokers, FunctionRef's thunks, the
  // driver-call trampoline, the raise of a bugcheck): a stack shows the routines around it, not it.
  bool plumbing = false;
};

// The function of ntbox's executable that contains address; nullopt outside it or between
// functions. The symbol table is read once, on first use (not in a signal handler).
std::optional<HostSymbol> HostSymbolAt(std::uint64_t address);

// A demangled C++ name as a kernel frame is named: parameters, templates' arguments and the
// lower-case namespaces (ntbox::nt::ke::) dropped, a lambda named by the function it is in.
std::string KernelFrameName(std::string_view demangled);

// The address range of ntbox's executable: the code of the kernel the debugger calls nt.
std::pair<std::uint64_t, std::uint64_t> HostImageRange();

}  // namespace ntbox::nt
