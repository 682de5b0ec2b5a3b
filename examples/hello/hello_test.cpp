// The example's GoogleTest suite on ntbox::testing: each test gets a machine of its own.
#include <ntbox/testing.h>

#include "hello.h"

namespace {

class Hello : public ntbox::testing::Test {};

TEST_F(Hello, ReversesWhatItIsSent) {
  ASSERT_TRUE(machine().StartDriver("hello"));
  auto device = machine().Open("\\\\.\\ExampleHello");
  const auto reply = device.Ioctl(IOCTL_HELLO_REVERSE, "ntbox", 255);
  ASSERT_TRUE(reply.Succeeded()) << reply.error;
  EXPECT_EQ(reply.Text(), "xobtn");
  EXPECT_NE(machine().DebugOutput().find("hello from the example driver"), std::string::npos);
}

TEST_F(Hello, TheAppTalksToTheDriver) {
  ASSERT_TRUE(machine().StartDriver("hello"));
  const auto run = machine().Run("hello_app", {"ntbox"});
  EXPECT_EQ(run.exitCode, 0u);
  EXPECT_EQ(run.output, "reply: xobtn\r\n");
}

// A test that expects the driver to stop the machine: it passes only if it does.
TEST_F(Hello, TheCrashServiceStopsTheMachine) {
  machine().ExpectStop(0xE2);  // MANUALLY_INITIATED_CRASH
  EXPECT_FALSE(machine().StartDriver("hello", "crash"));
  ASSERT_TRUE(machine().Stop());
  // The report names the driver's function and its source line.
  EXPECT_NE(machine().Stop()->report.find("hello!DriverEntry+0x"), std::string::npos) << machine().Stop()->report;
  EXPECT_NE(machine().Stop()->report.find("hello.c @ "), std::string::npos) << machine().Stop()->report;
}

}  // namespace
