#include "pe/PeImage.h"

#include "support/InputFile.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "nt/Status.h"

namespace ntbox::pe {
namespace {

constexpr std::uint32_t kErrorBadExeFormat = 193;  // "%1 is not a valid Win32 application."

std::unexpected<Error> Bad(std::string message,
                           nt::NTSTATUS status = nt::STATUS_INVALID_IMAGE_FORMAT) {
  return Fail(std::move(message), status, kErrorBadExeFormat);
}

// True when [offset, offset + size) lies inside [0, limit), without overflow.
bool InRange(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

std::uint64_t AlignUp(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

template <class T>
T ReadAt(const std::vector<std::uint8_t>& file, std::size_t offset) {
  T value;
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

}  // namespace

const char* MachineName(std::uint16_t machine) {
  switch (machine) {
    case kMachineAmd64: return "x64 (AMD64)";
    case kMachineI386: return "x86 (i386)";
    case kMachineArm64: return "ARM64";
    case kMachineArmNt: return "ARM (Thumb-2)";
    case kMachineIa64: return "Itanium (IA64)";
    default: return "unknown";
  }
}

const char* SubsystemName(std::uint16_t subsystem) {
  switch (subsystem) {
    case kSubsystemNative: return "native (driver)";
    case kSubsystemWindowsGui: return "Windows GUI";
    case kSubsystemWindowsCui: return "Windows console";
    case 10: return "EFI application";
    case 11: return "EFI boot service driver";
    case 12: return "EFI runtime driver";
    default: return "unknown";
  }
}

DataDirectory PeImage::directory(DirectoryIndex index) const {
  if (index >= optional_.NumberOfRvaAndSizes) return {};
  return optional_.Directory[index];
}

Result<PeImage> PeImage::ParseFile(const std::string& path) {
  auto bytes = ReadInputFile(path, kMaxImageSize + (64u << 20), "an image");
  if (!bytes) {
    Error e = bytes.error();
    if (e.win32 == 2) e.ntstatus = nt::STATUS_OBJECT_NAME_NOT_FOUND;
    if (e.win32 == 87) e = Error{e.message, nt::STATUS_INVALID_IMAGE_FORMAT, 193};
    return std::unexpected(e);
  }
  return Parse(std::move(*bytes));
}

Result<PeImage> PeImage::Parse(std::vector<std::uint8_t> file) {
  PeImage image;
  const std::uint64_t fileSize = file.size();

  if (fileSize < sizeof(DosHeader)) {
    return Bad(fmt::format("not a PE image: the file is {} bytes, too small for a DOS header",
                           fileSize),
               nt::STATUS_INVALID_IMAGE_NOT_MZ);
  }
  const auto dos = ReadAt<DosHeader>(file, 0);
  if (dos.e_magic != kDosSignature) {
    return Bad("not a PE image: no 'MZ' signature at offset 0", nt::STATUS_INVALID_IMAGE_NOT_MZ);
  }
  if (dos.e_lfanew < 0 || (dos.e_lfanew & 3) != 0 ||
      !InRange(static_cast<std::uint64_t>(dos.e_lfanew), 4 + sizeof(FileHeader), fileSize)) {
    return Bad(fmt::format("truncated or corrupt: the PE header offset (e_lfanew = {:#x}) is "
                           "outside the {}-byte file or misaligned",
                           dos.e_lfanew, fileSize));
  }
  const std::size_t ntOffset = static_cast<std::size_t>(dos.e_lfanew);
  if (ReadAt<std::uint32_t>(file, ntOffset) != kNtSignature) {
    return Bad(fmt::format("not a PE image: no 'PE\\0\\0' signature at offset {:#x}", ntOffset));
  }
  image.fileHeader_ = ReadAt<FileHeader>(file, ntOffset + 4);
  const FileHeader& fh = image.fileHeader_;

  if (fh.Machine != kMachineAmd64) {
    return Bad(fmt::format("wrong machine: the image is for {} (machine {:#06x}); ntbox runs x64 "
                           "images only (Windows error 193: not a valid Win32 application)",
                           MachineName(fh.Machine), fh.Machine));
  }
  const std::size_t optOffset = ntOffset + 4 + sizeof(FileHeader);
  if (fh.SizeOfOptionalHeader < offsetof(OptionalHeader64, Directory) ||
      !InRange(optOffset, fh.SizeOfOptionalHeader, fileSize)) {
    return Bad(fmt::format("truncated or corrupt: optional header of {} bytes at {:#x} does not "
                           "fit the {}-byte file",
                           fh.SizeOfOptionalHeader, optOffset, fileSize));
  }
  std::memset(&image.optional_, 0, sizeof(image.optional_));
  std::memcpy(&image.optional_, file.data() + optOffset,
              std::min<std::size_t>(fh.SizeOfOptionalHeader, sizeof(OptionalHeader64)));
  OptionalHeader64& oh = image.optional_;
  if (oh.Magic != kOptionalMagicPe32Plus) {
    return Bad(fmt::format("wrong format: optional header magic {:#x} is not PE32+ (0x20b); a "
                           "32-bit image cannot run on x64",
                           oh.Magic));
  }
  const std::size_t dirBytes =
      static_cast<std::size_t>(fh.SizeOfOptionalHeader) - offsetof(OptionalHeader64, Directory);
  if (oh.NumberOfRvaAndSizes > kDirCount ||
      oh.NumberOfRvaAndSizes * sizeof(DataDirectory) > dirBytes) {
    return Bad(fmt::format("corrupt header: NumberOfRvaAndSizes = {} does not fit the optional "
                           "header",
                           oh.NumberOfRvaAndSizes));
  }
  if ((fh.Characteristics & kFileExecutableImage) == 0) {
    return Bad("not an executable image: IMAGE_FILE_EXECUTABLE_IMAGE is not set (an object "
               "file?)");
  }
  if (!std::has_single_bit(oh.SectionAlignment) || !std::has_single_bit(oh.FileAlignment) ||
      oh.FileAlignment > oh.SectionAlignment || oh.FileAlignment < 0x20 ||
      oh.FileAlignment > 0x10000 ||
      (oh.SectionAlignment < 0x1000 && oh.SectionAlignment != oh.FileAlignment)) {
    return Bad(fmt::format("corrupt header: SectionAlignment {:#x} / FileAlignment {:#x} are not "
                           "valid powers of two",
                           oh.SectionAlignment, oh.FileAlignment));
  }
  if (oh.SizeOfImage == 0 || oh.SizeOfImage > kMaxImageSize) {
    return Bad(fmt::format("oversized image: SizeOfImage is {:#x} bytes; ntbox maps at most {:#x}",
                           oh.SizeOfImage, kMaxImageSize));
  }
  if (oh.SizeOfHeaders == 0 || oh.SizeOfHeaders > oh.SizeOfImage ||
      oh.SizeOfHeaders > fileSize) {
    return Bad(fmt::format("truncated or corrupt: SizeOfHeaders {:#x} exceeds the file ({} bytes) "
                           "or the image",
                           oh.SizeOfHeaders, fileSize));
  }
  if ((oh.ImageBase & 0xFFFF) != 0 || oh.ImageBase == 0 ||
      oh.ImageBase + oh.SizeOfImage < oh.ImageBase) {
    return Bad(fmt::format("corrupt header: ImageBase {:#x} is not 64 KiB aligned or wraps",
                           oh.ImageBase));
  }

  if (fh.NumberOfSections == 0 || fh.NumberOfSections > kMaxSections) {
    return Bad(fmt::format("corrupt header: {} sections (ntbox accepts 1 to {})",
                           fh.NumberOfSections, kMaxSections));
  }
  const std::size_t secOffset = optOffset + fh.SizeOfOptionalHeader;
  const std::size_t secBytes = std::size_t{fh.NumberOfSections} * sizeof(SectionHeader);
  if (!InRange(secOffset, secBytes, fileSize)) {
    return Bad(fmt::format("truncated: the section table ({} sections at {:#x}) runs past the end "
                           "of the {}-byte file",
                           fh.NumberOfSections, secOffset, fileSize));
  }
  if (secOffset + secBytes > oh.SizeOfHeaders) {
    return Bad("corrupt header: the section table lies outside SizeOfHeaders");
  }

  std::uint64_t previousEnd = AlignUp(oh.SizeOfHeaders, oh.SectionAlignment);
  for (unsigned i = 0; i < fh.NumberOfSections; ++i) {
    const auto raw = ReadAt<SectionHeader>(file, secOffset + i * sizeof(SectionHeader));
    Section s;
    s.name.assign(raw.Name, strnlen(raw.Name, sizeof(raw.Name)));
    s.virtualAddress = raw.VirtualAddress;
    s.characteristics = raw.Characteristics;
    s.rawOffset = raw.PointerToRawData;
    s.rawSize = raw.SizeOfRawData;
    s.virtualSize = raw.VirtualSize ? raw.VirtualSize : raw.SizeOfRawData;
    // Raw data past VirtualSize is file-alignment padding, never mapped.
    if (s.rawSize > s.virtualSize) s.rawSize = s.virtualSize;

    if (s.virtualAddress % oh.SectionAlignment != 0) {
      return Bad(fmt::format("corrupt section '{}': address {:#x} is not aligned to {:#x}", s.name,
                             s.virtualAddress, oh.SectionAlignment));
    }
    if (s.virtualAddress < previousEnd) {
      return Bad(fmt::format("overlapping sections: '{}' at {:#x} overlaps the headers or the "
                             "previous section (which ends at {:#x})",
                             s.name, s.virtualAddress, previousEnd));
    }
    if (!InRange(s.virtualAddress, s.virtualSize, oh.SizeOfImage)) {
      return Bad(fmt::format("corrupt section '{}': {:#x}+{:#x} lies outside SizeOfImage {:#x}",
                             s.name, s.virtualAddress, s.virtualSize, oh.SizeOfImage));
    }
    if (s.rawSize != 0 && !InRange(s.rawOffset, s.rawSize, fileSize)) {
      return Bad(fmt::format("truncated: section '{}' needs file bytes {:#x}..{:#x} but the file "
                             "is {:#x} bytes",
                             s.name, s.rawOffset, std::uint64_t{s.rawOffset} + s.rawSize,
                             fileSize));
    }
    previousEnd = AlignUp(std::uint64_t{s.virtualAddress} + s.virtualSize, oh.SectionAlignment);
    image.sections_.push_back(std::move(s));
  }

  for (unsigned d = 0; d < oh.NumberOfRvaAndSizes; ++d) {
    const DataDirectory dir = oh.Directory[d];
    // The security directory holds a file offset, not an RVA.
    const std::uint64_t limit = d == kDirSecurity ? fileSize : oh.SizeOfImage;
    if (dir.Size != 0 && !InRange(dir.VirtualAddress, dir.Size, limit)) {
      return Bad(fmt::format("corrupt data directory {}: {:#x}+{:#x} lies outside the {}", d,
                             dir.VirtualAddress, dir.Size, d == kDirSecurity ? "file" : "image"));
    }
  }
  if (oh.AddressOfEntryPoint >= oh.SizeOfImage) {
    return Bad(fmt::format("corrupt header: entry point {:#x} lies outside the image",
                           oh.AddressOfEntryPoint));
  }

  image.file_ = std::move(file);
  return image;
}

}  // namespace ntbox::pe
