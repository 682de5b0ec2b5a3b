// A validated PE32+ image file: headers checked, every range inside the file. Nothing here
// maps or runs code; PeLoader does that from a PeImage.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pe/PeFormat.h"
#include "support/Result.h"

namespace ntbox::pe {

struct Section {
  std::string name;
  std::uint32_t virtualAddress = 0;
  std::uint32_t virtualSize = 0;  // bytes in memory (at least the raw size)
  std::uint32_t rawOffset = 0;
  std::uint32_t rawSize = 0;  // bytes copied from the file (never past its end)
  std::uint32_t characteristics = 0;
};

class PeImage {
 public:
  // The largest image ntbox maps; Windows' own largest drivers are far below it.
  static constexpr std::uint32_t kMaxImageSize = 512u << 20;
  static constexpr std::uint16_t kMaxSections = 96;

  // Parses and validates; the image keeps its own copy of the file bytes.
  static Result<PeImage> Parse(std::vector<std::uint8_t> file);
  static Result<PeImage> ParseFile(const std::string& path);

  const std::vector<std::uint8_t>& file() const { return file_; }
  const FileHeader& fileHeader() const { return fileHeader_; }
  const OptionalHeader64& optionalHeader() const { return optional_; }
  const std::vector<Section>& sections() const { return sections_; }

  std::uint16_t machine() const { return fileHeader_.Machine; }
  std::uint16_t subsystem() const { return optional_.Subsystem; }
  std::uint64_t preferredBase() const { return optional_.ImageBase; }
  std::uint32_t sizeOfImage() const { return optional_.SizeOfImage; }
  std::uint32_t sizeOfHeaders() const { return optional_.SizeOfHeaders; }
  std::uint32_t entryPointRva() const { return optional_.AddressOfEntryPoint; }
  // The directory, or {0,0} when the image has none.
  DataDirectory directory(DirectoryIndex index) const;
  bool hasRelocations() const { return directory(kDirBaseReloc).Size != 0; }
  bool relocsStripped() const { return (fileHeader_.Characteristics & kFileRelocsStripped) != 0; }
  bool dynamicBase() const { return (optional_.DllCharacteristics & kDllDynamicBase) != 0; }
  std::uint16_t dllCharacteristics() const { return optional_.DllCharacteristics; }

 private:
  std::vector<std::uint8_t> file_;
  FileHeader fileHeader_{};
  OptionalHeader64 optional_{};
  std::vector<Section> sections_;
};

// Human names for messages.
const char* MachineName(std::uint16_t machine);
const char* SubsystemName(std::uint16_t subsystem);

}  // namespace ntbox::pe
