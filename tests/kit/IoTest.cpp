// The I/O path with the test kit: seed 002's driver started as a service, opened by its DOS name,
// driven with each transfer method and with bad buffers, closed and stopped; a filter above it; a
// fault in a dispatch routine stops the machine with a report.
#include <gtest/gtest-spi.h>
#include <ntbox/testing.h>

#include <cstring>
#include <string>

namespace {

constexpr std::uint32_t Ctl(std::uint32_t function, std::uint32_t method) {
  return (40000u << 16) | (function << 2) | method;
}
constexpr std::uint32_t kInDirect = Ctl(0x900, 1);
constexpr std::uint32_t kOutDirect = Ctl(0x901, 2);
constexpr std::uint32_t kNeither = Ctl(0x902, 3);
constexpr std::uint32_t kBuffered = Ctl(0x903, 0);
constexpr std::uint32_t kFault = Ctl(0x9F0, 0);
constexpr char kReply[] = "This String is from Device Driver !!!";
// The sample's input, with its NUL, as seed 002's app sends it.
constexpr char kInputText[] = "This String is from User Application; using METHOD_";
constexpr std::string_view kInput{kInputText, sizeof kInputText};

class IoTest : public ntbox::testing::Test {
 protected:
  void SetUp() override {
    Test::SetUp();
    ASSERT_TRUE(machine().StartDriver("ioctl_sample", "SIoctl"));
  }
  bool Logged(const std::string& text) { return machine().DebugOutput().find(text) != std::string::npos; }
};

TEST_F(IoTest, FourMethodsAsSeed002) {
  auto device = machine().Open("\\\\.\\IoctlTest");
  ASSERT_TRUE(device);
  EXPECT_TRUE(Logged("ioctl_sample: IRP_MJ_CREATE\n"));
  for (std::uint32_t code : {kBuffered, kOutDirect, kNeither}) {
    const auto r = device.Ioctl(code, kInput, 100);
    ASSERT_TRUE(r.delivered) << r.error;
    EXPECT_EQ(r.status, 0u) << std::hex << code;
    EXPECT_EQ(r.information, sizeof kReply) << std::hex << code;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.output.data())), kReply);
  }
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_BUFFERED\n"));
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_OUT_DIRECT\n"));
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_NEITHER\n"));
  EXPECT_TRUE(Logged("ioctl_sample: input (52 bytes): \"This String is from User Application; using METHOD_\"\n"))
      << machine().DebugOutput();

  // IN_DIRECT: the output buffer is a second input the driver reads through its MDL.
  auto second = machine().UserMemory(64);
  std::strcpy(reinterpret_cast<char*>(second.data()), "second input");
  auto first = machine().UserMemory(64);
  std::strcpy(reinterpret_cast<char*>(first.data()), "first");
  auto r = device.IoctlRaw(kInDirect, first.data(), 6, second.data(), 64);
  ASSERT_TRUE(r.delivered);
  EXPECT_EQ(r.status, 0u);
  EXPECT_EQ(r.information, 64u);
  EXPECT_TRUE(Logged("ioctl_sample: second input (64 bytes): \"second input\"\n"));

  // A buffer too small gets what fits.
  r = device.Ioctl(kBuffered, kInput, 4);
  EXPECT_EQ(r.information, 4u);
  EXPECT_EQ(r.Text(), "This");

  device.Close();
  EXPECT_TRUE(Logged("ioctl_sample: IRP_MJ_CLOSE\n"));
  ASSERT_TRUE(machine().StopDriver("SIoctl"));
  EXPECT_TRUE(Logged("ioctl_sample: unloaded\n"));
  // The link went with the driver.
  EXPECT_NONFATAL_FAILURE(machine().Open("\\\\.\\IoctlTest"), "(error 2)");
}

TEST_F(IoTest, BadBuffersFailAsOnWindows) {
  auto device = machine().Open("\\\\.\\IoctlTest");
  auto user = machine().UserMemory(4096);
  std::uint8_t kernel[64] = {};  // host memory: above MmUserProbeAddress, like kernel memory
  // Buffered and direct: the I/O manager probes and fails the call before the driver sees it.
  for (std::uint32_t code : {kBuffered, kOutDirect}) {
    auto r = device.IoctlRaw(code, kernel, 8, user.data(), 64);
    EXPECT_EQ(r.status, 0xC0000005u);
    EXPECT_EQ(r.win32, 998u);
    EXPECT_EQ(device.IoctlRaw(code, user.data(), 8, kernel, 64).win32, 998u);
    EXPECT_EQ(device.IoctlRaw(code, nullptr, 8, user.data(), 64).win32, 998u);
  }
  // Zero lengths reach the driver, which refuses them.
  auto r = device.IoctlRaw(kBuffered, nullptr, 0, nullptr, 0);
  EXPECT_EQ(r.status, 0xC000000Du);
  EXPECT_EQ(r.win32, 87u);
  // An IOCTL the driver does not know.
  EXPECT_EQ(device.IoctlRaw(Ctl(0x955, 0), user.data(), 4, user.data() + 64, 4).win32, 1u);
  // Names that are not there.
  EXPECT_NONFATAL_FAILURE(machine().Open("\\\\.\\NoSuchDevice"), "(error 2)");
  // The driver stays loaded while a handle is open.
  EXPECT_NONFATAL_FAILURE(machine().StopDriver("SIoctl"), "(error 1061)");
}

// A filter driver attached above the sample's device: requests reach the top of the stack, its
// completion routines run as the IRP unwinds, and it detaches when it unloads.
TEST_F(IoTest, FilterAboveTheDevice) {
  ASSERT_TRUE(machine().StartDriver("filter_sample", "Filter"));
  EXPECT_TRUE(Logged("filter_sample: attached above \\Device\\SIOCTL (stack size 2)\n")) << machine().DebugOutput();

  auto device = machine().Open("\\\\.\\IoctlTest");
  const std::string_view input{"hello", 6};
  // Forward and wait: the filter upper-cases what the driver below wrote.
  auto r = device.Ioctl(kBuffered, input, 100);
  EXPECT_EQ(r.status, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.output.data())), "THIS STRING IS FROM DEVICE DRIVER !!!");
  EXPECT_TRUE(Logged("filter_sample: upper-cased 38 bytes of the reply\n"));
  // A completion routine on the way up, called with the filter's device.
  r = device.Ioctl(kOutDirect, input, 100);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.output.data())), kReply);
  EXPECT_TRUE(Logged("filter_sample: completion on the filter device: status 00000000, 38 bytes\n"))
      << machine().DebugOutput();
  // Passed through untouched.
  r = device.Ioctl(kNeither, input, 100);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.output.data())), kReply);
  device.Close();

  // The filter holds a reference on the device below: that driver cannot go first.
  EXPECT_NONFATAL_FAILURE(machine().StopDriver("SIoctl"), "did not stop");
  ASSERT_TRUE(machine().StopDriver("Filter"));
  EXPECT_TRUE(Logged("filter_sample: detached and unloaded\n"));
  ASSERT_TRUE(machine().StopDriver("SIoctl"));
}

TEST_F(IoTest, FaultInDispatchStopsTheMachineWithAReport) {
  machine().ExpectStop(0x1E);
  auto device = machine().Open("\\\\.\\IoctlTest");
  auto user = machine().UserMemory(64);
  const auto r = device.IoctlRaw(kFault, user.data(), 4, user.data() + 8, 4);
  ASSERT_FALSE(r.delivered);
  EXPECT_NE(r.error.find("KMODE_EXCEPTION_NOT_HANDLED (1e)"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ioctl_sample!SampleDeviceControl+0x"), std::string::npos) << r.error;
  ASSERT_TRUE(machine().Stop());
  EXPECT_FALSE(machine().Open("\\\\.\\IoctlTest")) << "a stopped machine runs no driver code";
}

}  // namespace
