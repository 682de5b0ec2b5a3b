// An image's resources (the .rsrc directory tree: type → name → language) read from the file,
// without mapping it. ntbox reads two kinds: an event manifest (WEVT_TEMPLATE) and a message table.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "pe/PeImage.h"

namespace ntbox::pe {

constexpr std::uint16_t kResourceMessageTable = 11;  // RT_MESSAGETABLE

// A resource type or name: a number, or a name as the resource compiler stores it (upper case).
using ResourceId = std::variant<std::uint16_t, std::u16string>;

// The data of resource (type, name) in its first language; nullopt when the image has none or the
// tree is malformed (every offset is checked against the directory).
std::optional<std::span<const std::uint8_t>> FindResource(const PeImage& image, const ResourceId& type,
                                                           const ResourceId& name);

}  // namespace ntbox::pe
