// The SDK's header layer end to end: a driver written as the WDK's samples write one (role types,
// SAL, wdmsec's IoCreateDeviceSecure, ntstrsafe in two files, CTL_CODE(0x8000, ...) in a C++
// switch, RTL_CONSTANT_STRING at file scope, ExAllocatePool2, dontuse.h, suppress.h), unmodified,
// built by gcc and clang in C++ and in C, loads and runs; its reports name C++ functions as
// WinDbg does, with their source lines (debug information is always on); and gcc says what to do
// about __try.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "NtboxRun.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Ntbox;
using ntbox::test::Outcome;

TEST(Sdk, WdkStyleDriversBuildUnmodifiedAndRun) {
  for (const char* name : {"wdk_style.sys", "wdk_style_clang.sys"}) {
    const Outcome r = Ntbox(std::string("load ") + Driver(name));
    EXPECT_EQ(r.exit, 0) << name << r.out << r.err;
    EXPECT_TRUE(Contains(r.out, "WdkStyle: WdkStyle device, 0 requests, reversed xobtn, IOCTL 80002400\n")) << r.out;
    EXPECT_TRUE(Contains(r.out, "DriverEntry returned 0x00000000 (STATUS_SUCCESS); unloaded")) << r.out;
  }
  for (const char* name : {"wdk_style_c.sys", "wdk_style_c_clang.sys"}) {
    const Outcome r = Ntbox(std::string("load ") + Driver(name));
    EXPECT_EQ(r.exit, 0) << name << r.out << r.err;
    EXPECT_TRUE(Contains(r.out, "WdkStyleC: 80006404 is describe\n")) << r.out;
  }
}

TEST(Sdk, ReportsNameCxxFunctionsWithTheirLines) {
  const std::string source = std::string(NTBOX_SOURCE_DIR) + "/tests/drivers/wdk_style/util.cpp";
  for (const char* name : {"wdk_style", "wdk_style_clang"}) {
    const Outcome r = Ntbox(std::string("load --service fault ") + Driver(std::string(name) + ".sys"));
    EXPECT_EQ(r.exit, 4) << r.out;
    EXPECT_TRUE(Contains(r.out, std::string("FAULTING_IP:\n") + name + "!ReverseBuffer+0x")) << r.out;
    EXPECT_TRUE(Contains(r.out, "[" + source + " @ ")) << r.out;
    EXPECT_FALSE(Contains(r.out, "_Z")) << r.out;
  }
}

TEST(Sdk, GccNamesClangForTry) {
  const std::string dir = testing::TempDir();
  const std::string file = dir + "/sdk_try.c", err = dir + "/sdk_try.err";
  std::ofstream(file) << "int f(void) {\n  __try {\n    return 1;\n  } __except (1) {\n    return 0;\n  }\n}\n";
  const std::string command = "x86_64-w64-mingw32-gcc -fsyntax-only -include " + std::string(NTBOX_SOURCE_DIR) +
                              "/sdk/include/ntbox/prelude.h " + file + " 2>" + err;
  const int status = std::system(command.c_str());
  const std::string text = ntbox::test::Slurp(err);
  EXPECT_NE(status, 0);
  EXPECT_TRUE(Contains(text, "sdk_try.c:2")) << text;
  EXPECT_TRUE(Contains(text, "build the driver with clang (ntbox_add_driver(NAME SOURCES ... CLANG))")) << text;
  std::remove(file.c_str());
  std::remove(err.c_str());
}

}  // namespace
