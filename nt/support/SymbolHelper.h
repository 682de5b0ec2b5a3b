// The ntbox-lines helper (tools/ntbox-lines): DWARF read by LLVM in a process of its own, since
// debug information is driver input and a parser that crashes or hangs on it must not take the
// kernel with it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/UniqueFd.h"

namespace ntbox::nt {

// The helper's --dump of the image at a host path (a loaded driver's, a program's, one found in
// the debugger's symbol path): its DWARF, or the PDB it names, looked for beside it and in
// searchPath's folders. Files are read as the calling thread may (support/HostFiles.h): a
// confined server reaches the user's through the client of the command at hand.
std::string DumpDebugInfo(const std::string& imagePath, const std::vector<std::string>& searchPath);
// The helper's lines for addresses (at the image's preferred base) in the image at a host path:
// "ADDRESS \t LINE [\t START \t FUNCTION \t FILE]" each.
std::string LookUpLines(const std::string& imagePath, const std::vector<std::uint64_t>& addresses);
// Both give the helper's standard output, or empty when it is missing, failed, crashed or ran
// past its deadline (10 s).

// The first of a PDB's candidate paths (pe::PdbCandidates) that opens, as the calling thread may
// (support/HostFiles.h), as a regular file (the name comes from the image, which may point at a
// FIFO or a device); its descriptor and path.
struct OpenedPdb {
  UniqueFd file;
  std::string path;
};
std::optional<OpenedPdb> OpenPdb(const std::vector<std::string>& candidates);

// Where the helper is (beside the executable), and the environment it starts with: a sandboxed
// process allows execve with this very array only (machine/Sandbox.h).
std::string SymbolHelperPath();
char** SymbolHelperEnvironment();

}  // namespace ntbox::nt
