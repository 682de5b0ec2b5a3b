// The load-time rewriter (cpu/Rewriter.h) over every driver the build makes (gcc and clang, -O0 to
// -O2, DBG and not): each image mapped with its trailer and rewritten as the kernel does, then every
// trampoline decoded against the window it replaced and mapped back, instruction by instruction.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "cpu/Rewriter.h"
#include "nt/ke/Thread.h"
#include "pe/PeLoader.h"

namespace {

using namespace ntbox;

// Where the kernel's read-only copy of KUSER_SHARED_DATA would be.
constexpr std::uint64_t kSharedDataView = 0x00007F0000000000ull;

struct Rewritten {
  std::unique_ptr<pe::LoadedImage> image;
  cpu::ImageRewrite plan;
};

std::optional<Rewritten> Load(const std::filesystem::path& file) {
  auto image = pe::PeImage::ParseFile(file.string());
  if (!image) return std::nullopt;
  Rewritten r{nullptr, cpu::ImageRewrite::Plan(*image, {nt::ke::kpcr::kIrql, nt::ke::kpcr::kInterruptsDisabled}, kSharedDataView)};
  pe::LoadOptions options;
  options.bindImports = false;
  options.regionStart = 0x0000300000000000ull;
  options.regionEnd = 0x0000300100000000ull;
  options.trailerSize = r.plan.trailerSize();
  options.beforeProtect = [&](std::uint8_t* base) { r.plan.Apply(base); };
  auto loaded = pe::LoadImage(std::move(*image), options);
  if (!loaded) return std::nullopt;
  r.image = std::move(*loaded);
  return r;
}

TEST(Rewriter, EveryTrampolineMatchesTheCodeItReplaced) {
  unsigned images = 0, constants = 0, constantsRewritten = 0;
  cpu::SiteCount reads, writes, interruptFlag;
  auto add = [](cpu::SiteCount& total, const cpu::SiteCount& c) {
    total.sites += c.sites;
    total.rewritten += c.rewritten;
    total.throughPadding += c.throughPadding;
  };
  for (const auto& entry : std::filesystem::directory_iterator(NTBOX_DRIVER_DIR)) {
    if (entry.path().extension() != ".sys") continue;
    auto r = Load(entry.path());
    ASSERT_TRUE(r) << entry.path();
    ++images;
    const auto& stats = r->plan.stats();
    add(reads, stats.cr8Reads);
    add(writes, stats.cr8Writes);
    add(interruptFlag, stats.interruptFlag);
    constants += stats.sharedDataSites;
    constantsRewritten += stats.sharedDataRewritten;
    // Each KUSER_SHARED_DATA constant now names the same offset in the kernel's copy, and views
    // get the original back.
    for (const auto& c : r->plan.constants()) {
      std::uint64_t now = 0;
      std::memcpy(&now, reinterpret_cast<const void*>(r->image->base() + c.rva), 8);
      EXPECT_EQ(now - kSharedDataView, c.original - 0xFFFFF78000000000ull);
      std::uint8_t bytes[8];
      std::memcpy(bytes, &now, 8);
      r->plan.RestoreOriginal(r->image->base(), r->image->base() + c.rva, bytes, 8);
      std::uint64_t restored = 0;
      std::memcpy(&restored, bytes, 8);
      EXPECT_EQ(restored, c.original);
    }
    for (const cpu::SiteCount* c : {&stats.cr8Reads, &stats.cr8Writes, &stats.interruptFlag}) {
      EXPECT_EQ(c->sites, c->rewritten + c->left()) << entry.path();
    }
    const auto verified = r->plan.Verify(r->image->base());
    EXPECT_TRUE(verified) << entry.path() << ": " << (verified ? "" : verified.error().message);
    // The original bytes come back for views of the code.
    for (const auto& w : r->plan.windows()) {
      std::vector<std::uint8_t> bytes(w.length);
      std::memcpy(bytes.data(), reinterpret_cast<const void*>(r->image->base() + w.rva), w.length);
      EXPECT_NE(bytes, w.original);
      r->plan.RestoreOriginal(r->image->base(), r->image->base() + w.rva, bytes.data(), bytes.size());
      EXPECT_EQ(bytes, w.original);
      // A moved instruction resumed after an exception goes on in the trampoline; the window's
      // start stays (its jump leads there).
      EXPECT_EQ(r->plan.ResumeAt(r->image->base(), r->image->base() + w.rva), r->image->base() + w.rva);
      for (const auto& p : w.pieces) {
        if (p.rva == w.rva || p.rva >= w.rva + w.length) continue;
        EXPECT_EQ(r->plan.ResumeAt(r->image->base(), r->image->base() + p.rva),
                  r->image->base() + r->plan.trailerRva() + p.offset);
      }
    }
  }
  EXPECT_GT(images, 30u);
  std::printf("%u images; rewritten: %u of %u cr8 reads, %u of %u cr8 writes, %u of %u cli/sti (%u, %u, %u through "
              "padding), %u of %u KUSER_SHARED_DATA constants\n",
              images, reads.rewritten, reads.sites, writes.rewritten, writes.sites, interruptFlag.rewritten,
              interruptFlag.sites, reads.throughPadding, writes.throughPadding, interruptFlag.throughPadding,
              constantsRewritten, constants);
  EXPECT_GT(constantsRewritten, 0u);
  // Most sites of the test drivers are rewritten (the rest: leaf code no function reaches, or a
  // function with a switch's jump table).
  for (const cpu::SiteCount* c : {&reads, &writes, &interruptFlag}) {
    EXPECT_GT(c->sites, 0u);
    EXPECT_GT(c->rewritten * 2, c->sites) << c->rewritten << " of " << c->sites;
  }
}

// Plain images: nothing to rewrite, no trailer.
TEST(Rewriter, AnImageWithoutCr8ReadsGetsNoTrailer) {
  auto r = Load(std::filesystem::path(NTBOX_DRIVER_DIR) / "FirstDriverSample.sys");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->plan.stats().cr8Reads.sites + r->plan.stats().cr8Writes.sites + r->plan.stats().interruptFlag.sites, 0u);
  EXPECT_EQ(r->plan.trailerSize(), 0u);
}

}  // namespace

// A switch's jump table is followed (gcc's in .rdata, clang's inside .text, clang -O0's bound by a
// sub): the seed's IOCTL dispatch routine built by clang, whose PAGED_CODE sits in a function with
// a jump table, is rewritten whole, and the table's bytes are never taken for code.
TEST(Rewriter, SwitchFunctionsAreFollowedThroughTheirJumpTables) {
  for (const char* name : {"ioctl_sample_seh.sys", "kd_target_pdb.sys", "reg_callbacks.sys", "sync_objects.sys"}) {
    auto r = Load(std::filesystem::path(NTBOX_DRIVER_DIR) / name);
    ASSERT_TRUE(r) << name;
    const auto& stats = r->plan.stats();
    for (const cpu::SiteCount* c : {&stats.cr8Reads, &stats.cr8Writes, &stats.interruptFlag}) {
      EXPECT_EQ(c->unsafeFunction, 0u) << name;
      EXPECT_EQ(c->unreached, 0u) << name;
    }
  }
  auto r = Load(std::filesystem::path(NTBOX_DRIVER_DIR) / "ioctl_sample_seh.sys");
  ASSERT_TRUE(r);
  EXPECT_GT(r->plan.stats().cr8Reads.sites, 0u);
  EXPECT_EQ(r->plan.stats().cr8Reads.rewritten, r->plan.stats().cr8Reads.sites);
}
