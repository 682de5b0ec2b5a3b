// End to end: the kernel debugger (ntbox kd) on real drivers through the CLI: seed 000's session
// (lm, x, uf with source lines), memory and expressions, !drvobj, errors that leave the session going.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "NtboxRun.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Outcome;

class KdTest : public ntbox::test::MachineFixture {
 protected:
  // Test signing and kernel debugging on, then the driver started.
  void BootWithDriver(const std::string& service, const std::string& image) {
    ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
    ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
    ASSERT_EQ(Run("reboot").exit, 0);
    ASSERT_EQ(Run("sc create " + service + " type= kernel binPath= " + Driver(image)).exit, 0);
    const Outcome r = Run("sc start " + service);
    ASSERT_EQ(r.exit, 0) << r.out << r.err;
  }
  Outcome Kd(const std::string& commands) { return Run("kd -c '" + commands + "'"); }
};

bool Matches(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::multiline));
}

TEST_F(KdTest, NeedsKernelDebuggingOn) {
  const Outcome r = Run("kd -c lm");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "kernel debugging is not enabled")) << r.err;
  EXPECT_TRUE(Contains(r.err, "ntbox bcdedit /debug on")) << r.err;
  EXPECT_TRUE(Contains(r.err, "ntbox reboot")) << r.err;
}

TEST_F(KdTest, Seed000Session) {
  BootWithDriver("FirstDriverSample", "FirstDriverSample.sys");
  const Outcome r = Kd("lm; x /D /f FirstDriverSample!d*; uf FirstDriverSample!DriverEntry; lm m FirstDriverSample");
  EXPECT_EQ(r.exit, 0) << r.err;
  const std::string& out = r.out;
  // lm: the driver (symbols deferred until first use) and nt.
  EXPECT_TRUE(Contains(out, "kd> lm\nstart             end                 module name\n")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{8}`[0-9a-f]{8} [0-9a-f]{8}`[0-9a-f]{8}   FirstDriverSample   \(deferred\)$)"))
      << out;
  EXPECT_TRUE(Matches(out, R"(   nt         \(export symbols\) )")) << out;
  // x: the functions whose names start with d, with their parameter types from DWARF.
  EXPECT_TRUE(Matches(out, R"(kd> x /D /f FirstDriverSample!d\*
[0-9a-f]{8}`[0-9a-f]{8} FirstDriverSample!DriverEntry \(struct _DRIVER_OBJECT \*, struct _UNICODE_STRING \*\)
[0-9a-f]{8}`[0-9a-f]{8} FirstDriverSample!DbgPrint \(DbgPrint\)
kd> uf)"))
      << out;
  // uf: the source line of every instruction, from the function's first line to its return.
  EXPECT_TRUE(Matches(out, R"(kd> uf FirstDriverSample!DriverEntry
FirstDriverSample!DriverEntry \[.*/tests/drivers/first_driver/FirstDriver.cpp @ 13\]:
   13 [0-9a-f]{8}`[0-9a-f]{8} 55              push    rbp
)")) << out;
  EXPECT_TRUE(Matches(out, R"(^   16 [0-9a-f`]{17} [0-9a-f]+ +lea     rdx,\[FirstDriverSample!FirstDriverUnload \([0-9a-f`]{17}\)\]$)"))
      << out;
  EXPECT_TRUE(Matches(out, R"(^   16 [0-9a-f`]{17} 48895068        mov     qword ptr \[rax\+68h\],rdx$)")) << out;
  EXPECT_TRUE(Matches(out, R"(^   20 [0-9a-f`]{17} [0-9a-f]+ +mov     dword ptr \[rbp-60h\],11Ch$)")) << out;
  EXPECT_TRUE(Matches(out, R"(^   21 [0-9a-f`]{17} [0-9a-f]+ +mov     rax,qword ptr \[FirstDriverSample!_imp_RtlGetVersion )"))
      << out;
  EXPECT_TRUE(Matches(out, R"(^   23 [0-9a-f`]{17} e8[0-9a-f]{8}      call    FirstDriverSample!DbgPrint \()")) << out;
  EXPECT_TRUE(Matches(out, R"(^   27 [0-9a-f`]{17} c3              ret$)")) << out;
  // Symbols read: lm says so.
  EXPECT_TRUE(Matches(out, R"(FirstDriverSample   \(dwarf symbols\)        .*FirstDriverSample.sys)")) << out;
}

TEST_F(KdTest, MemoryExpressionsAndObjects) {
  BootWithDriver("FirstDriverSample", "FirstDriverSample.sys");
  const Outcome r = Kd("? 0n10+0x10; ? FirstDriverSample!DriverEntry-FirstDriverSample; db FirstDriverSample!DriverEntry L10;"
                       " dd FirstDriverSample!DriverEntry L4; dq 0 L2; !drvobj FirstDriverSample 2;"
                       " u FirstDriverSample!FirstDriverUnload L2; nonsense; ? nosuch!symbol; !drvobj nosuch");
  EXPECT_EQ(r.exit, 0) << r.err;
  const std::string& out = r.out;
  EXPECT_TRUE(Contains(out, "Evaluate expression: 26 = 00000000`0000001a\n")) << out;
  EXPECT_TRUE(Matches(out, R"(Evaluate expression: 4130 = 00000000`00001022)")) << out;
  // The bytes of DriverEntry's push rbp; sub rsp, ...: 55 48 81 ec.
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f`]{17}  55 48 81 ec [0-9a-f]{2} [0-9a-f]{2} 00 00-48 8d ac 24 [0-9a-f ]+  UH\.\.)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f`]{17}  ec814855 )")) << out;
  // Unreadable memory is ??, never a stop.
  EXPECT_TRUE(Contains(out, "00000000`00000000  ????????`???????? ????????`????????\n")) << out;
  EXPECT_TRUE(Contains(out, "\\Driver\\FirstDriverSample\n\nDriverEntry:   ")) << out;
  EXPECT_TRUE(Matches(out, R"(DriverUnload:  [0-9a-f]{16}	FirstDriverSample!FirstDriverUnload)")) << out;
  EXPECT_TRUE(Matches(out, R"(\[0e\] IRP_MJ_DEVICE_CONTROL              [0-9a-f]{16}	nt!IopInvalidDeviceRequest)")) << out;
  EXPECT_TRUE(Contains(out, "FirstDriverSample!FirstDriverUnload [")) << out;
  EXPECT_TRUE(Contains(out, "kd> nonsense\n       ^ Syntax error in 'nonsense'\n")) << out;
  EXPECT_TRUE(Contains(out, "Couldn't resolve error at 'nosuch!symbol'\n")) << out;
  EXPECT_TRUE(Contains(out, "Driver object nosuch not found\n")) << out;
  // The machine goes on: the driver still answers.
  EXPECT_EQ(Run("sc query FirstDriverSample").exit, 0);
}

}  // namespace
