// Pending IRPs under load, end to end: csq_app.exe queues overlapped requests in csq_queue.sys's
// cancel-safe queue, cancels half with CancelIoEx and has the driver's system thread complete the
// rest; a program that exits with requests still pending has them cancelled; the driver unloads
// with its queue empty.
#include <gtest/gtest.h>

#include <string>

#include "tests/e2e/NtboxRun.h"

namespace {

using ntbox::test::Outcome;

class CsqTest : public ntbox::test::MachineFixture {
 protected:
  void SetUp() override {
    MachineFixture::SetUp();
    TestSigningOn();
    ASSERT_EQ(Run("sc create csq type= kernel binPath= " + ntbox::test::Driver("csq_queue.sys")).exit, 0);
    ASSERT_EQ(Run("sc start csq").exit, 0);
  }
  Outcome App(const std::string& args) { return Run("run " + ntbox::test::Driver("csq_app.exe") + " " + args); }
};

// On Wine's DLLs: NtDeviceIoControlFile on an overlapped handle, NtCancelIoFileEx, the event
// signalled at completion; requests left pending end with the program.
TEST_F(CsqTest, AppCancelsAndTheDriverCompletesUnderLoad) {
  Outcome r = App("run 50");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("csq_app: rounds 50 completed 800 cancelled 800 pending 0 failures 0"), std::string::npos)
      << r.out;

  // Requests left pending when the program ends are cancelled by its end.
  r = App("leave 8");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  r = App("stats");
  EXPECT_NE(r.out.find("csq_app: inserted 1608 completed 800 cancelled 808 pending 0"), std::string::npos) << r.out;

  EXPECT_EQ(Run("sc stop csq").exit, 0);
  r = Run("dbgview");
  EXPECT_NE(r.out.find("csq_queue: unloaded; inserted 1608 completed 800 cancelled 808 pending 0"), std::string::npos)
      << r.out;
  EXPECT_EQ(Run("crash --list").out.find("0x"), std::string::npos) << "no bugcheck";
}

// I/O completion ports on Wine's DLLs: requests on an associated handle post their completion (the
// driver's worker completes three, CancelIoEx the fourth), a thread posts packets of its own.
TEST_F(CsqTest, CompletionPortsTakeTheDriversCompletions) {
  const Outcome r = Run("run " + ntbox::test::Driver("port_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("four packets: three completed, one cancelled: ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 failed"), std::string::npos) << r.out;
}

// User APCs on Wine's DLLs: QueueUserAPC run by alertable waits only (this thread, another), and
// ReadFileEx's completion routine for reads the driver holds, completed or cancelled.
TEST_F(CsqTest, ApcsRunInAlertableWaits) {
  const Outcome r = Run("run " + ntbox::test::Driver("apc_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("the completion routine hears of the cancel: ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 failed"), std::string::npos) << r.out;
}

}  // namespace
