// The ntbox-lines helper (tools/ntbox-lines): DWARF read by LLVM in a process of its own, since
// debug information is driver input and a parser that crashes or hangs on it must not take the
// kernel with it.
#pragma once
#include <string>
#include <vector>

namespace ntbox::nt {

// Runs the helper beside the executable with args; its standard output, or empty when it is
// missing, failed, crashed or ran past its deadline (10 s).
std::string RunSymbolHelper(const std::vector<std::string>& args);

// Where the helper is (beside the executable), and the environment it starts with: a sandboxed
// process allows execve with this very array only (machine/Sandbox.h).
std::string SymbolHelperPath();
char** SymbolHelperEnvironment();

}  // namespace ntbox::nt
