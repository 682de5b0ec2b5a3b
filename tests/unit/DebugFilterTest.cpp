// The Debug Print Filter: component ids as mingw-w64's dpfilter.h numbers them, and
// DbgPrintEx's level rules.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "nt/kd/DebugFilter.h"

namespace ntbox::nt {
namespace {

TEST(DebugFilterTest, ComponentIdsMatchMingwDpfilterHeader) {
  std::ifstream in("/usr/share/mingw-w64/include/dpfilter.h");
  ASSERT_TRUE(in) << "mingw-w64 headers are installed by scripts/setup.sh";
  std::stringstream text;
  text << in.rdbuf();
  const std::string header = text.str();
  const std::regex id("DPFLTR_([A-Z0-9_]+)_ID");
  ULONG expected = 0;
  for (auto it = std::sregex_iterator(header.begin(), header.end(), id); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    if (name == "ENDOFTABLE") break;
    EXPECT_EQ(DebugComponentName(expected), name) << "component " << expected;
    EXPECT_EQ(DebugComponentId(name), expected);
    ++expected;
  }
  EXPECT_EQ(expected, DebugComponentCount());
  EXPECT_EQ(DebugComponentId("ihvdriver"), 77u);
  EXPECT_EQ(DebugComponentId("DEFAULT"), 101u);
  EXPECT_FALSE(DebugComponentId("NOSUCH"));
}

TEST(DebugFilterTest, LevelRules) {
  DebugFilter f;  // Windows' defaults: WIN2000 = 1, every component 0
  EXPECT_TRUE(f.Passes(77, 0)) << "errors pass by default";
  EXPECT_FALSE(f.Passes(77, 1));
  EXPECT_FALSE(f.Passes(101, 3)) << "DbgPrint (DEFAULT, INFO) is filtered by default since Vista";
  f.SetMask(77, 0x3);
  EXPECT_TRUE(f.Passes(77, 1));
  EXPECT_FALSE(f.Passes(77, 2));
  EXPECT_FALSE(f.Passes(78, 1)) << "another component keeps its own mask";
  EXPECT_FALSE(f.Passes(77, 0x20)) << "levels above 31 are masks: 0x20 & 0x3 = 0";
  f.SetMask(77, 0x23);
  EXPECT_TRUE(f.Passes(77, 0x20));
  EXPECT_FALSE(f.Passes(77, 0x40));
  f.SetMask(DebugFilter::kWin2000, 0xF);
  EXPECT_TRUE(f.Passes(5, 3)) << "the WIN2000 mask opens every component";
}

}  // namespace
}  // namespace ntbox::nt
