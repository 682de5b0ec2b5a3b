#include "pe/PeLoader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "nt/Status.h"

namespace ntbox::pe {
namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t kImageAlignment = 0x10000;  // Windows places images on 64 KiB boundaries
constexpr std::size_t kMaxImportName = 512;

std::uint64_t AlignUp(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }

bool InRange(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

// Reads a NUL-terminated string at rva inside the mapped image, or nullopt if it runs out.
std::optional<std::string_view> StringAt(const std::uint8_t* image, std::uint32_t imageSize,
                                         std::uint32_t rva) {
  if (rva == 0 || rva >= imageSize) return std::nullopt;
  const auto* start = reinterpret_cast<const char*>(image + rva);
  const std::size_t room = std::min<std::size_t>(imageSize - rva, kMaxImportName);
  const void* nul = std::memchr(start, 0, room);
  if (!nul) return std::nullopt;
  return std::string_view(start, static_cast<const char*>(nul) - start);
}

std::unexpected<Error> BadImage(std::string message) {
  return Fail(std::move(message), nt::STATUS_INVALID_IMAGE_FORMAT, 193);
}

void* MapAt(std::uint64_t address, std::uint64_t size) {
  void* p = mmap(reinterpret_cast<void*>(address), size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (reinterpret_cast<std::uint64_t>(p) != address) {  // kernels without FIXED_NOREPLACE
    munmap(p, size);
    return nullptr;
  }
  return p;
}

Result<void> ApplyRelocations(std::uint8_t* image, const PeImage& pe, std::int64_t delta) {
  const DataDirectory dir = pe.directory(kDirBaseReloc);
  const std::uint32_t imageSize = pe.sizeOfImage();
  std::uint32_t offset = 0;
  while (offset + sizeof(BaseRelocationBlock) <= dir.Size) {
    BaseRelocationBlock block;
    std::memcpy(&block, image + dir.VirtualAddress + offset, sizeof(block));
    if (block.SizeOfBlock < sizeof(block) || block.SizeOfBlock > dir.Size - offset ||
        (block.SizeOfBlock & 1) != 0) {
      return BadImage(fmt::format("corrupt relocations: block at {:#x} has size {:#x}",
                                  dir.VirtualAddress + offset, block.SizeOfBlock));
    }
    const std::uint32_t count = (block.SizeOfBlock - sizeof(block)) / 2;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint16_t entry;
      std::memcpy(&entry, image + dir.VirtualAddress + offset + sizeof(block) + 2 * i, 2);
      const std::uint16_t type = entry >> 12;
      const std::uint64_t target = std::uint64_t{block.VirtualAddress} + (entry & 0xFFF);
      switch (type) {
        case kRelAbsolute:
          break;
        case kRelDir64: {
          if (!InRange(target, 8, imageSize)) {
            return BadImage(fmt::format("corrupt relocations: fixup at {:#x} lies outside the "
                                        "image",
                                        target));
          }
          std::uint64_t v;
          std::memcpy(&v, image + target, 8);
          v += static_cast<std::uint64_t>(delta);
          std::memcpy(image + target, &v, 8);
          break;
        }
        case kRelHighLow: {
          if (!InRange(target, 4, imageSize)) {
            return BadImage(fmt::format("corrupt relocations: fixup at {:#x} lies outside the "
                                        "image",
                                        target));
          }
          std::uint32_t v;
          std::memcpy(&v, image + target, 4);
          v += static_cast<std::uint32_t>(delta);
          std::memcpy(image + target, &v, 4);
          break;
        }
        default:
          return BadImage(fmt::format("unsupported relocation type {} at {:#x}", type, target));
      }
    }
    offset += block.SizeOfBlock;
  }
  return {};
}

Result<void> BindImports(std::uint8_t* image, const PeImage& pe, const ImportResolver& resolve) {
  const DataDirectory dir = pe.directory(kDirImport);
  if (dir.Size == 0) return {};
  const std::uint32_t imageSize = pe.sizeOfImage();
  std::vector<std::string> missing;
  for (std::uint32_t d = 0;; ++d) {
    const std::uint64_t descOffset = std::uint64_t{dir.VirtualAddress} + d * sizeof(ImportDescriptor);
    if (!InRange(descOffset, sizeof(ImportDescriptor), imageSize)) {
      return BadImage("corrupt imports: the import descriptor table runs past the image");
    }
    ImportDescriptor desc;
    std::memcpy(&desc, image + descOffset, sizeof(desc));
    if (desc.Name == 0 && desc.FirstThunk == 0) break;
    const auto dll = StringAt(image, imageSize, desc.Name);
    if (!dll) {
      return BadImage(fmt::format("corrupt imports: DLL name at {:#x} lies outside the image",
                                  desc.Name));
    }
    const std::uint32_t lookupRva = desc.OriginalFirstThunk ? desc.OriginalFirstThunk : desc.FirstThunk;
    for (std::uint32_t i = 0;; ++i) {
      const std::uint64_t lookupAt = std::uint64_t{lookupRva} + 8ull * i;
      const std::uint64_t iatAt = std::uint64_t{desc.FirstThunk} + 8ull * i;
      if (!InRange(lookupAt, 8, imageSize) || !InRange(iatAt, 8, imageSize)) {
        return BadImage(fmt::format("corrupt imports: the thunk table of {} runs past the image",
                                    *dll));
      }
      std::uint64_t thunk;
      std::memcpy(&thunk, image + lookupAt, 8);
      if (thunk == 0) break;
      ImportRef ref{*dll, {}, std::nullopt};
      std::string label;
      if (thunk & kOrdinalFlag64) {
        ref.ordinal = static_cast<std::uint16_t>(thunk & 0xFFFF);
        label = fmt::format("{}!#{}", *dll, *ref.ordinal);
      } else {
        const auto hintName = static_cast<std::uint32_t>(thunk & 0x7FFFFFFF);
        const auto name = InRange(hintName, 3, imageSize)
                              ? StringAt(image, imageSize, hintName + 2)
                              : std::nullopt;
        if (!name || name->empty()) {
          return BadImage(fmt::format("corrupt imports: import name at {:#x} (from {}) lies "
                                      "outside the image",
                                      hintName, *dll));
        }
        ref.name = *name;
        label = fmt::format("{}!{}", *dll, *name);
      }
      const auto address = resolve ? resolve(ref) : std::nullopt;
      if (!address) {
        missing.push_back(std::move(label));
        continue;
      }
      std::memcpy(image + iatAt, &*address, 8);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Fail(fmt::format("{} unresolved import{}: {}", missing.size(),
                            missing.size() == 1 ? "" : "s", list),
                nt::STATUS_PROCEDURE_NOT_FOUND, 127);
  }
  return {};
}


}  // namespace

int SectionProtection(std::uint32_t characteristics) {
  int prot = 0;
  if (characteristics & kSectionRead) prot |= PROT_READ;
  if (characteristics & kSectionWrite) prot |= PROT_WRITE;
  if (characteristics & kSectionExecute) prot |= PROT_EXEC | PROT_READ;
  return prot;
}

LoadedImage::~LoadedImage() { munmap(reinterpret_cast<void*>(base_), std::uint64_t{size_} + trailer_); }

std::uint64_t LoadedImage::entryPoint() const {
  return pe_.entryPointRva() ? base_ + pe_.entryPointRva() : 0;
}

std::optional<std::uint64_t> LoadedImage::FindExport(std::string_view name) const {
  const DataDirectory dir = pe_.directory(kDirExport);
  if (dir.Size < sizeof(ExportDirectory)) return std::nullopt;
  const auto* image = reinterpret_cast<const std::uint8_t*>(base_);
  ExportDirectory ed;
  std::memcpy(&ed, image + dir.VirtualAddress, sizeof(ed));
  if (!InRange(ed.AddressOfNames, 4ull * ed.NumberOfNames, size_) ||
      !InRange(ed.AddressOfNameOrdinals, 2ull * ed.NumberOfNames, size_) ||
      !InRange(ed.AddressOfFunctions, 4ull * ed.NumberOfFunctions, size_)) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < ed.NumberOfNames; ++i) {
    std::uint32_t nameRva;
    std::memcpy(&nameRva, image + ed.AddressOfNames + 4ull * i, 4);
    if (StringAt(image, size_, nameRva) != name) continue;
    std::uint16_t index;
    std::memcpy(&index, image + ed.AddressOfNameOrdinals + 2ull * i, 2);
    if (index >= ed.NumberOfFunctions) return std::nullopt;
    std::uint32_t rva;
    std::memcpy(&rva, image + ed.AddressOfFunctions + 4ull * index, 4);
    const bool forwarder = rva >= dir.VirtualAddress && rva < dir.VirtualAddress + dir.Size;
    if (rva == 0 || rva >= size_ || forwarder) return std::nullopt;
    return base_ + rva;
  }
  return std::nullopt;
}

Result<std::unique_ptr<LoadedImage>> LoadImage(PeImage pe, const LoadOptions& options) {
  const std::uint64_t size = AlignUp(pe.sizeOfImage(), kPage);
  const std::uint64_t trailer = AlignUp(options.trailerSize, kPage);
  const std::uint64_t mapped = size + trailer;
  void* mapping = nullptr;
  // Windows' rule: only IMAGE_FILE_RELOCS_STRIPPED pins an image to its preferred base. An image
  // without a relocation directory and without that flag needs no fixups (GNU ld and lld write no
  // .reloc then) and goes wherever there is room, as every driver goes into system space.
  if (!pe.relocsStripped()) {
    for (std::uint64_t at = AlignUp(options.regionStart, kImageAlignment);
         at + mapped <= options.regionEnd && !mapping; at += AlignUp(mapped, kImageAlignment)) {
      mapping = MapAt(at, mapped);
    }
    if (!mapping) {
      return Fail("no free address range for the image in the system image region",
                  nt::STATUS_INSUFFICIENT_RESOURCES, 8);
    }
  } else {
    mapping = MapAt(pe.preferredBase(), mapped);
    if (!mapping) {
      return Fail(fmt::format("the image's relocations are stripped (IMAGE_FILE_RELOCS_STRIPPED) and its "
                              "preferred base {:#x} is not free ({}); link it without --disable-reloc-section "
                              "or /FIXED",
                              pe.preferredBase(), std::strerror(errno)),
                  nt::STATUS_CONFLICTING_ADDRESSES, 487);
    }
  }
  const auto base = reinterpret_cast<std::uint64_t>(mapping);
  // From here on the LoadedImage owns the mapping, so every failure below unmaps it.
  std::unique_ptr<LoadedImage> loaded(new LoadedImage(std::move(pe), base, static_cast<std::uint32_t>(size)));
  loaded->trailer_ = static_cast<std::uint32_t>(trailer);
  const PeImage& image = loaded->pe();
  auto* bytes = static_cast<std::uint8_t*>(mapping);

  std::memcpy(bytes, image.file().data(), image.sizeOfHeaders());
  for (const Section& s : image.sections()) {
    if (s.rawSize) std::memcpy(bytes + s.virtualAddress, image.file().data() + s.rawOffset, s.rawSize);
  }
  if (const std::int64_t delta = static_cast<std::int64_t>(base - image.preferredBase()); delta) {
    if (auto r = ApplyRelocations(bytes, image, delta); !r) return std::unexpected(r.error());
    // As Windows' memory manager does: the mapped header names where the image is.
    std::int32_t lfanew;
    std::memcpy(&lfanew, bytes + 0x3C, 4);
    std::memcpy(bytes + lfanew + 4 + sizeof(FileHeader) + offsetof(OptionalHeader64, ImageBase), &base, 8);
  }
  if (options.bindImports) {
    if (auto r = BindImports(bytes, image, options.resolveImport); !r) return std::unexpected(r.error());
  }

  if (options.beforeProtect) options.beforeProtect(bytes);
  if (trailer && mprotect(bytes + size, trailer, PROT_READ | PROT_EXEC)) {
    return Fail(fmt::format("cannot protect the image's trailer: {}", std::strerror(errno)));
  }
  const std::uint32_t alignment = image.optionalHeader().SectionAlignment;
  if (alignment < kPage) {
    // Sections share pages: one protection for the whole image, as Windows does for these.
    mprotect(mapping, size, PROT_READ | PROT_WRITE | PROT_EXEC);
  } else {
    mprotect(mapping, AlignUp(image.sizeOfHeaders(), kPage), PROT_READ);
    for (const Section& s : image.sections()) {
      const std::uint64_t length = AlignUp(s.virtualSize, kPage);
      if (length && mprotect(bytes + s.virtualAddress, length, SectionProtection(s.characteristics))) {
        return Fail(fmt::format("cannot protect section '{}': {}", s.name, std::strerror(errno)));
      }
    }
  }
  return loaded;
}

}  // namespace ntbox::pe
