// support/Suggest: edit distance with transpositions, and the nearest plausible candidate.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "support/Suggest.h"

namespace {

using ntbox::Closest;
using ntbox::EditDistance;

TEST(Suggest, EditDistanceCountsSwapsAsOneEdit) {
  EXPECT_EQ(EditDistance("status", "status"), 0u);
  EXPECT_EQ(EditDistance("statsu", "status"), 1u);
  EXPECT_EQ(EditDistance("quer", "query"), 1u);
  EXPECT_EQ(EditDistance("QUERY", "query"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(Suggest, ClosestOnlyWhenPlausible) {
  const std::vector<std::string_view> commands{"boot", "shutdown", "reboot", "status", "sc", "reg", "load"};
  EXPECT_EQ(Closest("statsu", commands), "status");
  EXPECT_EQ(Closest("shutdwn", commands), "shutdown");
  EXPECT_EQ(Closest("rg", commands), "reg");
  EXPECT_EQ(Closest("frobnicate", commands), std::nullopt);
  EXPECT_EQ(Closest("xyz", commands), std::nullopt);
}

}  // namespace
