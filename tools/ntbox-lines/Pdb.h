// A clang -gcodeview driver's debug information: the PDB its image names (the CodeView entry of its
// debug directory), read with LLVM's native PDB reader into the records --dump prints.
#pragma once
#include <llvm/Object/COFF.h>
#include <llvm/Support/MemoryBuffer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ntbox::lines {

struct PdbFunction {
  std::uint64_t low = 0, high = 0;  // at the image's preferred base
  std::string name, parameters;
  unsigned line = 0, file = ~0u;  // its first line (a PDB records no declaration line)
};

struct PdbRow {
  std::uint64_t address = 0;
  unsigned line = 0, file = 0;
};

struct PdbVariable {
  std::uint64_t functionLow = 0;
  char kind = 'L';  // P: parameter, L: local
  std::string name, type;
  std::int64_t frameOffset = 0;  // from the canonical frame address, as DWARF's fbreg
  std::uint64_t size = 0;
};

struct PdbGlobal {
  std::uint64_t address = 0, size = 0;
  std::string name, type;
};

struct PdbMember {
  std::uint64_t offset = 0, size = 0;
  std::string name, type;
};

struct PdbType {
  std::string name;
  std::uint64_t size = 0;
  std::vector<PdbMember> members;
};

struct PdbInfo {
  std::string path;                // the PDB that was read
  std::vector<std::string> files;  // source files, by index
  std::vector<PdbFunction> functions;
  std::vector<PdbRow> rows;  // sorted by address
  std::vector<PdbVariable> variables;
  std::vector<PdbGlobal> globals;
  std::vector<PdbType> types;
};

// A file's bytes; a /proc/self/fd/N path is read through descriptor N itself (a confined server
// hands files open: reopening one by that path would be checked against the sandbox by the
// file's own path).
std::unique_ptr<llvm::MemoryBuffer> ReadInput(const std::string& path);

// A PDB named on the command line (--pdb), and the name it is recorded under (--pdb-name).
struct OpenPdb {
  std::string path;
  std::string name;
};

// The PDB of image: the one handed over when there is one, else where its CodeView entry says,
// else by that file name beside the image and in searchPath's folders. Nothing when there is none,
// when it does not match the image (its GUID and age) or cannot be read.
std::optional<PdbInfo> ReadPdb(const llvm::object::COFFObjectFile& image, const std::string& imagePath,
                               const std::vector<std::string>& searchPath, const OpenPdb& handed = {});

}  // namespace ntbox::lines
