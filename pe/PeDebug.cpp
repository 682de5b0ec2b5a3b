#include "pe/PeDebug.h"

#include "pe/PeTables.h"

#include <cstring>
#include <filesystem>

namespace ntbox::pe {
namespace {

// IMAGE_DEBUG_DIRECTORY.
struct DebugDirectoryEntry {
  std::uint32_t Characteristics;
  std::uint32_t TimeDateStamp;
  std::uint16_t MajorVersion;
  std::uint16_t MinorVersion;
  std::uint32_t Type;
  std::uint32_t SizeOfData;
  std::uint32_t AddressOfRawData;
  std::uint32_t PointerToRawData;  // a file offset
};
static_assert(sizeof(DebugDirectoryEntry) == 28);

constexpr std::uint32_t kDebugTypeCodeView = 2;
constexpr std::uint32_t kRsdsSignature = 0x53445352;  // "RSDS"
constexpr std::size_t kRsdsHeader = 4 + 16 + 4;     // signature, GUID, age; the path follows

}  // namespace

std::optional<PdbReference> FindPdbReference(const PeImage& image) {
  const DataDirectory dir = image.directory(kDirDebug);
  if (!dir.Size || dir.Size > 64 * sizeof(DebugDirectoryEntry)) return std::nullopt;
  const auto entries = BytesAtRva(image, dir.VirtualAddress, dir.Size);
  const auto& file = image.file();
  if (!entries) return std::nullopt;
  for (std::uint32_t i = 0; i + sizeof(DebugDirectoryEntry) <= dir.Size; i += sizeof(DebugDirectoryEntry)) {
    DebugDirectoryEntry entry{};
    std::memcpy(&entry, entries->data() + i, sizeof entry);
    if (entry.Type != kDebugTypeCodeView || entry.SizeOfData <= kRsdsHeader || entry.SizeOfData > 4096) continue;
    if (entry.PointerToRawData > file.size() || entry.SizeOfData > file.size() - entry.PointerToRawData) continue;
    const std::uint8_t* data = file.data() + entry.PointerToRawData;
    std::uint32_t signature = 0;
    std::memcpy(&signature, data, 4);
    if (signature != kRsdsSignature) continue;
    PdbReference pdb;
    std::memcpy(pdb.guid.data(), data + 4, 16);
    std::memcpy(&pdb.age, data + 20, 4);
    const char* path = reinterpret_cast<const char*>(data + kRsdsHeader);
    pdb.path.assign(path, strnlen(path, entry.SizeOfData - kRsdsHeader));
    if (pdb.path.empty()) continue;
    return pdb;
  }
  return std::nullopt;
}

std::vector<std::string> PdbCandidates(const PdbReference& pdb, const std::string& imagePath,
                                       const std::vector<std::string>& searchPath) {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (pdb.path.starts_with('/')) candidates.push_back(pdb.path);
  std::string fileName = pdb.path;
  if (const auto slash = fileName.find_last_of("/\\"); slash != std::string::npos) fileName.erase(0, slash + 1);
  if (fileName.empty()) return candidates;
  if (!imagePath.empty()) candidates.push_back((fs::path(imagePath).parent_path() / fileName).string());
  for (const auto& folder : searchPath) candidates.push_back((fs::path(folder) / fileName).string());
  return candidates;
}

std::vector<std::string> ImageAndPdb(const std::string& imagePath) {
  std::vector<std::string> files{imagePath};
  auto image = PeImage::ParseFile(imagePath);
  const auto reference = image ? FindPdbReference(*image) : std::nullopt;
  if (!reference) return files;
  for (const auto& candidate : PdbCandidates(*reference, imagePath)) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) {
      files.push_back(candidate);
      break;
    }
  }
  return files;
}

}  // namespace ntbox::pe
