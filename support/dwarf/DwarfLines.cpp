#include "support/dwarf/DwarfLines.h"

#include <llvm/DebugInfo/DWARF/DWARFContext.h>
#include <llvm/Object/ObjectFile.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace {

struct Image {
  llvm::object::OwningBinary<llvm::object::ObjectFile> binary;
  std::unique_ptr<llvm::DWARFContext> context;
};

std::mutex g_mutex;
std::map<std::string, std::unique_ptr<Image>> g_images;  // by path; nullptr: unreadable

Image* Open(const std::string& path) {
  auto it = g_images.find(path);
  if (it != g_images.end()) return it->second.get();
  std::unique_ptr<Image> image;
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (binary) {
    image = std::make_unique<Image>();
    image->binary = std::move(*binary);
    image->context = llvm::DWARFContext::create(*image->binary.getBinary());
  } else {
    llvm::consumeError(binary.takeError());
  }
  return g_images.emplace(path, std::move(image)).first->second.get();
}

void Copy(char* out, std::size_t size, const std::string& text) {
  if (size == 0) return;
  const std::size_t n = std::min(size - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

}  // namespace

extern "C" int ntbox_dwarf_line(const char* imagePath, std::uint64_t address, char* function,
                                std::size_t functionSize, char* file, std::size_t fileSize, std::uint32_t* line,
                                std::uint64_t* functionStart) {
  std::lock_guard lock(g_mutex);
  Image* image = Open(imagePath);
  if (!image) return 0;
  const llvm::DILineInfoSpecifier spec(llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath,
                                       llvm::DILineInfoSpecifier::FunctionNameKind::ShortName);
  // The outermost frame: the function the address is in and its line there, not a header's
  // inline routine (KeLowerIrql, __writecr8) the compiler expanded into it.
  const llvm::DIInliningInfo frames =
      image->context->getInliningInfoForAddress({address, llvm::object::SectionedAddress::UndefSection}, spec);
  if (frames.getNumberOfFrames() == 0) return 0;
  const llvm::DILineInfo& info = frames.getFrame(frames.getNumberOfFrames() - 1);
  if (info.Line == 0 || info.FileName == llvm::DILineInfo::BadString) return 0;
  Copy(function, functionSize, info.FunctionName == llvm::DILineInfo::BadString ? std::string() : info.FunctionName);
  Copy(file, fileSize, info.FileName);
  *line = info.Line;
  *functionStart = info.StartAddress ? *info.StartAddress : 0;
  return 1;
}
