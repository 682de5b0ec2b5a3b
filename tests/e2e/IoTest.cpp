// The I/O path in-process through ntbox::Machine (the native client): seed 002's driver started
// as a service, opened by its DOS name, driven with each transfer method and with bad buffers,
// closed and stopped; a fault in a dispatch routine stops the machine with a report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "machine/Machine.h"

namespace {

namespace fs = std::filesystem;
using ntbox::machine::Handle;
using ntbox::machine::Machine;

constexpr std::uint32_t Ctl(std::uint32_t function, std::uint32_t method) {
  return (40000u << 16) | (function << 2) | method;
}
constexpr std::uint32_t kInDirect = Ctl(0x900, 1);
constexpr std::uint32_t kOutDirect = Ctl(0x901, 2);
constexpr std::uint32_t kNeither = Ctl(0x902, 3);
constexpr std::uint32_t kBuffered = Ctl(0x903, 0);
constexpr std::uint32_t kFault = Ctl(0x9F0, 0);
constexpr char kReply[] = "This String is from Device Driver !!!";

class IoTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(testing::TempDir()) / ("ntbox_io_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    {
      auto m = Machine::Boot(dir_);
      ASSERT_TRUE(m) << m.error().message;
      ASSERT_TRUE((*m)->StoreBootConfig(ntbox::machine::BootConfig{true, false}));
      ntbox::machine::ServiceConfig config;
      config.name = "SIoctl";
      config.imagePath = Machine::ToImagePath(NTBOX_DRIVER_DIR "/ioctl_sample.sys", "/");
      ASSERT_TRUE((*m)->CreateService(config));
    }
    auto m = Machine::Boot(dir_);
    ASSERT_TRUE(m) << m.error().message;
    machine_ = std::move(*m);
    log_ = machine_->AddDebugListener([this](const ntbox::machine::LoggedRecord& r) { output_ += r.text; });
    auto started = machine_->StartService("SIoctl");
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (machine_) machine_->RemoveDebugListener(log_);
    machine_.reset();
    fs::remove_all(dir_);
  }
  Handle Open() {
    auto h = machine_->OpenDevice("\\\\.\\IoctlTest");
    EXPECT_TRUE(h) << h.error().message;
    return h ? *h : Handle{};
  }
  bool Logged(const std::string& text) const { return output_.find(text) != std::string::npos; }

  fs::path dir_;
  std::unique_ptr<Machine> machine_;
  int log_ = 0;
  std::string output_;
};

TEST_F(IoTest, FourMethodsAsSeed002) {
  const Handle h = Open();
  EXPECT_TRUE(Logged("ioctl_sample: IRP_MJ_CREATE\n"));
  const std::string input = "This String is from User Application; using METHOD_";
  const std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(input.c_str()), input.size() + 1);
  for (std::uint32_t code : {kBuffered, kOutDirect, kNeither}) {
    std::vector<std::uint8_t> out;
    auto r = machine_->DeviceIoControl(h, code, in, out, 100);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 0) << std::hex << code;
    EXPECT_EQ(r->information, sizeof kReply) << std::hex << code;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data())), kReply);
  }
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_BUFFERED\n"));
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_OUT_DIRECT\n"));
  EXPECT_TRUE(Logged("ioctl_sample: METHOD_NEITHER\n"));
  EXPECT_TRUE(Logged("ioctl_sample: input (52 bytes): \"This String is from User Application; using METHOD_\"\n")) << output_;

  // IN_DIRECT: the output buffer is a second input the driver reads through its MDL.
  auto second = machine_->AllocateUserBuffer(64);
  std::strcpy(reinterpret_cast<char*>(second.data()), "second input");
  auto first = machine_->AllocateUserBuffer(64);
  std::strcpy(reinterpret_cast<char*>(first.data()), "first");
  auto r = machine_->DeviceIoControl(h, kInDirect, first.data(), 6, second.data(), 64);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->information, 64u);
  EXPECT_TRUE(Logged("ioctl_sample: second input (64 bytes): \"second input\"\n"));

  // A buffer too small gets what fits.
  std::vector<std::uint8_t> out;
  r = machine_->DeviceIoControl(h, kBuffered, in, out, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->information, 4u);
  EXPECT_EQ(std::string(out.begin(), out.end()), "This");

  ASSERT_TRUE(machine_->CloseHandle(h));
  EXPECT_TRUE(Logged("ioctl_sample: IRP_MJ_CLOSE\n"));
  EXPECT_FALSE(machine_->CloseHandle(h)) << "a closed handle is invalid";
  ASSERT_TRUE(machine_->StopService("SIoctl"));
  EXPECT_TRUE(Logged("ioctl_sample: unloaded\n"));
  EXPECT_FALSE(machine_->OpenDevice("\\\\.\\IoctlTest")) << "the link went with the driver";
}

TEST_F(IoTest, BadBuffersFailAsOnWindows) {
  const Handle h = Open();
  auto user = machine_->AllocateUserBuffer(4096);
  std::uint8_t kernel[64] = {};  // host memory: above MmUserProbeAddress, like kernel memory
  // Buffered and direct: the I/O manager probes and fails the call before the driver sees it.
  for (std::uint32_t code : {kBuffered, kOutDirect}) {
    auto r = machine_->DeviceIoControl(h, code, kernel, 8, user.data(), 64);
    ASSERT_TRUE(r);
    EXPECT_EQ(static_cast<std::uint32_t>(r->status), 0xC0000005u);
    EXPECT_EQ(r->win32, 998u);
    r = machine_->DeviceIoControl(h, code, user.data(), 8, kernel, 64);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->win32, 998u);
    r = machine_->DeviceIoControl(h, code, nullptr, 8, user.data(), 64);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->win32, 998u);
  }
  // Zero lengths reach the driver, which refuses them.
  auto r = machine_->DeviceIoControl(h, kBuffered, nullptr, 0, nullptr, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<std::uint32_t>(r->status), 0xC000000Du);
  EXPECT_EQ(r->win32, 87u);
  // An IOCTL the driver does not know.
  r = machine_->DeviceIoControl(h, Ctl(0x955, 0), user.data(), 4, user.data() + 64, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->win32, 1u);
  // Names that are not there.
  auto missing = machine_->OpenDevice("\\\\.\\NoSuchDevice");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().win32, 2u);
  // The driver stays loaded while a handle is open.
  auto stop = machine_->StopService("SIoctl");
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().win32, 1061u);
  ASSERT_TRUE(machine_->CloseHandle(h));
  EXPECT_TRUE(machine_->StopService("SIoctl"));
}

// A filter driver attached above the sample's device: requests reach the top of the stack, its
// completion routines run as the IRP unwinds, and it detaches when it unloads.
TEST_F(IoTest, FilterAboveTheDevice) {
  ntbox::machine::ServiceConfig config;
  config.name = "Filter";
  config.imagePath = Machine::ToImagePath(NTBOX_DRIVER_DIR "/filter_sample.sys", "/");
  ASSERT_TRUE(machine_->CreateService(config));
  auto started = machine_->StartService("Filter");
  ASSERT_TRUE(started) << started.error().message << output_;
  EXPECT_TRUE(Logged("filter_sample: attached above \\Device\\SIOCTL (stack size 2)\n")) << output_;

  const Handle h = Open();
  const std::string input = "hello";
  const std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(input.c_str()), input.size() + 1);
  std::vector<std::uint8_t> out;
  // Forward and wait: the filter upper-cases what the driver below wrote.
  auto r = machine_->DeviceIoControl(h, kBuffered, in, out, 100);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data())), "THIS STRING IS FROM DEVICE DRIVER !!!");
  EXPECT_TRUE(Logged("filter_sample: upper-cased 38 bytes of the reply\n"));
  // A completion routine on the way up, called with the filter's device.
  r = machine_->DeviceIoControl(h, kOutDirect, in, out, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data())), kReply);
  EXPECT_TRUE(Logged("filter_sample: completion on the filter device: status 00000000, 38 bytes\n")) << output_;
  // Passed through untouched.
  r = machine_->DeviceIoControl(h, kNeither, in, out, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data())), kReply);
  ASSERT_TRUE(machine_->CloseHandle(h));

  // The filter holds a reference on the device below: that driver cannot go first.
  EXPECT_FALSE(machine_->StopService("SIoctl"));
  ASSERT_TRUE(machine_->StopService("Filter"));
  EXPECT_TRUE(Logged("filter_sample: detached and unloaded\n"));
  ASSERT_TRUE(machine_->StopService("SIoctl"));
}

TEST_F(IoTest, FaultInDispatchStopsTheMachineWithAReport) {
  const Handle h = Open();
  auto user = machine_->AllocateUserBuffer(64);
  auto r = machine_->DeviceIoControl(h, kFault, user.data(), 4, user.data() + 8, 4);
  ASSERT_FALSE(r);
  const std::string& report = r.error().message;
  EXPECT_NE(report.find("KMODE_EXCEPTION_NOT_HANDLED (1e)"), std::string::npos) << report;
  EXPECT_NE(report.find("ioctl_sample!SampleDeviceControl+0x"), std::string::npos) << report;
  ASSERT_TRUE(machine_->crashReport());
  EXPECT_FALSE(machine_->OpenDevice("\\\\.\\IoctlTest")) << "a stopped machine runs no driver code";
}

}  // namespace
