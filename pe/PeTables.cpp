#include "pe/PeTables.h"

#include <cstring>

namespace ntbox::pe {

std::optional<std::span<const std::uint8_t>> BytesAtRva(const PeImage& image, std::uint32_t rva, std::size_t size) {
  for (const Section& s : image.sections()) {
    if (rva < s.virtualAddress) continue;
    const std::uint64_t offset = rva - s.virtualAddress;
    if (offset + size > s.rawSize) continue;
    return std::span<const std::uint8_t>(image.file()).subspan(s.rawOffset + offset, size);
  }
  if (static_cast<std::uint64_t>(rva) + size <= image.sizeOfHeaders() && rva + size <= image.file().size()) {
    return std::span<const std::uint8_t>(image.file()).subspan(rva, size);
  }
  return std::nullopt;
}

namespace {

template <class T>
std::optional<T> Read(const PeImage& image, std::uint32_t rva) {
  const auto bytes = BytesAtRva(image, rva, sizeof(T));
  if (!bytes) return std::nullopt;
  T value;
  std::memcpy(&value, bytes->data(), sizeof(T));
  return value;
}

std::optional<std::string> StringAtRva(const PeImage& image, std::uint32_t rva) {
  constexpr std::size_t kMaxName = 4096;
  std::string out;
  for (std::size_t i = 0; i < kMaxName; ++i) {
    const auto c = Read<char>(image, rva + static_cast<std::uint32_t>(i));
    if (!c) return std::nullopt;
    if (*c == '\0') return out;
    out += *c;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<ExportEntry>> ReadExports(const PeImage& image) {
  std::vector<ExportEntry> out;
  const DataDirectory dir = image.directory(kDirExport);
  if (dir.Size == 0) return out;
  const auto ed = Read<ExportDirectory>(image, dir.VirtualAddress);
  if (!ed) return Fail("the export directory is outside the image's data");
  if (ed->NumberOfNames > ed->NumberOfFunctions || ed->NumberOfFunctions > 0x10000) {
    return Fail("the export directory's counts are inconsistent");
  }
  out.reserve(ed->NumberOfNames);
  for (std::uint32_t i = 0; i < ed->NumberOfNames; ++i) {
    const auto nameRva = Read<std::uint32_t>(image, ed->AddressOfNames + 4 * i);
    const auto index = Read<std::uint16_t>(image, ed->AddressOfNameOrdinals + 2 * i);
    if (!nameRva || !index || *index >= ed->NumberOfFunctions) return Fail("an export's name or ordinal is corrupt");
    const auto rva = Read<std::uint32_t>(image, ed->AddressOfFunctions + 4 * *index);
    auto name = StringAtRva(image, *nameRva);
    if (!rva || !name) return Fail("an export's address or name is corrupt");
    const bool forwarder = *rva >= dir.VirtualAddress && *rva < dir.VirtualAddress + dir.Size;
    out.push_back({std::move(*name), static_cast<std::uint16_t>(ed->Base + *index), *rva, forwarder});
  }
  return out;
}

Result<std::vector<std::string>> ImportedDlls(const PeImage& image) {
  std::vector<std::string> out;
  const DataDirectory dir = image.directory(kDirImport);
  if (dir.Size == 0) return out;
  constexpr std::size_t kMaxDlls = 4096;
  for (std::uint32_t rva = dir.VirtualAddress; out.size() < kMaxDlls; rva += sizeof(ImportDescriptor)) {
    const auto d = Read<ImportDescriptor>(image, rva);
    if (!d) return Fail("the import directory is outside the image's data");
    if (d->Name == 0 && d->FirstThunk == 0) return out;
    auto name = StringAtRva(image, d->Name);
    if (!name) return Fail("an imported DLL's name is outside the image's data");
    out.push_back(std::move(*name));
  }
  return Fail("the import directory does not end");
}

}  // namespace ntbox::pe
