// The machine's debug log: records survive as written, numbering continues across boots, and
// rotation keeps the newest records readable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "machine/DebugLog.h"

namespace ntbox::machine {
namespace {

namespace fs = std::filesystem;

nt::DebugRecord Record(std::string text) {
  nt::DebugRecord r;
  r.component = 77;
  r.level = 2;
  r.text = std::move(text);
  r.passed = false;
  return r;
}

TEST(DebugLogTest, NumberingContinuesAcrossBootsAndRotation) {
  const fs::path file = fs::path(testing::TempDir()) / ("ntbox_log_" + std::to_string(getpid()));
  fs::remove(file);
  fs::remove(file.string() + ".1");
  {
    DebugLog log(file);
    EXPECT_EQ(log.Append(Record("one\ttab\\back\n")).sequence, 1u);
    EXPECT_EQ(log.Append(Record("two")).sequence, 2u);
  }
  {
    DebugLog log(file, 200);  // a small bound: every few records rotate
    for (int i = 3; i <= 20; ++i) EXPECT_EQ(log.Append(Record("record " + std::to_string(i))).sequence, i);
  }
  DebugLog again(file);
  EXPECT_EQ(again.Append(Record("after")).sequence, 21u);
  const auto all = DebugLog::ReadAll(file);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().text, "after");
  EXPECT_EQ(all.back().component, 77u);
  EXPECT_FALSE(all.back().passed);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].sequence, all[i - 1].sequence + 1);

  std::string line = DebugLog::Encode({9, 1.5, 101, 3, true, "a\tb\\c\nd"});
  ASSERT_EQ(line.back(), '\n');  // one record, one line
  line.pop_back();
  const auto decoded = DebugLog::Decode(line);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->text, "a\tb\\c\nd");
  EXPECT_FALSE(DebugLog::Decode("not a record"));
  fs::remove(file);
  fs::remove(file.string() + ".1");
}

}  // namespace
}  // namespace ntbox::machine
