// Seed 003 end to end with the test kit: a periodic timer's DPC runs at DISPATCH_LEVEL on a virtual
// processor; the fixed driver queues a work item per tick and writes C:\timer_log.txt at
// PASSIVE_LEVEL; the broken one opens the file in its DPC and the machine stops with
// IRQL_NOT_LESS_OR_EQUAL, reported from the processor's thread (booting again: tests/e2e/IrqlTest).
#include <ntbox/testing.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kWait = (0x22u << 16) | (0x800 << 2);  // TIMER_LOG_IOCTL_WAIT

struct TimerLogResult {
  std::uint32_t ticks, dpcIrql, workerIrql, writeStatus;
};

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class TimerLogTest : public ntbox::testing::Test {};

TEST_F(TimerLogTest, Seed003WorkItemWritesTheFileAtPassiveLevel) {
  ASSERT_TRUE(machine().StartDriver("timer_log"));
  auto device = machine().Open("\\\\.\\TimerLog");
  const auto r = device.Query(kWait, sizeof(TimerLogResult));
  ASSERT_TRUE(r.Succeeded()) << r.error << std::hex << r.status;
  ASSERT_EQ(r.output.size(), sizeof(TimerLogResult));
  const auto result = r.As<TimerLogResult>();
  EXPECT_EQ(result.ticks, 3u);
  EXPECT_EQ(result.dpcIrql, 2u);     // DISPATCH_LEVEL
  EXPECT_EQ(result.workerIrql, 0u);  // PASSIVE_LEVEL
  EXPECT_EQ(result.writeStatus, 0u);
  device.Close();
  ASSERT_TRUE(machine().StopDriver("timer_log"));

  std::ifstream file(machine().directory() / "C" / "timer_log.txt", std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  EXPECT_EQ(text, "tick 1 at IRQL 0\r\ntick 2 at IRQL 0\r\ntick 3 at IRQL 0\r\n");
  const std::string output = machine().DebugOutput();
  EXPECT_TRUE(Contains(output, "timer_log: tick 3 written at IRQL 0 (status 00000000)")) << output;
  EXPECT_TRUE(Contains(output, "timer_log: unloaded")) << output;
}

TEST_F(TimerLogTest, Seed003FileIoInTheDpcBugchecks) {
  machine().ExpectStop(0xA);
  ASSERT_TRUE(machine().StartDriver("timer_log_in_dpc"));
  // The DPC runs on a virtual processor's thread; the stop is reported from there.
  ASSERT_TRUE(machine().WaitIdle());
  ASSERT_TRUE(machine().Stop());
  const std::string report = machine().Stop()->report;
  EXPECT_TRUE(Contains(report, "IRQL_NOT_LESS_OR_EQUAL (a)")) << report;
  EXPECT_TRUE(Contains(report, "ZwCreateFile called at DISPATCH_LEVEL; it may be called at PASSIVE_LEVEL at most"))
      << report;
  // The driver's frames by name, from its COFF symbols: the call site and the DPC routine.
  EXPECT_TRUE(Contains(report, "CALLER:\ntimer_log_in_dpc!AppendLine+0x")) << report;
  EXPECT_TRUE(Contains(report, "STACK_TEXT:\n")) << report;
  EXPECT_TRUE(Contains(report, " timer_log_in_dpc!TimerLogDpc+0x")) << report;
  EXPECT_TRUE(Contains(report, "CURRENT_IRQL:  2")) << report;
  EXPECT_FALSE(fs::exists(machine().directory() / "C" / "timer_log.txt"));
  // A stopped machine runs no driver code (and says so once, with the report: here expected).
  EXPECT_FALSE(machine().Open("\\\\.\\TimerLog"));
}

}  // namespace
