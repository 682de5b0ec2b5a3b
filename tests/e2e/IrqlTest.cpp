// Seed 003 from the shell: the broken timer_log's DPC stops the machine on a processor's thread; a
// follower hears of it and the machine boots again intact (in-process: tests/kit/TimerLogTest).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/e2e/NtboxRun.h"

namespace {

namespace fs = std::filesystem;
using ntbox::test::Contains;
using ntbox::test::Driver;

class IrqlCliTest : public ntbox::test::MachineFixture {};

// From the shell: the stop happens on a processor's thread, not in any command; a follower hears
// of it, `ntbox crash` shows the report, and the next command finds the machine booted again.
TEST_F(IrqlCliTest, BackgroundBugcheckIsReportedAndTheMachineBootsAgain) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create TimerLogBad type= kernel binPath= " + Driver("timer_log_in_dpc.sys")).exit, 0);
  // The follower must be connected before the timer (20 ms) fires: it is once it has printed a line
  // already in the log, since it listens before it reads the log.
  ASSERT_EQ(Run("sc create first type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  ASSERT_EQ(Run("sc start first").exit, 0);
  const std::string errFile = dir_.string() + ".follow.err";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const pid_t follower = fork();
  if (follower == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    const std::string cmd = std::string(NTBOX_BIN) + " --machine " + dir_.string() + " dbgview --follow 2>" + errFile;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(p[1]);
  std::string seen;
  char c;
  while (!Contains(seen, "This is my first sample driver\n") && read(p[0], &c, 1) == 1) seen += c;
  ASSERT_TRUE(Contains(seen, "This is my first sample driver\n")) << seen;

  ASSERT_EQ(Run("sc start TimerLogBad").exit, 0);
  while (read(p[0], &c, 1) == 1) seen += c;  // ends when the machine stops
  close(p[0]);
  int status = 0;
  waitpid(follower, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 4) << status;
  std::ifstream errStream(errFile);
  const std::string followErr{std::istreambuf_iterator<char>(errStream), std::istreambuf_iterator<char>()};
  fs::remove(errFile);
  EXPECT_TRUE(Contains(followErr, "the machine stopped with 0x0000000A IRQL_NOT_LESS_OR_EQUAL in timer_log_in_dpc.sys "
                                  "(report saved to " + (dir_ / "crashes").string() + "/"))
      << followErr;
  EXPECT_TRUE(Contains(seen, "timer_log: timer set")) << seen;

  const auto crash = Run("crash");
  EXPECT_EQ(crash.exit, 0);
  EXPECT_TRUE(Contains(crash.out, "IRQL_NOT_LESS_OR_EQUAL (a)")) << crash.out;
  EXPECT_TRUE(Contains(crash.out, "timer_log_in_dpc!TimerLogDpc+0x")) << crash.out;
  const auto list = Run("crash --list");
  EXPECT_TRUE(Contains(list.out, "  1  ")) << list.out;
  EXPECT_TRUE(Contains(list.out, "0x0000000A  IRQL_NOT_LESS_OR_EQUAL")) << list.out;
  EXPECT_TRUE(Contains(list.out, "timer_log_in_dpc")) << list.out;
  EXPECT_EQ(Run("crash --show 2").exit, 2);

  // Registry and services are intact on the machine the next command boots, which says once what
  // ended the last run.
  const auto query = Run("sc query TimerLogBad");
  EXPECT_EQ(query.exit, 0) << query.err;
  EXPECT_TRUE(Contains(query.err, "the machine restarted after 0x0000000A IRQL_NOT_LESS_OR_EQUAL in timer_log_in_dpc.sys "
                                  "(ntbox crash shows the report)"))
      << query.err;
  EXPECT_FALSE(Contains(Run("sc query TimerLogBad").err, "restarted")) << "said once";
  EXPECT_TRUE(Contains(query.out, "STATE              : 1  STOPPED")) << query.out;
}

}  // namespace

// Load-time rewriting (cpu/Rewriter.h) changes nothing a driver can see: every inline privileged
// form (IRQL through each register, flags across a write, cli/sti, KUSER_SHARED_DATA), built by gcc
// and clang at several levels, prints the same checks and the same trace of IRQLs rewritten and
// not, and each stop is the same stop at the same original instruction, with the same flags.
namespace {

using ntbox::test::Driver;
using ntbox::test::Ntbox;
using ntbox::test::Outcome;

// The lines of out that start with prefix.
std::string Lines(const std::string& out, const std::string& prefix) {
  std::string lines;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = std::min(out.find('\n', at), out.size());
    if (out.compare(at, prefix.size(), prefix) == 0) lines += out.substr(at, end - at + 1);
    at = end + 1;
  }
  return lines;
}

// A stop both ways: the bugcheck line, where, and the flags' IF (efl is otherwise the trampoline's).
void ExpectTheSameStop(const std::string& image, const std::string& service) {
  const Outcome a = Ntbox("load --service " + service + " " + image);
  const Outcome b = Ntbox("load --no-rewrite --service " + service + " " + image);
  EXPECT_EQ(a.exit, 4) << service << a.out;
  const std::string stop = Lines(a.out, "*** STOP: ");
  EXPECT_NE(stop, "") << service << a.out;
  EXPECT_EQ(stop, Lines(b.out, "*** STOP: ")) << service;
  const auto faultingIp = [](const std::string& out) {
    const std::size_t at = out.find("FAULTING_IP:\n");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at + 13) - at);
  };
  EXPECT_NE(faultingIp(a.out), "") << service << a.out;
  EXPECT_EQ(faultingIp(a.out), faultingIp(b.out)) << service;
  const auto interruptFlag = [](const std::string& out) {
    const std::size_t at = out.find("efl=");
    return at == std::string::npos ? -1 : static_cast<int>((std::stoul(out.substr(at + 4, 8), nullptr, 16) >> 9) & 1);
  };
  EXPECT_EQ(interruptFlag(a.out), service == "fault_interrupts_off" ? 0 : 1) << service << a.out;
  EXPECT_EQ(interruptFlag(a.out), interruptFlag(b.out)) << service;
}

class IrqlFormsTest : public testing::TestWithParam<const char*> {};

TEST_P(IrqlFormsTest, TheSameWithRewritingOnAndOff) {
  const std::string image = Driver(std::string("irql_forms_") + GetParam() + ".sys");
  const Outcome on = Ntbox("load " + image);
  const Outcome off = Ntbox("load --no-rewrite " + image);
  EXPECT_EQ(on.exit, 0) << on.out << on.err;
  EXPECT_NE(on.out.find("irql forms: 206 checks, 0 failed\n"), std::string::npos) << on.out;
  EXPECT_NE(Lines(on.out, "irql forms trace: "), "");
  EXPECT_EQ(Lines(on.out, "irql forms"), Lines(off.out, "irql forms"));
  EXPECT_EQ(on.out.find("STOP"), std::string::npos) << on.out;

  for (const char* service : {"reserved_irql", "fault_after_write", "fault_interrupts_off", "lower_in_dpc"}) {
    ExpectTheSameStop(image, service);
  }
}

// misbehave's stops that pass through rewritten code: a raise's trim of paged pool, an IRQL read's
// window, a write with reserved bits.
TEST(IrqlForms, MisbehavingTheSameWithRewritingOnAndOff) {
  for (const char* service : {"paged_pool_at_dispatch", "fault_after_irql_read", "lower_in_dpc", "privileged"}) {
    ExpectTheSameStop(Driver("misbehave.sys"), service);
  }
}

INSTANTIATE_TEST_SUITE_P(Rewriter, IrqlFormsTest, testing::Values("O0", "O2", "Os", "clang_O0", "clang_O2"));

}  // namespace
