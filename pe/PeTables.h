// An image's export and import tables read from the file, without mapping it.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::pe {

struct ExportEntry {
  std::string name;  // empty for an export by ordinal only
  std::uint16_t ordinal = 0;
  std::uint32_t rva = 0;
  bool forwarder = false;  // rva then points at "DLL.Function"
};

// Every named export, in the table's (sorted) order; an error for a malformed table.
Result<std::vector<ExportEntry>> ReadExports(const PeImage& image);
// The DLLs the image imports from, in the table's order; an error for a malformed table.
Result<std::vector<std::string>> ImportedDlls(const PeImage& image);

// The file bytes that back [rva, rva + size) in the mapped image; nullopt when the range is not
// wholly in one section's file data (uninitialized data is not in the file).
std::optional<std::span<const std::uint8_t>> BytesAtRva(const PeImage& image, std::uint32_t rva, std::size_t size);

}  // namespace ntbox::pe
