#include "pe/PeResources.h"

#include <cstring>

#include "pe/PeTables.h"

namespace ntbox::pe {

namespace {

// IMAGE_RESOURCE_DIRECTORY and its entries, as the PE format lays them out.
struct ResourceDirectory {
  std::uint32_t Characteristics;
  std::uint32_t TimeDateStamp;
  std::uint16_t MajorVersion;
  std::uint16_t MinorVersion;
  std::uint16_t NumberOfNamedEntries;
  std::uint16_t NumberOfIdEntries;
};
static_assert(sizeof(ResourceDirectory) == 16);

struct ResourceDirectoryEntry {
  std::uint32_t Name;          // high bit: offset of a counted UTF-16 name; else an id
  std::uint32_t OffsetToData;  // high bit: offset of a subdirectory; else of a data entry
};
static_assert(sizeof(ResourceDirectoryEntry) == 8);

struct ResourceDataEntry {
  std::uint32_t OffsetToData;  // an RVA, unlike the tree's offsets
  std::uint32_t Size;
  std::uint32_t CodePage;
  std::uint32_t Reserved;
};
static_assert(sizeof(ResourceDataEntry) == 16);

constexpr std::uint32_t kHighBit = 0x80000000u;

class Tree {
 public:
  Tree(const PeImage& image, DataDirectory dir) : image_(image), dir_(dir) {}

  // The offset (within the tree) of the entry's target under directory at, matching id; when id
  // is empty, the first entry's.
  std::optional<std::uint32_t> Child(std::uint32_t at, const ResourceId* id) const {
    const auto d = Read<ResourceDirectory>(at);
    if (!d) return std::nullopt;
    const std::uint32_t count = std::uint32_t{d->NumberOfNamedEntries} + d->NumberOfIdEntries;
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto e = Read<ResourceDirectoryEntry>(at + sizeof(ResourceDirectory) + i * sizeof(ResourceDirectoryEntry));
      if (!e) return std::nullopt;
      if (!id || Matches(e->Name, *id)) return e->OffsetToData;
    }
    return std::nullopt;
  }

  std::optional<std::span<const std::uint8_t>> Data(std::uint32_t at) const {
    const auto entry = Read<ResourceDataEntry>(at);
    if (!entry) return std::nullopt;
    return BytesAtRva(image_, entry->OffsetToData, entry->Size);
  }

 private:
  template <class T>
  std::optional<T> Read(std::uint64_t offset) const {
    if (offset + sizeof(T) > dir_.Size) return std::nullopt;
    const auto bytes = BytesAtRva(image_, dir_.VirtualAddress + static_cast<std::uint32_t>(offset), sizeof(T));
    if (!bytes) return std::nullopt;
    T value;
    std::memcpy(&value, bytes->data(), sizeof(T));
    return value;
  }

  bool Matches(std::uint32_t name, const ResourceId& id) const {
    if (const auto* number = std::get_if<std::uint16_t>(&id)) return !(name & kHighBit) && name == *number;
    if (!(name & kHighBit)) return false;
    const std::uint32_t at = name & ~kHighBit;
    const auto length = Read<std::uint16_t>(at);
    const auto& wanted = std::get<std::u16string>(id);
    if (!length || *length != wanted.size()) return false;
    for (std::uint16_t i = 0; i < *length; ++i) {
      const auto c = Read<char16_t>(at + 2 + 2u * i);
      if (!c || *c != wanted[i]) return false;
    }
    return true;
  }

  const PeImage& image_;
  DataDirectory dir_;
};

}  // namespace

std::optional<std::span<const std::uint8_t>> FindResource(const PeImage& image, const ResourceId& type,
                                                           const ResourceId& name) {
  const DataDirectory dir = image.directory(kDirResource);
  if (dir.Size == 0) return std::nullopt;
  const Tree tree(image, dir);
  // Three levels: type and name lead to directories, the language (the first one present) to data.
  const ResourceId* path[2] = {&type, &name};
  std::uint32_t at = 0;
  for (const ResourceId* id : path) {
    const auto next = tree.Child(at, id);
    if (!next || !(*next & kHighBit)) return std::nullopt;
    at = *next & ~kHighBit;
  }
  // The language level's entry names data, not another directory.
  const auto leaf = tree.Child(at, nullptr);
  if (!leaf || (*leaf & kHighBit)) return std::nullopt;
  return tree.Data(*leaf);
}

}  // namespace ntbox::pe
