// Seed 003 end to end, in-process through ntbox::Machine: a periodic timer's DPC runs at
// DISPATCH_LEVEL on a virtual processor; the fixed driver queues a work item per tick and writes
// C:\timer_log.txt at PASSIVE_LEVEL; the broken one opens the file in its DPC and the machine stops
// with IRQL_NOT_LESS_OR_EQUAL, reported from the processor's thread, and boots again intact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>

#include "machine/Machine.h"
#include "tests/e2e/InProcess.h"
#include "tests/e2e/NtboxRun.h"

namespace {

namespace fs = std::filesystem;
using ntbox::machine::Machine;

constexpr std::uint32_t kWait = (0x22u << 16) | (0x800 << 2);  // TIMER_LOG_IOCTL_WAIT

struct TimerLogResult {
  std::uint32_t ticks, dpcIrql, workerIrql, writeStatus;
};

class IrqlTest : public ntbox::test::InProcessMachine {
 protected:
  void SetUp() override { Install({"timer_log", "timer_log_in_dpc"}); }
};

TEST_F(IrqlTest, Seed003WorkItemWritesTheFileAtPassiveLevel) {
  Boot();
  ASSERT_TRUE(machine_->StartService("timer_log"));
  auto h = machine_->OpenDevice("\\\\.\\TimerLog");
  ASSERT_TRUE(h) << h.error().message;
  std::vector<std::uint8_t> out;
  auto r = machine_->DeviceIoControl(*h, kWait, {}, out, sizeof(TimerLogResult));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 0) << std::hex << r->status;
  ASSERT_EQ(out.size(), sizeof(TimerLogResult));
  TimerLogResult result;
  std::memcpy(&result, out.data(), sizeof result);
  EXPECT_EQ(result.ticks, 3u);
  EXPECT_EQ(result.dpcIrql, 2u);     // DISPATCH_LEVEL
  EXPECT_EQ(result.workerIrql, 0u);  // PASSIVE_LEVEL
  EXPECT_EQ(result.writeStatus, 0u);
  ASSERT_TRUE(machine_->CloseHandle(*h));
  ASSERT_TRUE(machine_->StopService("timer_log"));

  std::ifstream file(dir_ / "C" / "timer_log.txt", std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  EXPECT_EQ(text, "tick 1 at IRQL 0\r\ntick 2 at IRQL 0\r\ntick 3 at IRQL 0\r\n");
  const std::string output = Output();
  EXPECT_NE(output.find("timer_log: tick 3 written at IRQL 0 (status 00000000)"), std::string::npos) << output;
  EXPECT_NE(output.find("timer_log: unloaded"), std::string::npos) << output;
  EXPECT_FALSE(machine_->crashReport());
}

TEST_F(IrqlTest, Seed003FileIoInTheDpcBugchecksAndTheMachineBootsAgain) {
  Boot();
  std::promise<void> crashed;
  machine_->SetCrashListener([&] { crashed.set_value(); });
  ASSERT_TRUE(machine_->StartService("timer_log_in_dpc"));
  // The DPC runs on a virtual processor's thread; the stop is reported from there.
  ASSERT_EQ(crashed.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const std::string report = machine_->crashReport().value_or("");
  EXPECT_NE(report.find("IRQL_NOT_LESS_OR_EQUAL (a)"), std::string::npos) << report;
  EXPECT_NE(report.find("ZwCreateFile called at DISPATCH_LEVEL; it may be called at PASSIVE_LEVEL at most"),
            std::string::npos)
      << report;
  // The driver's frames by name, from its COFF symbols: the call site and the DPC routine.
  EXPECT_NE(report.find("CALLER:\ntimer_log_in_dpc!AppendLine+0x"), std::string::npos) << report;
  EXPECT_NE(report.find("STACK_TEXT:\n"), std::string::npos) << report;
  EXPECT_NE(report.find(" timer_log_in_dpc!TimerLogDpc+0x"), std::string::npos) << report;
  EXPECT_NE(report.find("CURRENT_IRQL:  2"), std::string::npos) << report;
  EXPECT_FALSE(fs::exists(dir_ / "C" / "timer_log.txt"));
  EXPECT_FALSE(machine_->OpenDevice("\\\\.\\TimerLog"));  // a stopped machine runs no driver code
  machine_.reset();

  Boot();
  const auto service = machine_->QueryService("timer_log_in_dpc");
  ASSERT_TRUE(service);
  EXPECT_EQ(service->state, ntbox::machine::ServiceState::kStopped);
  EXPECT_TRUE(fs::exists(dir_ / "crashes" / "last.txt"));
}

}  // namespace

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;

class IrqlCliTest : public ntbox::test::MachineFixture {};

// From the shell: the stop happens on a processor's thread, not in any command; a follower hears
// of it, `ntbox crash` shows the report, and the next command finds the machine booted again.
TEST_F(IrqlCliTest, BackgroundBugcheckIsReportedAndTheMachineBootsAgain) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create TimerLogBad type= kernel binPath= " + Driver("timer_log_in_dpc.sys")).exit, 0);
  ASSERT_EQ(Run("sc start TimerLogBad").exit, 0);
  const auto followed = Run("dbgview --follow");  // ends when the machine stops
  EXPECT_EQ(followed.exit, 4) << followed.err;
  EXPECT_TRUE(Contains(followed.err, "the machine stopped with a bugcheck (report: ")) << followed.err;

  const auto crash = Run("crash");
  EXPECT_EQ(crash.exit, 0);
  EXPECT_TRUE(Contains(crash.out, "IRQL_NOT_LESS_OR_EQUAL (a)")) << crash.out;
  EXPECT_TRUE(Contains(crash.out, "timer_log_in_dpc!TimerLogDpc+0x")) << crash.out;
  const auto list = Run("crash --list");
  EXPECT_TRUE(Contains(list.out, "  1  ")) << list.out;
  EXPECT_TRUE(Contains(list.out, "0x0000000A  IRQL_NOT_LESS_OR_EQUAL")) << list.out;
  EXPECT_TRUE(Contains(list.out, "timer_log_in_dpc")) << list.out;
  EXPECT_EQ(Run("crash --show 2").exit, 2);

  // Registry and services are intact on the machine the next command boots.
  const auto query = Run("sc query TimerLogBad");
  EXPECT_EQ(query.exit, 0) << query.err;
  EXPECT_TRUE(Contains(query.out, "STATE              : 1  STOPPED")) << query.out;
}

}  // namespace
