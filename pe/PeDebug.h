// The PDB an image names in its debug directory (a CodeView RSDS entry: what clang -gcodeview and
// Microsoft's linker write), and where a debugger looks for it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pe/PeImage.h"

namespace ntbox::pe {

struct PdbReference {
  std::string path;  // as recorded: a host path, or a Windows one (C:\build\x.pdb)
  std::array<std::uint8_t, 16> guid{};
  std::uint32_t age = 0;
};

// The image's CodeView PDB 7.0 entry; nullopt when it has none or the entry is malformed.
std::optional<PdbReference> FindPdbReference(const PeImage& image);

// Where the PDB may be, in the order WinDbg tries: the recorded path (when it is a host one),
// the PDB's file name beside the image, then in each search folder.
std::vector<std::string> PdbCandidates(const PdbReference& pdb, const std::string& imagePath,
                                       const std::vector<std::string>& searchPath = {});

// For a process about to hand a driver image over: the image's path, then the first candidate of
// the PDB it names that is a regular file here (none for an image that names none, or is not one).
std::vector<std::string> ImageAndPdb(const std::string& imagePath);

}  // namespace ntbox::pe
