// The ETW manifest reader against what ntbox-mc compiled into etw_manifest.sys (its
// WEVT_TEMPLATE and message-table resources), and against damaged copies of it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "nt/etw/Manifest.h"
#include "pe/PeImage.h"
#include "pe/PeResources.h"

namespace ntbox::nt::etw {
namespace {

pe::PeImage Driver(const char* name) {
  auto image = pe::PeImage::ParseFile(std::string(NTBOX_DRIVER_DIR) + "/" + name);
  EXPECT_TRUE(image.has_value());
  return std::move(*image);
}

std::vector<std::uint8_t> Blob(const pe::PeImage& image) {
  const auto blob = pe::FindResource(image, std::u16string(u"WEVT_TEMPLATE"), std::uint16_t{1});
  EXPECT_TRUE(blob.has_value());
  return blob ? std::vector<std::uint8_t>(blob->begin(), blob->end()) : std::vector<std::uint8_t>{};
}

constexpr GUID kProvider = {0x3c1f7a52, 0x9d4e, 0x4b8a, {0xa6, 0xc1, 0x0e, 0x2f, 0x4d, 0x6b, 0x8a, 0x10}};

TEST(EtwManifest, ReadsWhatTheDriverCarries) {
  const pe::PeImage image = Driver("etw_manifest.sys");
  const auto manifest = ManifestOf(image, kProvider);
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->name, "Ntbox-Test-Manifest");
  ASSERT_EQ(manifest->events.size(), 3u);
  const ManifestEvent* read = manifest->Find(1, 0);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->level, 4);
  EXPECT_EQ(read->task, 1);
  EXPECT_EQ(read->opcode, 10);
  EXPECT_EQ(read->keywords, 0x1u);
  EXPECT_EQ(read->message, "Read %3 bytes at %2 from %1: %4");
  ASSERT_EQ(read->fields.size(), 4u);
  EXPECT_EQ(read->fields[0].name, "FileName");
  EXPECT_EQ(read->fields[0].inType, kInUnicodeString);
  EXPECT_EQ(read->fields[1].outType, kOutHexInt64);
  EXPECT_EQ(read->fields[3].outType, kOutNtStatus);
  EXPECT_EQ(manifest->Find(2, 0), nullptr) << "event 2 is version 1";
  ASSERT_TRUE(manifest->Find(2, 1));
  EXPECT_EQ(manifest->Find(2, 1)->fields.back().length, 4);
  EXPECT_TRUE(manifest->Find(3, 0)->fields.empty());
  EXPECT_EQ(manifest->tasks.at(1), "Io");
  EXPECT_EQ(manifest->opcodes.at(10), "Read");
  EXPECT_EQ(manifest->levels.at(4), "win:Informational");
  EXPECT_EQ(manifest->keywords.at(2), "Settings");
  // Another provider's GUID finds nothing; an image without resources has none.
  EXPECT_FALSE(ManifestOf(image, GUID{}));
  EXPECT_FALSE(ManifestOf(Driver("etw_provider.sys"), kProvider));
}

TEST(EtwManifest, DecodesFieldsAndExpandsTheMessage) {
  const auto manifest = ManifestOf(Driver("etw_manifest.sys"), kProvider);
  ASSERT_TRUE(manifest);
  const ManifestEvent& read = *manifest->Find(1, 0);
  std::vector<std::uint8_t> data;
  for (const char16_t c : std::u16string(u"a.txt")) data.insert(data.end(), {static_cast<std::uint8_t>(c), 0});
  data.insert(data.end(), {0, 0});
  const std::uint64_t offset = 0x10;
  const std::uint32_t length = 7, status = 0xC0000011;
  for (const auto& [p, n] : {std::pair<const void*, std::size_t>{&offset, 8}, {&length, 4}, {&status, 4}}) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    data.insert(data.end(), b, b + n);
  }
  const auto fields = DecodeFields(read, data);
  ASSERT_TRUE(fields);
  EXPECT_EQ((*fields)[0].value, "a.txt");
  EXPECT_EQ((*fields)[1].value, "0x10");
  EXPECT_EQ((*fields)[2].value, "7");
  EXPECT_EQ((*fields)[3].value, "0xC0000011");
  EXPECT_EQ(ExpandMessage(read.message, *fields), "Read 7 bytes at 0x10 from a.txt: 0xC0000011");
  EXPECT_EQ(ExpandMessage("%1!s! is 100%% %9 %n", *fields), "a.txt is 100% %9 \n");
  // Data shorter than the template: not decoded (the caller shows the bytes).
  data.resize(data.size() - 1);
  EXPECT_FALSE(DecodeFields(read, data));
}

// Every truncation and a few thousand corruptions of a real manifest are read or refused; none
// crashes or reads outside the blob (the ASan build and the fuzz target check the same).
TEST(EtwManifest, DamagedManifestsAreRefusedOrRead) {
  const std::vector<std::uint8_t> blob = Blob(Driver("etw_manifest.sys"));
  ASSERT_FALSE(blob.empty());
  ASSERT_TRUE(ParseManifest(blob, nullptr));
  for (std::size_t n = 0; n < blob.size(); ++n) {
    const std::vector<std::uint8_t> cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(ParseManifest(cut, nullptr)) << "cut to " << n;
  }
  std::mt19937 random(1);
  std::size_t refused = 0;
  for (int i = 0; i < 4000; ++i) {
    std::vector<std::uint8_t> damaged = blob;
    for (int k = 0; k < 3; ++k) damaged[random() % damaged.size()] = static_cast<std::uint8_t>(random());
    const auto r = ParseManifest(damaged, nullptr);
    if (!r) {
      ++refused;
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_FALSE(ParseManifest(std::vector<std::uint8_t>{'C', 'R', 'I', 'M'}, nullptr));
  EXPECT_FALSE(MessageTableString(std::vector<std::uint8_t>{0xFF, 0xFF, 0xFF, 0xFF}, 1));
}

}  // namespace
}  // namespace ntbox::nt::etw
