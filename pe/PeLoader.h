// Maps a validated PeImage into memory: sections with their protections, base relocations,
// imports bound through a resolver. Owns the mapping (RAII).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::pe {

struct ImportRef {
  std::string_view dll;
  std::string_view name;               // empty when imported by ordinal
  std::optional<std::uint16_t> ordinal;
};

// Returns the address an import binds to (function or data), or nullopt when it is unknown.
using ImportResolver = std::function<std::optional<std::uint64_t>(const ImportRef&)>;

struct LoadOptions {
  ImportResolver resolveImport;
  // False: imports are left for the image's own loader (a program's ntdll binds them).
  bool bindImports = true;
  // Relocatable images are placed at the first free range in [regionStart, regionEnd).
  std::uint64_t regionStart = 0;
  std::uint64_t regionEnd = 0;
  // Bytes of code mapped right after the image (its size rounded to a page), executable, and what
  // writes them (and may change the image's code) once the image is relocated and bound, before
  // its sections get their protections: the load-time rewriter's trampolines (cpu/Rewriter.h).
  std::uint32_t trailerSize = 0;
  std::function<void(std::uint8_t* base)> beforeProtect;
};

class LoadedImage {
 public:
  LoadedImage(const LoadedImage&) = delete;
  LoadedImage& operator=(const LoadedImage&) = delete;
  ~LoadedImage();

  std::uint64_t base() const { return base_; }
  std::uint32_t size() const { return size_; }
  std::uint64_t end() const { return base_ + size_; }
  // The end of the trailer (LoadOptions::trailerSize), end() when there is none.
  std::uint64_t trailerEnd() const { return end() + trailer_; }
  bool contains(std::uint64_t address) const { return address >= base_ && address < end(); }
  std::uint64_t entryPoint() const;  // 0 when the image has none
  bool relocated() const { return base_ != pe_.preferredBase(); }
  const PeImage& pe() const { return pe_; }
  // An export of this image by name (forwarders are not followed).
  std::optional<std::uint64_t> FindExport(std::string_view name) const;

 private:
  friend Result<std::unique_ptr<LoadedImage>> LoadImage(PeImage image, const LoadOptions& options);

// The host protection (PROT_*) a section with these characteristics is mapped with.
int SectionProtection(std::uint32_t characteristics);
  LoadedImage(PeImage pe, std::uint64_t base, std::uint32_t size)
      : pe_(std::move(pe)), base_(base), size_(size) {}

  PeImage pe_;
  std::uint64_t base_;
  std::uint32_t size_;
  std::uint32_t trailer_ = 0;
};

Result<std::unique_ptr<LoadedImage>> LoadImage(PeImage image, const LoadOptions& options);

// The host protection (PROT_*) a section with these characteristics is mapped with.
int SectionProtection(std::uint32_t characteristics);

}  // namespace ntbox::pe
