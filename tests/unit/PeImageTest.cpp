// The PE loader refuses every malformed image with a clear message and never crashes. The
// images are mutations of a real driver built by mingw-w64.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "nt/Status.h"
#include "pe/CoffSymbols.h"
#include "pe/PeImage.h"
#include "pe/PeLoader.h"

namespace {

using namespace ntbox;
using namespace ntbox::pe;

std::vector<std::uint8_t> ReadDriver(const char* name) {
  std::ifstream in(std::string(NTBOX_DRIVER_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Offsets {
  std::size_t nt, file, optional, sections;
};

Offsets Locate(const std::vector<std::uint8_t>& f) {
  std::int32_t lfanew;
  std::memcpy(&lfanew, f.data() + 0x3C, 4);
  const std::size_t nt = static_cast<std::size_t>(lfanew);
  std::uint16_t optSize;
  std::memcpy(&optSize, f.data() + nt + 4 + 16, 2);
  return {nt, nt + 4, nt + 24, nt + 24 + optSize};
}

template <class T>
void Poke(std::vector<std::uint8_t>& f, std::size_t offset, T value) {
  std::memcpy(f.data() + offset, &value, sizeof(T));
}

std::string Refusal(std::vector<std::uint8_t> f) {
  auto r = PeImage::Parse(std::move(f));
  if (r) return "accepted";
  EXPECT_EQ(r.error().win32, 193u) << r.error().message;
  return r.error().message;
}

class PeImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = ReadDriver("FirstDriverSample.sys");
    ASSERT_GT(file_.size(), 1024u) << "build the test drivers first";
    at_ = Locate(file_);
  }
  std::vector<std::uint8_t> file_;
  Offsets at_{};
};

TEST_F(PeImageTest, AcceptsTheRealDriver) {
  auto image = PeImage::Parse(file_);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image->machine(), kMachineAmd64);
  EXPECT_EQ(image->subsystem(), kSubsystemNative);
  // GNU ld writes no .reloc when an image needs no fixups: it is relocatable all the same.
  EXPECT_FALSE(image->hasRelocations());
  EXPECT_FALSE(image->relocsStripped());
}

TEST_F(PeImageTest, EveryTruncationIsRefusedCleanly) {
  // Cut the file at every length up to the end of the section table, then every 64 bytes up to
  // the end of the last section's data (the COFF symbol table after it is never mapped).
  auto image = PeImage::Parse(file_);
  ASSERT_TRUE(image);
  std::size_t used = 0;
  for (const Section& s : image->sections()) used = std::max<std::size_t>(used, s.rawOffset + s.rawSize);
  for (std::size_t n = 0; n < used; n += n < at_.sections + 0x200 ? 1 : 64) {
    std::vector<std::uint8_t> cut(file_.begin(), file_.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = PeImage::Parse(std::move(cut));
    ASSERT_FALSE(r) << "accepted a file cut at " << n << " bytes";
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST_F(PeImageTest, NotAPe) {
  EXPECT_NE(Refusal({}).find("too small"), std::string::npos);
  auto f = file_;
  f[0] = 'Z';
  EXPECT_NE(Refusal(f).find("'MZ'"), std::string::npos);
  f = file_;
  Poke<std::int32_t>(f, 0x3C, 0x7FFFFFF0);
  EXPECT_NE(Refusal(f).find("e_lfanew"), std::string::npos);
  f = file_;
  f[at_.nt] = 'X';
  EXPECT_NE(Refusal(f).find("PE\\0\\0"), std::string::npos);
}

TEST_F(PeImageTest, WrongMachineIsError193) {
  auto f = file_;
  Poke<std::uint16_t>(f, at_.file, kMachineI386);
  EXPECT_NE(Refusal(f).find("x86 (i386)"), std::string::npos);
  Poke<std::uint16_t>(f, at_.file, kMachineArm64);
  EXPECT_NE(Refusal(f).find("ARM64"), std::string::npos);
  f = file_;
  Poke<std::uint16_t>(f, at_.optional, kOptionalMagicPe32);
  EXPECT_NE(Refusal(f).find("PE32+"), std::string::npos);
}

TEST_F(PeImageTest, SectionsOutsideTheFileOrOverlapping) {
  auto f = file_;
  Poke<std::uint32_t>(f, at_.sections + 20, 0x7FFFFF00);  // .text PointerToRawData
  EXPECT_NE(Refusal(f).find("truncated: section"), std::string::npos);
  f = file_;
  std::uint32_t firstVa;
  std::memcpy(&firstVa, f.data() + at_.sections + 12, 4);
  Poke<std::uint32_t>(f, at_.sections + 40 + 12, firstVa);  // second section on top of the first
  EXPECT_NE(Refusal(f).find("overlapping sections"), std::string::npos);
  f = file_;
  Poke<std::uint16_t>(f, at_.file + 2, 0);  // NumberOfSections
  EXPECT_NE(Refusal(f).find("sections"), std::string::npos);
}

TEST_F(PeImageTest, OversizedImage) {
  auto f = file_;
  Poke<std::uint32_t>(f, at_.optional + offsetof(OptionalHeader64, SizeOfImage), 0xF0000000u);
  EXPECT_NE(Refusal(f).find("oversized"), std::string::npos);
}

TEST_F(PeImageTest, DirectoryOutsideTheImage) {
  auto f = file_;
  Poke<std::uint32_t>(f, at_.optional + offsetof(OptionalHeader64, Directory) + 8 * kDirImport, 0x7FFF0000u);
  EXPECT_NE(Refusal(f).find("data directory 1"), std::string::npos);
}

// Loading goes further than parsing: relocation blocks and import names are checked in memory.
std::string LoadRefusal(std::vector<std::uint8_t> f) {
  auto image = PeImage::Parse(std::move(f));
  if (!image) return "parse: " + image.error().message;
  LoadOptions options;
  options.regionStart = 0x0000300000000000ull;
  options.regionEnd = 0x0000300100000000ull;
  options.resolveImport = [](const ImportRef&) { return std::optional<std::uint64_t>(0x1000); };
  auto loaded = LoadImage(std::move(*image), options);
  return loaded ? "loaded" : loaded.error().message;
}

TEST_F(PeImageTest, LoadsAndRelocatesIntoTheRegion) {
  EXPECT_EQ(LoadRefusal(file_), "loaded");
}

// Windows' rule: without a relocation directory and without IMAGE_FILE_RELOCS_STRIPPED an image is
// relocatable with zero fixups (GNU ld and lld write no .reloc when none are needed); with the flag
// it only goes at its preferred base.
TEST_F(PeImageTest, OnlyStrippedRelocationsPinThePreferredBase) {
  auto f = file_;
  Poke<std::uint32_t>(f, at_.optional + offsetof(OptionalHeader64, Directory) + 8 * kDirBaseReloc, 0);
  Poke<std::uint32_t>(f, at_.optional + offsetof(OptionalHeader64, Directory) + 8 * kDirBaseReloc + 4, 0);
  auto image = PeImage::Parse(f);
  ASSERT_TRUE(image);
  ASSERT_FALSE(image->hasRelocations());
  const std::uint64_t preferred = image->preferredBase();
  LoadOptions options;
  options.regionStart = 0x0000300000000000ull;
  options.regionEnd = 0x0000300100000000ull;
  options.resolveImport = [](const ImportRef&) { return std::optional<std::uint64_t>(0x1000); };
  auto loaded = LoadImage(std::move(*image), options);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_GE((*loaded)->base(), options.regionStart);
  EXPECT_LT((*loaded)->end(), options.regionEnd);

  std::uint16_t characteristics = 0;
  std::memcpy(&characteristics, f.data() + at_.file + 18, 2);
  Poke<std::uint16_t>(f, at_.file + 18, static_cast<std::uint16_t>(characteristics | kFileRelocsStripped));
  auto pinned = PeImage::Parse(f);
  ASSERT_TRUE(pinned);
  auto atPreferred = LoadImage(std::move(*pinned), options);
  ASSERT_TRUE(atPreferred) << atPreferred.error().message;
  EXPECT_EQ((*atPreferred)->base(), preferred);
}

TEST_F(PeImageTest, CorruptRelocationsAndImportNames) {
  // A driver with fixups (absolute addresses in its data) has a relocation directory to damage.
  file_ = ReadDriver("misbehave.sys");
  auto image = PeImage::Parse(file_);
  ASSERT_TRUE(image);
  ASSERT_TRUE(image->hasRelocations());
  const DataDirectory reloc = image->directory(kDirBaseReloc);
  const DataDirectory imports = image->directory(kDirImport);
  auto fileOffset = [&](std::uint32_t rva) -> std::size_t {
    for (const Section& s : image->sections()) {
      if (rva >= s.virtualAddress && rva < s.virtualAddress + s.virtualSize) return s.rawOffset + (rva - s.virtualAddress);
    }
    return 0;
  };
  auto f = file_;
  Poke<std::uint32_t>(f, fileOffset(reloc.VirtualAddress) + 4, 0xFFFF);  // SizeOfBlock
  EXPECT_NE(LoadRefusal(f).find("corrupt relocations"), std::string::npos);

  f = file_;
  Poke<std::uint32_t>(f, fileOffset(imports.VirtualAddress) + 12, 0x7FFFFF00);  // DLL name RVA
  EXPECT_NE(LoadRefusal(f).find("DLL name"), std::string::npos);

  f = file_;
  std::uint32_t lookupRva;
  std::memcpy(&lookupRva, f.data() + fileOffset(imports.VirtualAddress), 4);
  Poke<std::uint64_t>(f, fileOffset(lookupRva), 0x7FFFFF00);  // first import's hint/name RVA
  EXPECT_NE(LoadRefusal(f).find("import name"), std::string::npos);
}

TEST_F(PeImageTest, UnresolvedImportsAreAllNamed) {
  auto image = PeImage::Parse(file_);
  ASSERT_TRUE(image);
  LoadOptions options;
  options.regionStart = 0x0000300000000000ull;
  options.regionEnd = 0x0000300100000000ull;
  options.resolveImport = [](const ImportRef&) { return std::optional<std::uint64_t>(); };
  auto loaded = LoadImage(std::move(*image), options);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("ntoskrnl.exe!DbgPrint"), std::string::npos);
  EXPECT_NE(loaded.error().message.find("ntoskrnl.exe!RtlGetVersion"), std::string::npos);
  EXPECT_EQ(loaded.error().ntstatus, ntbox::nt::STATUS_PROCEDURE_NOT_FOUND);
}

}  // namespace

// C++ functions in a driver's COFF symbol table are named as WinDbg names them: demangled, without
// their parameters; C names stay as they are.
TEST(CoffSymbols, CxxNamesDemangledWithoutParameters) {
  EXPECT_EQ(ntbox::pe::FunctionName("_ZL13ReverseBufferP4_IRPP18_IO_STACK_LOCATION"), "ReverseBuffer");
  EXPECT_EQ(ntbox::pe::FunctionName("_Z13ReverseBufferPhm"), "ReverseBuffer");
  EXPECT_EQ(ntbox::pe::FunctionName("_ZN6Device7ControlEP4_IRP"), "Device::Control");
  EXPECT_EQ(ntbox::pe::FunctionName("_ZNK6Device4NameEv"), "Device::Name");
  EXPECT_EQ(ntbox::pe::FunctionName("_ZN12_GLOBAL__N_19DpcHelperEPv"), "(anonymous namespace)::DpcHelper");
  EXPECT_EQ(ntbox::pe::FunctionName("DriverEntry"), "DriverEntry");
  EXPECT_EQ(ntbox::pe::FunctionName("_Znot_really"), "_Znot_really");
}
