// End to end: the machine through the real CLI and its server: seed 000's session command for
// command, sc's error codes, reg and .reg files, the Debug Print Filter, kill -9 of the server,
// several clients at once, a driver that bugchecks the machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "NtboxRun.h"

#include <sys/mount.h>
#include <sys/stat.h>

namespace {

namespace fs = std::filesystem;
using ntbox::test::Driver;
using ntbox::test::Outcome;
using ntbox::test::Ntbox;
using ntbox::test::Slurp;

using ntbox::test::Contains;
using MachineTest = ntbox::test::MachineFixture;

constexpr char kRunningBlock[] =
    "\nSERVICE_NAME: 001_sample\n"
    "        TYPE               : 1  KERNEL_DRIVER\n"
    "        STATE              : 4  RUNNING\n"
    "                                (STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\n"
    "        WIN32_EXIT_CODE    : 0  (0x0)\n"
    "        SERVICE_EXIT_CODE  : 0  (0x0)\n"
    "        CHECKPOINT         : 0x0\n"
    "        WAIT_HINT          : 0x0\n"
    "        PID                : 0\n"
    "        FLAGS              :\n";

constexpr char kStoppedBlock[] =
    "\nSERVICE_NAME: 001_sample\n"
    "        TYPE               : 1  KERNEL_DRIVER\n"
    "        STATE              : 1  STOPPED\n"
    "        WIN32_EXIT_CODE    : 0  (0x0)\n"
    "        SERVICE_EXIT_CODE  : 0  (0x0)\n"
    "        CHECKPOINT         : 0x0\n"
    "        WAIT_HINT          : 0x0\n";

TEST_F(MachineTest, Seed000Session) {
  Outcome r = Run("sc create 001_sample type= kernel binPath= " + Driver("FirstDriverSample.sys"));
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "[SC] CreateService SUCCESS\n");

  // A test signature does not chain to a trusted root: blocked while test signing is off.
  r = Run("sc start 001_sample");
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "[SC] StartService FAILED 1275:\n\nThis driver has been blocked from loading\n\n");

  r = Run("bcdedit /set testsigning on");
  EXPECT_EQ(r.exit, 0);
  EXPECT_EQ(r.out, "The operation completed successfully.\n");
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "testsigning             Yes  (pending"));
  EXPECT_EQ(Run("sc start 001_sample").exit, 1) << "bcdedit applies at the next boot only";

  EXPECT_EQ(Run("reboot").exit, 0);
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "testsigning             Yes\n"));
  r = Run("sc start 001_sample");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, kRunningBlock);

  r = Run("dbgview");
  EXPECT_TRUE(Contains(r.out, "\tThis is my first sample driver\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\tOS version is : 10.0.19045\n")) << r.out;
  EXPECT_TRUE(Contains(Run("lm").out, "   FirstDriverSample   (deferred)\n"));

  r = Run("sc stop 001_sample");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, kStoppedBlock);
  EXPECT_TRUE(Contains(Run("dbgview").out, "\tThis driver unloaded\n"));
  EXPECT_TRUE(Contains(Run("lm").out, "Unloaded modules:\n"));

  // Without DriverUnload the driver cannot be stopped and keeps running.
  ASSERT_EQ(Run("sc create nounload type= kernel binPath= " + Driver("FirstDriverNoUnload.sys")).exit, 0);
  EXPECT_EQ(Run("sc start nounload").exit, 0);
  r = Run("sc stop nounload");
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "[SC] ControlService FAILED 1052:\n\nThe requested control is not valid for this service.\n\n");
  EXPECT_TRUE(Contains(Run("sc query nounload").out, "STATE              : 4  RUNNING"));

  r = Run("sc delete 001_sample");
  EXPECT_EQ(r.out, "[SC] DeleteService SUCCESS\n");
  r = Run("sc query 001_sample");
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out,
            "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\n\n"
            "The specified service does not exist as an installed service.\n\n");

  r = Run("reg query \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\nounload\"");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\nounload\n"));
  EXPECT_TRUE(Contains(r.out, "    Type    REG_DWORD    0x1\n"));
  EXPECT_TRUE(Contains(r.out, "    Start    REG_DWORD    0x3\n"));
  EXPECT_TRUE(Contains(r.out, "    ImagePath    REG_EXPAND_SZ    \\??\\Z:\\"));

  // kill -9 of the server: the next command boots the machine again, services as they were.
  const int pid = ServerPid();
  ASSERT_GT(pid, 0);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  pollfd p{pidfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);  // readable once the process is gone
  close(pidfd);
  EXPECT_EQ(Run("status").exit, 3);
  r = Run("sc query nounload");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "STATE              : 1  STOPPED"));
  EXPECT_TRUE(Contains(r.out, "WIN32_EXIT_CODE    : 1077  (0x435)"));
  EXPECT_TRUE(Contains(Run("sc qc nounload").out, "BINARY_PATH_NAME   : \\??\\Z:\\"));
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "testsigning             Yes\n"));
  EXPECT_NE(ServerPid(), pid);
}

TEST_F(MachineTest, ServiceErrors) {
  TestSigningOn();
  const std::string sample = Driver("FirstDriverSample.sys");
  EXPECT_EQ(Run("sc start nosuch").out,
            "[SC] StartService: OpenService FAILED 1060:\n\nThe specified service does not exist as an installed "
            "service.\n\n");
  ASSERT_EQ(Run("sc create a type= kernel binPath= " + sample).exit, 0);
  EXPECT_TRUE(Contains(Run("sc create a type= kernel binPath= " + sample).out, "[SC] CreateService FAILED 1073:"));
  EXPECT_TRUE(Contains(Run("sc stop a").out, "[SC] ControlService FAILED 1062:"));
  EXPECT_EQ(Run("sc start a").exit, 0);
  EXPECT_TRUE(Contains(Run("sc start a").out, "[SC] StartService FAILED 1056:"));

  // Deleting a running service marks it; it goes when it stops.
  EXPECT_EQ(Run("sc delete a").out, "[SC] DeleteService SUCCESS\n");
  EXPECT_TRUE(Contains(Run("sc delete a").out, "[SC] DeleteService FAILED 1072:"));
  EXPECT_TRUE(Contains(Run("sc create a type= kernel binPath= " + sample).out, "FAILED 1072:"));
  EXPECT_EQ(Run("sc stop a").exit, 0);
  EXPECT_TRUE(Contains(Run("sc query a").out, "FAILED 1060:"));

  ASSERT_EQ(Run("sc create d type= kernel start= disabled binPath= " + sample).exit, 0);
  EXPECT_TRUE(Contains(Run("sc start d").out, "[SC] StartService FAILED 1058:"));
  EXPECT_TRUE(Contains(Run("sc qc d").out, "START_TYPE         : 4   DISABLED\n"));
  // A description, kept in the service's key; "" removes it.
  EXPECT_EQ(Run("sc description d 'The sample, disabled'").out, "[SC] ChangeServiceConfig2 SUCCESS\n");
  EXPECT_EQ(Run("sc qdescription d").out,
            "[SC] QueryServiceConfig2 SUCCESS\n\nSERVICE_NAME: d\nDESCRIPTION:  The sample, disabled\n");
  EXPECT_TRUE(Contains(Run("reg query 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\d' /v Description").out,
                       "The sample, disabled"));
  EXPECT_EQ(Run("sc description d ''").exit, 0);
  EXPECT_EQ(Run("sc qdescription d").out, "[SC] QueryServiceConfig2 SUCCESS\n\nSERVICE_NAME: d\nDESCRIPTION:  \n");
  EXPECT_TRUE(Contains(Run("sc qdescription nosuch").out, "[SC] OpenService FAILED 1060:"));

  ASSERT_EQ(Run("sc create missing type= kernel binPath= /nonexistent/x.sys").exit, 0);
  EXPECT_EQ(Run("sc start missing").out, "[SC] StartService FAILED 2:\n\nThe system cannot find the file specified.\n\n");

  const fs::path text = dir_ / "C" / "notape.sys";
  std::ofstream(text) << "this is not a PE image";
  ASSERT_EQ(Run("sc create bad type= kernel binPath= 'C:\\notape.sys'").exit, 0);
  EXPECT_TRUE(Contains(Run("sc start bad").out, "[SC] StartService FAILED 193:"));

  // Unsigned: 577 with test signing on. Tampered after signing: 577 always.
  ASSERT_EQ(Run("sc create u type= kernel binPath= " + Driver("FirstDriverUnsigned.sys")).exit, 0);
  EXPECT_TRUE(Contains(Run("sc start u").out, "[SC] StartService FAILED 577:"));
  std::string bytes = Slurp(sample);
  bytes[0x400] ^= 0x01;  // inside .text
  std::ofstream(dir_ / "C" / "tampered.sys", std::ios::binary) << bytes;
  ASSERT_EQ(Run("sc create t type= kernel binPath= 'C:\\tampered.sys'").exit, 0);
  Outcome r = Run("sc start t");
  EXPECT_TRUE(Contains(r.out, "[SC] StartService FAILED 577:"));
  EXPECT_TRUE(Contains(r.err, "does not match its signature"));

  r = Run("sc create f type= kernel binPath= " + Driver("failing_entry.sys"));
  r = Run("sc start f");
  EXPECT_EQ(r.out, "[SC] StartService FAILED 1450:\n\nInsufficient system resources exist to complete the requested "
                   "service.\n\n");
  EXPECT_TRUE(Contains(Run("sc query f").out, "WIN32_EXIT_CODE    : 1450  (0x5aa)"));

  // Bad arguments: usage, exit 2.
  EXPECT_EQ(Run("sc create x binPath= " + sample).exit, 2);
  EXPECT_EQ(Run("sc create x type= own binPath= " + sample).exit, 2);
  EXPECT_EQ(Run("sc create x type= kernel binPath=").exit, 2);
  EXPECT_EQ(Run("sc frobnicate x").exit, 2);
  EXPECT_EQ(Run("sc start").exit, 2);
  EXPECT_EQ(Run("bcdedit /set testsigning maybe").exit, 2);
  EXPECT_EQ(Run("bcdedit /set nosuchthing on").exit, 2);
  EXPECT_EQ(Run("reg query").exit, 2);
}

TEST_F(MachineTest, TrustedRootLoadsWithTestSigningOff) {
  ASSERT_EQ(Run("sc create sample type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  EXPECT_TRUE(Contains(Run("sc start sample").out, "FAILED 1275:"));
  // The SDK's signing certificate made a root of this machine: the signature now chains.
  fs::create_directories(dir_ / "certs" / "trusted");
  fs::copy_file(NTBOX_SDK_TESTCERT, dir_ / "certs" / "trusted" / "sdk.pem");
  const Outcome r = Run("sc start sample");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "4  RUNNING"));
  EXPECT_TRUE(Contains(Run("sc start u").out, "FAILED 1060:"));
  ASSERT_EQ(Run("sc create u type= kernel binPath= " + Driver("FirstDriverUnsigned.sys")).exit, 0);
  EXPECT_TRUE(Contains(Run("sc start u").out, "FAILED 1275:")) << "unsigned stays blocked";
}

TEST_F(MachineTest, AutoStartAtBoot) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create auto1 type= kernel start= auto binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  EXPECT_TRUE(Contains(Run("sc query auto1").out, "1  STOPPED"));
  ASSERT_EQ(Run("reboot").exit, 0);
  EXPECT_TRUE(Contains(Run("sc query auto1").out, "4  RUNNING"));
  EXPECT_TRUE(Contains(Run("status").out, "drivers      1 running"));
}

TEST_F(MachineTest, RegAddQueryDeleteExportImport) {
  const std::string key = "\"HKLM\\SOFTWARE\\ntbox test\"";
  EXPECT_EQ(Run("reg add " + key + " /v Count /t REG_DWORD /d 0x10 /f").out, "The operation completed successfully.\n");
  EXPECT_EQ(Run("reg add " + key + " /v Name /d \"hello world\" /f").exit, 0);
  EXPECT_EQ(Run("reg add " + key + " /v List /t REG_MULTI_SZ /d a\\\\0b /f").exit, 0);
  EXPECT_EQ(Run("reg add " + key + " /v Count /t REG_DWORD /d 1").exit, 1) << "no /f: no overwrite";
  EXPECT_EQ(Run("reg add " + key + " /v Bad /t REG_DWORD /d notanumber /f").exit, 2);
  Outcome r = Run("reg query " + key);
  EXPECT_EQ(r.out,
            "\nHKEY_LOCAL_MACHINE\\SOFTWARE\\ntbox test\n"
            "    Count    REG_DWORD    0x10\n"
            "    Name    REG_SZ    hello world\n"
            "    List    REG_MULTI_SZ    a\\0b\n");
  EXPECT_EQ(Run("reg query " + key + " /v count").out,
            "\nHKEY_LOCAL_MACHINE\\SOFTWARE\\ntbox test\n    Count    REG_DWORD    0x10\n\n");

  const fs::path exported = dir_ / "out.reg";
  EXPECT_EQ(Run("reg export " + key + " " + exported.string()).exit, 0);
  const std::string file = Slurp(exported.string());
  ASSERT_GE(file.size(), 2u);
  EXPECT_EQ(file.substr(0, 2), std::string("\xFF\xFE"));  // UTF-16LE, as reg.exe writes
  EXPECT_EQ(Run("reg export " + key + " " + exported.string()).exit, 1) << "exists: needs /y";

  EXPECT_EQ(Run("reg delete " + key + " /v Name /f").exit, 0);
  EXPECT_EQ(Run("reg query " + key + " /v Name").exit, 1);
  EXPECT_EQ(Run("reg delete " + key + " /f").exit, 0);
  EXPECT_EQ(Run("reg query " + key).exit, 1);
  EXPECT_EQ(Run("reg import " + exported.string()).exit, 0);
  EXPECT_EQ(Run("reg query " + key).out, r.out) << "export then import restores the key";

  // Deleting a root key or a hive's root is refused, from the command line and from a .reg file,
  // as reg.exe refuses; every service stays.
  r = Run("reg delete HKLM /f");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "Access is denied.")) << r.err;
  r = Run("reg delete 'HKLM\\SYSTEM' /f");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "Access is denied.")) << r.err;
  const fs::path wipe = dir_ / "wipe.reg";
  std::ofstream(wipe) << "Windows Registry Editor Version 5.00\n\n[-HKEY_LOCAL_MACHINE\\SYSTEM]\n";
  EXPECT_EQ(Run("reg import " + wipe.string()).exit, 1);
  EXPECT_EQ(Run("reg query 'HKLM\\SYSTEM\\CurrentControlSet\\Services'").exit, 0);

  // A bad line refuses the whole file, naming the line; nothing changes.
  const fs::path bad = dir_ / "bad.reg";
  std::ofstream(bad) << "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\ntbox test]\n"
                        "\"Count\"=dword:00000099\n\"Broken\"=dward:1\n";
  r = Run("reg import " + bad.string());
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "line 5")) << r.err;
  EXPECT_TRUE(Contains(Run("reg query " + key + " /v Count").out, "0x10")) << "nothing imported";
  std::ofstream(bad, std::ios::trunc) << "[HKEY_LOCAL_MACHINE\\SOFTWARE\\x]\n";
  EXPECT_TRUE(Contains(Run("reg import " + bad.string()).err, "line 1"));
  EXPECT_EQ(Run("reg import " + (dir_ / "nosuch.reg").string()).exit, 1);
}

TEST_F(MachineTest, DebugPrintFilter) {
  TestSigningOn();
  const std::string filter = "\"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Debug Print Filter\"";
  ASSERT_EQ(Run("reg add " + filter + " /v IHVDRIVER /t REG_DWORD /d 0x3 /f").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);  // the filter is read at boot
  ASSERT_EQ(Run("sc create lv type= kernel binPath= " + Driver("dbgprint_levels.sys")).exit, 0);
  ASSERT_EQ(Run("sc start lv").exit, 0);
  const std::string all = Run("dbgview").out;
  const std::string filtered = Run("dbgview --filtered").out;
  for (const char* line : {"IHVDRIVER error", "IHVDRIVER warning", "IHVDRIVER trace", "IHVDRIVER info",
                           "IHVVIDEO warning", "mask 0x10", "DbgPrint (DEFAULT info)", "KdPrint 42"}) {
    EXPECT_TRUE(Contains(all, line)) << "dbgview shows every line (verbose capture): " << line;
  }
  EXPECT_TRUE(Contains(filtered, "IHVDRIVER error"));
  EXPECT_TRUE(Contains(filtered, "IHVDRIVER warning"));
  EXPECT_FALSE(Contains(filtered, "IHVDRIVER trace"));
  EXPECT_FALSE(Contains(filtered, "IHVDRIVER info"));
  EXPECT_FALSE(Contains(filtered, "IHVVIDEO warning"));
  EXPECT_FALSE(Contains(filtered, "mask 0x10"));
  EXPECT_FALSE(Contains(filtered, "KdPrint 42"));

  ASSERT_EQ(Run("reg add " + filter + " /v DEFAULT /t REG_DWORD /d 0x8 /f").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  ASSERT_EQ(Run("sc start lv").exit, 0);
  const std::string after = Run("dbgview --filtered").out;
  EXPECT_TRUE(Contains(after, "KdPrint 42"));
  EXPECT_TRUE(Contains(after, "DbgPrint (DEFAULT info)"));
}

TEST_F(MachineTest, SeveralClientsAtOnceBootOneServer) {
  std::vector<std::thread> clients;
  std::vector<Outcome> outcomes(6);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    clients.emplace_back([this, i, &outcomes] { outcomes[i] = Run("sc query type= driver state= all"); });
  }
  for (auto& t : clients) t.join();
  for (const auto& o : outcomes) EXPECT_EQ(o.exit, 0) << o.err;
  EXPECT_GT(ServerPid(), 0);
  EXPECT_EQ(Run("boot").out.find("already running") != std::string::npos, true);
}

// The DPC watchdog (limits from the registry, where Windows keeps them): a DPC routine that never
// ends is 0x133 with parameter 1 = 0, a thread that stays at DISPATCH_LEVEL 0x133 with 1; both name
// where the driver spins.
TEST_F(MachineTest, DpcWatchdogStopsCodeThatNeverLeavesDispatchLevel) {
  const std::string key = "'HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Kernel'";
  ASSERT_EQ(Run("reg add " + key + " /v DpcTimeout /t REG_DWORD /d 200 /f").exit, 0);
  ASSERT_EQ(Run("reg add " + key + " /v DpcWatchdogPeriod /t REG_DWORD /d 300 /f").exit, 0);
  TestSigningOn();
  for (const char* s : {"spin_in_dpc", "spin_dispatch"}) {
    ASSERT_EQ(Run(std::string("sc create ") + s + " type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  }
  Outcome r = Run("sc start spin_in_dpc");
  EXPECT_EQ(r.exit, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "*** STOP: 0x00000133 (0x0000000000000000,")) << r.out;
  EXPECT_TRUE(Contains(r.out, "a DPC routine ran longer than the DPC watchdog allows")) << r.out;
  EXPECT_TRUE(Contains(r.out, "misbehave!SpinningDpc+0x")) << r.out;
  r = Run("sc start spin_dispatch");
  EXPECT_EQ(r.exit, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "*** STOP: 0x00000133 (0x0000000000000001,")) << r.out;
  EXPECT_TRUE(Contains(r.out, "misbehave!DriverEntry+0x")) << r.out;
}

// Code at DISPATCH_LEVEL is never preempted: status (marked busy), lm and reg query still answer
// without waiting for it; the watchdog (3 s here) then stops the machine.
TEST_F(MachineTest, StatusAnswersWhileDriverCodeSpinsAtDispatchLevel) {
  const std::string key = "'HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Kernel'";
  ASSERT_EQ(Run("reg add " + key + " /v DpcWatchdogPeriod /t REG_DWORD /d 3000 /f").exit, 0);
  TestSigningOn();
  ASSERT_EQ(Run("sc create spin_dispatch type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  Outcome spinning;
  std::thread starter([&] { spinning = Run("sc start spin_dispatch"); });
  Outcome status;
  for (int i = 0; i < 200 && !Contains(status.out, "running, busy"); ++i) status = Run("status");
  EXPECT_EQ(status.exit, 0);
  EXPECT_TRUE(Contains(status.out, "running, busy (driver code keeps the kernel at DISPATCH_LEVEL)")) << status.out;
  EXPECT_TRUE(Contains(status.out, "drivers      0 running")) << status.out;
  // Neither do sc query, lm and reg query.
  const Outcome query = Run("sc query spin_dispatch");
  EXPECT_EQ(query.exit, 0) << query.err;
  EXPECT_TRUE(Contains(query.out, "START_PENDING")) << query.out;
  EXPECT_TRUE(Contains(Run("sc qc spin_dispatch").out, "misbehave.sys"));
  const Outcome lm = Run("lm");
  EXPECT_EQ(lm.exit, 0) << lm.err;
  EXPECT_TRUE(Contains(lm.out, "misbehave")) << lm.out;
  EXPECT_EQ(Run("reg query 'HKLM\\SOFTWARE'").exit, 0);
  starter.join();
  EXPECT_EQ(spinning.exit, 4);
  EXPECT_TRUE(Contains(spinning.out, "*** STOP: 0x00000133 (0x0000000000000001,")) << spinning.out;
}

// A DriverEntry that loops at PASSIVE_LEVEL is preempted: the control plane answers, commands
// that run driver code (sc start of another driver, ntbox ioctl) and a program's requests go on,
// and shutdown completes (after its grace period) with no server left behind.
TEST_F(MachineTest, AMachineStaysUsableWhileADriverLoops) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create spin_passive type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run("sc create SIoctl type= kernel binPath= " + Driver("ioctl_sample.sys")).exit, 0);
  const int pid = ServerPid();
  ASSERT_GT(pid, 0);
  Outcome spinning;
  std::thread starter([&] { spinning = Run("sc start spin_passive"); });
  // Until the service is START_PENDING, DriverEntry has not begun; queries answer throughout.
  for (int i = 0; i < 1000 && !Contains(Run("sc query spin_passive").out, "START_PENDING"); ++i) {
  }
  EXPECT_TRUE(Contains(Run("sc query spin_passive").out, "START_PENDING"));
  EXPECT_EQ(Run("status").exit, 0);
  // A pending service takes no second start or a stop; sc delete marks it.
  EXPECT_TRUE(Contains(Run("sc start spin_passive").out, "[SC] StartService FAILED 1056:"));
  EXPECT_TRUE(Contains(Run("sc stop spin_passive").out, "[SC] ControlService FAILED 1061:"));
  Outcome r = Run("sc start SIoctl");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --in 48656c6c6f00 --out-size 64");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "IoStatus.Information  38\n")) << r.out;
  ASSERT_EQ(Run("reg add 'HKLM\\SOFTWARE\\Busy' /v A /t REG_DWORD /d 1 /f").exit, 0);
  r = Run("sc delete spin_passive");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(Run("sc qc spin_passive").out, "SERVICE_NAME: spin_passive"));
  EXPECT_TRUE(Contains(Run("lm").out, "misbehave")) << "the looping driver is loaded";
  const Outcome app = ntbox::test::Ntbox("--machine " + dir_.string() + " run " + Driver("ioctl_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.err;
  EXPECT_TRUE(Contains(app.out, "This String is from Device Driver !!!")) << app.out;
  EXPECT_EQ(Run("shutdown").exit, 0);
  starter.join();
  EXPECT_NE(spinning.exit, 0);
  EXPECT_FALSE(fs::exists(dir_ / "server.pid"));
  // Gone, or a zombie its parent has yet to reap: no server left spinning. Its clients hear of the
  // end as it calls _exit, so its exit is waited for (a pidfd is readable once it has exited).
  if (const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10000), 1) << "the server still runs";
    ::close(pidfd);
  }
  const std::string state = Slurp("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(state.empty() || Contains(state, ") Z ")) << state;
}

// A machine cannot be bricked: an auto-start driver that bugchecks at every boot fails one boot;
// the next skips it and says so, and sc config ends the skipping. Safe mode boots without any
// boot-time driver.
TEST_F(MachineTest, ABootTimeDriverThatBugchecksCannotBrickTheMachine) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create null_write type= kernel start= auto binPath= " + Driver("misbehave.sys")).exit, 0);
  Outcome r = Run("reboot");
  EXPECT_NE(r.exit, 0);
  EXPECT_TRUE(Contains(r.err, "bugchecked while starting null_write at boot")) << r.err;
  EXPECT_TRUE(Contains(r.err, "the next boot skips it (automatic recovery)")) << r.err;
  r = Run("sc qc null_write");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "automatic recovery: the null_write driver is not started at boot")) << r.err;
  EXPECT_TRUE(Contains(Run("sc query null_write").out, "STOPPED"));
  r = Run("sc config null_write start= demand");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "[SC] ChangeServiceConfig SUCCESS\n");
  EXPECT_TRUE(Contains(Run("sc qc null_write").out, "START_TYPE         : 3   DEMAND_START"));
  EXPECT_EQ(Run("sc config null_write start= sometimes").exit, 2);
  EXPECT_EQ(Run("sc config nosuch start= demand").exit, 1);
  r = Run("reboot");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_FALSE(Contains(r.err, "automatic recovery")) << r.err;

  // Safe mode: the boot-time driver stays stopped, and says why.
  ASSERT_EQ(Run("sc create first type= kernel start= auto binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  ASSERT_EQ(Run("bcdedit /set {current} safeboot minimal").exit, 0);
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "safeboot                Minimal  (pending")) << Run("bcdedit /enum").out;
  r = Run("reboot");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "safe mode (bcdedit safeboot minimal)")) << r.err;
  EXPECT_TRUE(Contains(Run("sc query first").out, "STOPPED"));
  ASSERT_EQ(Run("bcdedit /deletevalue safeboot").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  EXPECT_TRUE(Contains(Run("sc query first").out, "RUNNING"));
}

// A machine that cannot boot (each boot here meets another auto-start driver that bugchecks):
// the configuration commands run offline on its stored configuration, say so, and lose nothing;
// a command that needs the machine running fails with the boot's error.
TEST_F(MachineTest, ConfigurationCommandsWorkOnAMachineThatCannotBoot) {
  TestSigningOn();
  const char* const drivers[] = {"execute_stack", "garbage_rsp", "null_write"};  // started in this order
  for (const char* s : drivers) {
    ASSERT_EQ(Run(std::string("sc create ") + s + " type= kernel start= auto binPath= " + Driver("misbehave.sys")).exit,
              0);
  }
  ASSERT_NE(Run("reboot").exit, 0);  // stops in execute_stack
  Outcome r = Run("sc start null_write");  // stops in garbage_rsp
  EXPECT_NE(r.exit, 0);
  EXPECT_TRUE(Contains(r.err, "cannot boot the machine")) << r.err;
  EXPECT_FALSE(Contains(r.err, "offline")) << r.err;
  r = Run("reg add 'HKLM\\SOFTWARE\\Offline' /v Kept /t REG_DWORD /d 7 /f");  // stops in null_write
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "The operation completed successfully.\n");
  EXPECT_TRUE(Contains(r.err, "the command runs offline, on the machine's stored configuration")) << r.err;
  EXPECT_EQ(ServerPid(), 0);
  // Every driver is skipped now: the machine boots; sc config ends the skipping.
  for (const char* s : drivers) ASSERT_EQ(Run(std::string("sc config ") + s + " start= auto").exit, 0);
  ASSERT_EQ(Run("shutdown").exit, 0);

  r = Run("sc config null_write start= demand");  // stops in execute_stack
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "[SC] ChangeServiceConfig SUCCESS\n");
  EXPECT_TRUE(Contains(r.err, "runs offline")) << r.err;
  r = Run("bcdedit /set {current} safeboot minimal");  // stops in garbage_rsp
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "runs offline")) << r.err;
  // Safe mode boots; what was set offline is there.
  r = Run("reg query 'HKLM\\SOFTWARE\\Offline' /v Kept");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "safe mode")) << r.err;
  EXPECT_FALSE(Contains(r.err, "offline")) << r.err;
  EXPECT_TRUE(Contains(r.out, "0x7")) << r.out;
  EXPECT_TRUE(Contains(Run("sc qc null_write").out, "START_TYPE         : 3   DEMAND_START"));
}

// A boot-time driver whose DriverEntry never returns: the boot ends at its deadline (here 1.5 s),
// naming the driver, and the next boot skips it.
TEST_F(MachineTest, ABootTimeDriverThatHangsCannotBrickTheMachine) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create spin_passive type= kernel start= system binPath= " + Driver("misbehave.sys")).exit, 0);
  ::setenv("NTBOX_BOOT_TIMEOUT_MS", "1500", 1);
  Outcome r = Run("reboot");
  ::unsetenv("NTBOX_BOOT_TIMEOUT_MS");
  EXPECT_NE(r.exit, 0);
  EXPECT_TRUE(Contains(r.err, "did not finish booting within 1 s: the spin_passive driver never returned from "
                              "DriverEntry")) << r.err;
  r = Run("sc delete spin_passive");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "automatic recovery: the spin_passive driver is not started at boot")) << r.err;
  r = Run("reboot");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_FALSE(Contains(r.err, "automatic recovery")) << r.err;
}

// Inputs without end or that never come are refused at once, naming what they are: each of these
// grew the server to 16 GB, grew the client without limit, or blocked forever.
TEST_F(MachineTest, UnboundedInputsAreRefused) {
  Outcome r = Run("reg import /dev/zero");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "'/dev/zero' is a character device, not a file")) << r.err;
  r = Run("ioctl '\\\\.\\Nothing' 0x222000 --in @/dev/zero");
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(Contains(r.err, "'/dev/zero' is a character device")) << r.err;
  const fs::path fifo = dir_.string() + "_fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = ntbox::test::Ntbox("load " + fifo.string());
  EXPECT_EQ(r.exit, 3);
  EXPECT_TRUE(Contains(r.err, "is a FIFO, not a file")) << r.err;
  r = Run("reg import " + fifo.string());
  EXPECT_EQ(r.exit, 1);
  fs::remove(fifo);
}

// A full disk: the space held back at boot takes the report; it reaches the command too. Needs a
// small file system of its own (a tmpfs, mounted as root); skipped where none can be mounted.
TEST_F(MachineTest, BugCheckReportSurvivesAFullDisk) {
  const fs::path mount = dir_.string() + "_tmpfs";
  fs::create_directories(mount);
  if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=4m") != 0) {
    fs::remove(mount);
    GTEST_SKIP() << "cannot mount a tmpfs here (not root)";
  }
  const fs::path saved = dir_;
  dir_ = mount / "m";
  TestSigningOn();
  ASSERT_EQ(Run("sc create null_write type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run("boot").exit, 0);
  {
    std::ofstream fill(mount / "fill", std::ios::binary);
    const std::string block(4096, '\0');
    while (fill.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  const Outcome r = Run("sc start null_write");
  EXPECT_EQ(r.exit, 4);
  EXPECT_TRUE(Contains(r.out, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED (7e)")) << r.out;
  EXPECT_TRUE(Contains(r.err, "report saved to")) << r.err;
  const std::string report = Slurp((dir_ / "crashes" / "last.txt").string());
  EXPECT_TRUE(Contains(report, "misbehave!WriteNull")) << report;
  Run("shutdown");
  ::umount2(mount.c_str(), MNT_DETACH);
  fs::remove_all(mount);
  dir_ = saved;
}

TEST_F(MachineTest, BugCheckEndsTheServerOnly) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create null_write type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  const Outcome r = Run("sc start null_write");
  EXPECT_EQ(r.exit, 4);
  EXPECT_TRUE(Contains(r.out, "Bugcheck Analysis")) << r.out;
  EXPECT_TRUE(Contains(r.err, "report saved to")) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "crashes" / "last.txt"));
  const Outcome again = Run("sc query null_write");
  EXPECT_EQ(again.exit, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, "1  STOPPED"));

  // The JSON twin of the report, for tools.
  EXPECT_TRUE(fs::exists(dir_ / "crashes" / "last.json"));
  const Outcome json = Run("crash --json");
  EXPECT_EQ(json.exit, 0);
  const auto j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json.out;
  EXPECT_EQ(j.value("code", 0u), 0x7Eu);
  EXPECT_EQ(j.value("name", ""), "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
  ASSERT_EQ(j["parameters"].size(), 4u);
  EXPECT_EQ(j["parameters"][0].value("value", ""), "0xFFFFFFFFC0000005");
  EXPECT_EQ(j["parameters"][0].value("meaning", ""), "the exception code that was not handled");
  EXPECT_TRUE(j.value("faulting_symbol", "").starts_with("misbehave!WriteNull")) << j.dump(2);
  EXPECT_EQ(j["module"].value("image", ""), "misbehave.sys");
  EXPECT_TRUE(j["registers"].contains("rip"));
  EXPECT_FALSE(j["last_debug_output"].empty());
  EXPECT_TRUE(Run("crash --show 1 --json").out == json.out);
}

// verifier.exe's workflow: settings in the registry, applied at the next boot; a driver that
// leaks pool unloads with a notice when unverified and bugchecks (0xC4/0x62) when verified.
TEST_F(MachineTest, VerifierSettingsApplyAtBoot) {
  TestSigningOn();
  Outcome r = Run("verifier /querysettings");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Special pool: Enabled\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Verified drivers:\n\nAll Drivers\n")) << r.out;
  r = Run("reg query \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Memory Management\"");
  EXPECT_TRUE(Contains(r.out, "VerifyDriverLevel    REG_DWORD    0x209bb")) << r.out;

  EXPECT_EQ(Run("verifier /standard").exit, 2);
  EXPECT_EQ(Run("verifier /flags nine /all").exit, 2);
  EXPECT_EQ(Run("verifier /frobnicate").exit, 2);
  r = Run("verifier /standard /driver other.sys");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Verified drivers:\n\nother.sys\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "The system reboot is required for the changes to take effect.")) << r.out;
  ASSERT_EQ(Run("reboot").exit, 0);

  ASSERT_EQ(Run("sc create leak type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run("sc start leak").exit, 0);
  r = Run("verifier /query");
  EXPECT_TRUE(Contains(r.out, "Level: 000209BB\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "None loaded")) << "misbehave.sys is not verified: " << r.out;
  r = Run("sc stop leak");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;

  ASSERT_EQ(Run("verifier /flags 0x8 /driver misbehave.sys").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  ASSERT_EQ(Run("sc start leak").exit, 0);
  r = Run("verifier /query");
  EXPECT_TRUE(Contains(r.out, "Level: 00000008\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Name: misbehave.sys\nCurrentPagedPoolAllocations: 0\nCurrentNonPagedPoolAllocations: 1\n"
                              "PagedPoolUsageInBytes: 0\nNonPagedPoolUsageInBytes: 48\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "AllocationsSucceededSpecialPool: 0\n")) << "special pool is off: " << r.out;
  r = Run("sc stop leak");
  EXPECT_EQ(r.exit, 4);
  EXPECT_TRUE(Contains(r.out, "*** STOP: 0x000000C4 (0x0000000000000062,")) << r.out;

  ASSERT_EQ(Run("verifier /reset").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  r = Run("verifier /querysettings");
  EXPECT_TRUE(Contains(r.out, "Verified drivers:\n\nNone\n")) << r.out;
  ASSERT_EQ(Run("sc start leak").exit, 0);
  EXPECT_EQ(Run("sc stop leak").exit, 0);
}

// Item 4 of seed 003's issue: notify routines hear processes (ntbox run), their threads, system
// threads and images; the Ex routine can refuse a process; forgetting to remove them is 0xCE.
TEST_F(MachineTest, NotifyRoutinesHearProcessesThreadsAndImages) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create nw type= kernel binPath= " + Driver("notify_watch.sys")).exit, 0);
  ASSERT_EQ(Run("sc start nw").exit, 0);
  ASSERT_EQ(Run("sc create first type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  ASSERT_EQ(Run("sc start first").exit, 0);
  Outcome r = Run("run " + Driver("user_basics.exe") + " args hello");
  EXPECT_EQ(r.exit, 0) << r.err;
  r = Run("run " + Driver("user_basics.exe") + " args deny-me");
  EXPECT_EQ(r.exit, 126);
  EXPECT_TRUE(Contains(r.err, "CreateProcess failed 5: a driver's process notify routine refused the process "
                              "(0xC0000022 STATUS_ACCESS_DENIED)"))
      << r.err;
  EXPECT_FALSE(Contains(r.out, "argc=")) << "the refused program never ran";
  ASSERT_EQ(Run("sc stop nw").exit, 0);
  const std::string log = Run("dbgview").out;

  EXPECT_TRUE(Contains(log, "notify: Ex registration 0x00000000")) << log;
  EXPECT_TRUE(Contains(log, "notify: watching on 2 processors")) << log;
  // The driver's own system thread, created and ended in DriverEntry.
  EXPECT_TRUE(Contains(log, "notify: thread create pid=4 tid=")) << log;
  EXPECT_TRUE(Contains(log, "notify: thread exit pid=4 tid=")) << log;
  // Another driver's image (before its DriverEntry), then the program's life in order.
  const std::string exe = "\\??\\Z:" + Driver("user_basics.exe");
  std::string exeNt = exe;
  for (auto& c : exeNt) {
    if (c == '/') c = '\\';
  }
  EXPECT_TRUE(Contains(log, "FirstDriverSample.sys pid=0 system=1 size_ok=1")) << log;
  // The program's image, ntdll, then each DLL its loader maps (as NtMapViewOfSection maps it).
  const std::vector<std::string> order = {
      "notify: image " + exeNt + " pid=",
      "notify: image \\SystemRoot\\System32\\ntdll.dll pid=",
      "notify: process create pid=",
      "notify: process-ex create pid=",
      "cmd=user_basics.exe args hello",
      "notify: thread create pid=",
      "notify: image \\??\\C:\\windows\\system32\\kernel32.dll pid=",
      "notify: thread exit pid=",
      "notify: process-ex exit pid=",
      "notify: process exit pid=",
  };
  std::size_t at = 0;
  for (const auto& line : order) {
    const std::size_t next = log.find(line, at);
    EXPECT_NE(next, std::string::npos) << "missing, or out of order: " << line << "\n" << log;
    if (next != std::string::npos) at = next;
  }
  EXPECT_TRUE(Contains(log, "cmd=user_basics.exe args deny-me")) << log;
  EXPECT_TRUE(Contains(log, "irql=0")) << log;
  EXPECT_FALSE(Contains(log, "irql=1") || Contains(log, "irql=2")) << log;
  EXPECT_TRUE(Contains(log, "notify: removed; again=0xC000007A")) << log;

  // Unloading with the routines still registered: the verifier stops the machine.
  ASSERT_EQ(Run("sc create notify_forget type= kernel binPath= " + Driver("notify_watch.sys")).exit, 0);
  ASSERT_EQ(Run("sc start notify_forget").exit, 0);
  r = Run("sc stop notify_forget");
  EXPECT_EQ(r.exit, 4);
  const std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(all, "*** STOP: 0x000000CE (")) << all;
  EXPECT_TRUE(Contains(all, "notify_watch.sys unloaded with its notify routine notify_watch!")) << all;
}

// Kernel file I/O on C: from a real driver: every call's status and data, and every name that
// tries to leave the drive refused (a host symlink out included) with a logged line.
TEST_F(MachineTest, DriveFileIoStaysOnTheDrive) {
  TestSigningOn();
  ASSERT_EQ(Run("status").exit, 0);  // the machine (and its C: folder) exists
  const fs::path outside = dir_ / "outside";
  fs::create_directories(outside);
  std::ofstream(outside / "secret.txt") << "secret\n";
  fs::create_directory_symlink(outside, dir_ / "C" / "escape");
  ASSERT_EQ(Run("sc create df type= kernel binPath= " + Driver("drive_file.sys")).exit, 0);
  ASSERT_EQ(Run("sc start df").exit, 0);
  const std::string log = Run("dbgview").out;
  for (const char* line : {
           "drive: mkdir 0x00000000\n",
           "drive: write 0x00000000 12\n",
           "drive: standard 0x00000000 size=12 dir=0 links=1\n",
           "drive: read@6 0x00000000 5 'drive'\n",
           "drive: position 0x00000000 11\n",
           "drive: read@0 0x00000000 5 'hello'\n",
           "drive: read@100 0xC0000011\n",  // STATUS_END_OF_FILE
           "drive: truncate 0x00000000 size=5\n",
           "drive: basic 0x00000000 written=1\n",
           "drive: systemroot 0x00000000\n",
           "drive: escape \\??\\C:\\..\\outside.txt 0xC0000033\n",
           "drive: escape \\??\\C:\\drive_test\\..\\..\\outside.txt 0xC0000033\n",
           "drive: escape \\??\\D:\\outside.txt 0xC000003A\n",
           "drive: escape \\??\\C:\\escape\\secret.txt 0xC0000022\n",
           "drive: escape \\Device\\HarddiskVolume1\\outside.txt 0xC000003B\n",
           "ntbox: ZwCreateFile: '\\??\\C:\\escape\\secret.txt' refused: a host link leads outside the machine's drive",
           "drive: delete 0x00000000\n",
           "drive: open deleted 0xC0000034\n",
           "drive: dispose 0x00000000\n",
           "drive: open disposed 0xC0000034\n",
           "drive: nul write 0x00000000 12\n",
           "drive: nul read 0xC0000011\n",
           "drive: escape \\??\\C:\\drive_test\\con.txt 0xC0000034\n",
           "drive: escape \\??\\COM1 0xC0000034\n",
       }) {
    EXPECT_TRUE(Contains(log, line)) << "missing: " << line << "\n" << log;
  }
  EXPECT_FALSE(Contains(log, "ntbox: ntbox:")) << log;
  EXPECT_TRUE(fs::is_directory(dir_ / "C" / "drive_test"));
  EXPECT_FALSE(fs::exists(dir_ / "C" / "drive_test" / "data.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "C" / "drive_test" / "NUL")) << "a device, not a file";
  EXPECT_FALSE(fs::exists(dir_ / "C" / "drive_test" / "con.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "outside.txt"));
  EXPECT_EQ(Slurp((outside / "secret.txt").string()), "secret\n");
  EXPECT_EQ(Run("sc stop df").exit, 0);
}

// bcdedit /set numproc: the processors drivers see after the next boot.
TEST_F(MachineTest, NumprocSetsTheProcessorCountAtBoot) {
  TestSigningOn();
  EXPECT_TRUE(Contains(Run("status").out, "processors   2\n"));
  EXPECT_EQ(Run("bcdedit /set numproc 0").exit, 2);
  EXPECT_EQ(Run("bcdedit /set numproc 65").exit, 2);
  EXPECT_EQ(Run("bcdedit /set numproc four").exit, 2);
  ASSERT_EQ(Run("bcdedit /set numproc 4").exit, 0);
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "numproc                 4  (pending: the machine runs with 2")) << "";
  ASSERT_EQ(Run("reboot").exit, 0);
  EXPECT_TRUE(Contains(Run("status").out, "processors   4\n"));
  EXPECT_TRUE(Contains(Run("bcdedit /enum").out, "numproc                 4\n"));
  ASSERT_EQ(Run("sc create nw type= kernel binPath= " + Driver("notify_watch.sys")).exit, 0);
  ASSERT_EQ(Run("sc start nw").exit, 0);
  EXPECT_TRUE(Contains(Run("dbgview").out, "notify: watching on 4 processors")) << "KeQueryActiveProcessorCount";
  ASSERT_EQ(Run("sc stop nw").exit, 0);
  ASSERT_EQ(Run("bcdedit /deletevalue numproc").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  EXPECT_TRUE(Contains(Run("status").out, "processors   2\n"));
}

// Driver Verifier's IRP rules, each broken by one misbehave.sys service answering an IOCTL.
struct IrpMistake {
  const char* service;
  const char* stop;
  const char* detail;
  const char* irpState;  // a line of the report's !irp-style IRP section
};
class IrpRuleTest : public ntbox::test::MachineFixture, public testing::WithParamInterface<IrpMistake> {};

TEST_P(IrpRuleTest, StopsTheMachineWithTheVerifiersCode) {
  const IrpMistake& m = GetParam();
  TestSigningOn();
  ASSERT_EQ(Run(std::string("sc create ") + m.service + " type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run(std::string("sc start ") + m.service).exit, 0);
  const Outcome r = Run("ioctl '\\\\.\\Misbehave' 0x222000 --out-size 8");
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.exit, 4) << all;
  EXPECT_TRUE(Contains(all, m.stop)) << all;
  EXPECT_TRUE(Contains(all, m.detail)) << all;
  EXPECT_TRUE(Contains(all, "MODULE_NAME: misbehave")) << all;
  // The IRP as it was at the stop: its device-control stack location (the IOCTL code in the third
  // argument) and the field the rule is about.
  EXPECT_TRUE(Contains(all, "IRP_ADDRESS: ")) << all;
  EXPECT_TRUE(Contains(all, "[IRP_MJ_DEVICE_CONTROL(e), 0]\n")) << all;
  EXPECT_TRUE(Contains(all, "\\Device\\Misbehave\n           Args: 0000000000000008 0000000000000000 "
                            "0000000000222000")) << all;
  EXPECT_TRUE(Contains(all, m.irpState)) << all;
}

INSTANTIATE_TEST_SUITE_P(
    Verifier, IrpRuleTest,
    testing::Values(
        IrpMistake{"irp_pending_unmarked", "*** STOP: 0x000000C9 (0x000000000000023D,",
                   "the dispatch routine misbehave!DeviceControl returned STATUS_PENDING without IoMarkIrpPending",
                   "Irp is active with 1 stacks 1 is current\n"},
        IrpMistake{"irp_complete_pending", "*** STOP: 0x000000C9 (0x0000000000000006,0x0000000000000103,",
                   "IoCompleteRequest with IoStatus.Status 0x00000103",
                   " IoStatus: Status=0x00000103 STATUS_PENDING Information=0x0\n"},
        IrpMistake{"irp_cancel_routine_set", "*** STOP: 0x000000C9 (0x0000000000000007,",
                   "IoCompleteRequest while the cancel routine misbehave!CancelHeld",
                   " Cancel=0 CancelRoutine=misbehave!CancelHeld PendingReturned=0"},
        IrpMistake{"irp_complete_twice", "*** STOP: 0x00000044 (",
                   "IoCompleteRequest on an IRP that was already completed", "Irp is completed (1 stacks).\n"}),
    [](const testing::TestParamInfo<IrpMistake>& info) { return std::string(info.param.service); });

// Seed 002 from the shell: the IOCTL driver as a service, ntbox ioctl for each reply, a fault in
// its dispatch routine stops the machine, and the next command boots it with the service there.
TEST_F(MachineTest, IoctlFromTheShell) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create SIoctl type= kernel start= auto binPath= " + Driver("ioctl_sample.sys")).exit, 0);
  ASSERT_EQ(Run("sc start SIoctl").exit, 0);
  Outcome r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --in 48656c6c6f00 --out-size 64");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "IoStatus.Status       0x00000000 (STATUS_SUCCESS)\nIoStatus.Information  38\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "0020  72 20 21 21 21 00                                r !!!.\n")) << r.out;
  r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --out-size 64");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "DeviceIoControl FAILED 87:")) << r.err;
  r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --in 4g");
  EXPECT_EQ(r.exit, 2);
  r = Run("ioctl '\\\\.\\Missing' 1");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.err, "CreateFile \\\\.\\Missing FAILED 2:")) << r.err;

  r = Run("ioctl '\\\\.\\IoctlTest' 0x9C4027C0 --in 00 --out-size 4");
  EXPECT_EQ(r.exit, 4);
  const std::string all = r.out + r.err;
  EXPECT_TRUE(Contains(all, "KMODE_EXCEPTION_NOT_HANDLED (1e)")) << all;
  EXPECT_TRUE(Contains(all, "FAULTING_IP:\nioctl_sample!SampleDeviceControl+0x")) << all;
  EXPECT_TRUE(Contains(all, "Arg3: 0000000000000001")) << "a write";
  // The machine boots again; the auto-start service is running, the device answers.
  r = Run("sc query SIoctl");
  EXPECT_TRUE(Contains(r.out, "4  RUNNING")) << r.out;
  r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --in 00 --out-size 8");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(Run("sc stop SIoctl").exit, 0);
}

TEST_F(MachineTest, DbgviewFollowsLiveAndHearsTheShutdown) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create 001_sample type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  const std::string command = std::string(NTBOX_BIN) + " --machine " + dir_.string() + " dbgview --follow 2>&1";
  FILE* follow = popen(command.c_str(), "r");
  ASSERT_NE(follow, nullptr);
  // The follower is connected once the server has it; a start after that reaches it live.
  ASSERT_EQ(Run("sc start 001_sample").exit, 0);
  std::string seen;
  char line[512];
  while (seen.find("OS version is") == std::string::npos && fgets(line, sizeof line, follow)) seen += line;
  EXPECT_TRUE(Contains(seen, "\tThis is my first sample driver\n")) << seen;
  ASSERT_EQ(Run("shutdown").exit, 0);
  while (fgets(line, sizeof line, follow)) seen += line;
  const int status = pclose(follow);
  EXPECT_TRUE(Contains(seen, "ntbox: the machine shut down")) << seen;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(MachineTest, StatusWhenStopped) {
  const Outcome r = Run("status");
  EXPECT_EQ(r.exit, 3);
  EXPECT_TRUE(Contains(r.out, "state        stopped"));
  EXPECT_EQ(Run("shutdown").exit, 0);
}

}  // namespace

// A DriverUnload that forgets IoDeleteDevice and IoDeleteSymbolicLink: the verifier says so in the
// debug output, and the leftover link makes the next start fail as it does on Windows (183).
TEST_F(MachineTest, DeviceAndLinkLeftAfterUnload) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create device_left type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run("sc start device_left").exit, 0);
  Outcome r = Run("sc stop device_left");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  r = Run("dbgview");
  EXPECT_TRUE(Contains(r.out, "Driver Verifier: misbehave.sys returned from DriverUnload with device \\Device\\Misbehave "
                              "not deleted (IoDeleteDevice)"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "Driver Verifier: misbehave.sys returned from DriverUnload with symbolic link "
                              "\\??\\Misbehave -> \\Device\\Misbehave not deleted (IoDeleteSymbolicLink)"))
      << r.out;
  r = Run("sc start device_left");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.out, "[SC] StartService FAILED 183:")) << r.out;
  EXPECT_TRUE(Contains(r.err, "STATUS_OBJECT_NAME_COLLISION")) << r.err;
}

namespace {

// A command during which a driver stops the machine ends with one line naming the stop and where
// its report is; the next command boots a machine that says once what ended the last one.
TEST_F(MachineTest, AStopIsNamedAndTheNextBootSaysSo) {
  ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  ASSERT_EQ(Run("sc create irp_complete_twice type= kernel binPath= " + Driver("misbehave.sys")).exit, 0);
  ASSERT_EQ(Run("sc start irp_complete_twice").exit, 0);
  Outcome r = Run("ioctl \\\\\\\\.\\\\Misbehave 0x222000");
  EXPECT_EQ(r.exit, 4);
  EXPECT_TRUE(Contains(r.err, "\nntbox: the machine stopped with 0x00000044 MULTIPLE_IRP_COMPLETE_REQUESTS in "
                              "misbehave.sys (report saved to " + (dir_ / "crashes").string() + "/"))
      << r.err;
  r = Run("lm");
  EXPECT_EQ(r.exit, 0);
  EXPECT_TRUE(Contains(r.err, "the machine restarted after 0x00000044 MULTIPLE_IRP_COMPLETE_REQUESTS in misbehave.sys "
                              "(ntbox crash shows the report)"))
      << r.err;
  // dbgview marks each boot and the stop: its time column starts again after each boot.
  r = Run("dbgview");
  const std::size_t stop =
      r.out.find("\t---- the machine stopped with 0x00000044 MULTIPLE_IRP_COMPLETE_REQUESTS in misbehave.sys ----\n");
  EXPECT_NE(stop, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\t---- the machine booted at ", stop), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.starts_with("00000001\t")) << r.out;
  EXPECT_TRUE(Contains(r.out.substr(0, r.out.find('\n')), "---- the machine booted at ")) << r.out;
}

}  // namespace

namespace {

// --json where a script would parse: sc query (one service, or a list), sc qc, lm.
TEST_F(MachineTest, JsonForScripts) {
  ASSERT_EQ(Run("sc create 001_sample type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  Outcome r = Run("sc query 001_sample --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  auto one = nlohmann::json::parse(r.out);
  EXPECT_EQ(one["service_name"], "001_sample");
  EXPECT_EQ(one["state_name"], "STOPPED");
  EXPECT_EQ(one["start_type_name"], "DEMAND_START");
  r = Run("sc query state= all --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  ASSERT_TRUE(list.is_array());
  EXPECT_TRUE(std::any_of(list.begin(), list.end(), [](const auto& s) { return s["service_name"] == "001_sample"; }));
  r = Run("sc qc 001_sample --json");
  EXPECT_TRUE(Contains(nlohmann::json::parse(r.out)["binary_path_name"].get<std::string>(), "FirstDriverSample.sys"));
  r = Run("lm --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  auto modules = nlohmann::json::parse(r.out);
  EXPECT_EQ(modules["modules"][0]["name"], "nt");
  EXPECT_TRUE(modules["unloaded"].is_array());
  // dbgview: one object a line, the boot marked.
  r = Run("dbgview --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  std::size_t lines = 0, markers = 0;
  for (std::size_t at = 0; at < r.out.size();) {
    const std::size_t end = r.out.find('\n', at);
    const auto line = nlohmann::json::parse(r.out.substr(at, end - at));
    EXPECT_TRUE(line.contains("sequence") && line.contains("seconds") && line["text"].is_string()) << line;
    markers += line.value("marker", false) ? 1 : 0;
    ++lines;
    at = end + 1;
  }
  EXPECT_GT(lines, 0u);
  EXPECT_GT(markers, 0u) << r.out;
  // reg query: the key's values (typed) and subkeys; /v one value.
  r = Run("reg query \"HKLM\\SYSTEM\\ControlSet001\\Services\\001_sample\" --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto key = nlohmann::json::parse(r.out);
  EXPECT_EQ(key["key"], "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\001_sample");
  const auto& values = key["values"];
  EXPECT_TRUE(std::any_of(values.begin(), values.end(), [](const auto& v) {
    return v["name"] == "Start" && v["type"] == "REG_DWORD" && v["data"] == 3;
  })) << values;
  r = Run("reg query \"HKLM\\SYSTEM\\ControlSet001\\Services\\001_sample\" /v Type --json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["values"][0]["data"], 1) << r.out;
  // verifier /query: verifier.exe's fields by name.
  r = Run("verifier /query --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto verifier = nlohmann::json::parse(r.out);
  EXPECT_TRUE(verifier["Level"].is_number() && verifier["VerifiedDrivers"].is_array()) << r.out;
  // A command without JSON says which have it, before any machine work.
  r = Run("bcdedit /enum --json");
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "ntbox bcdedit: --json is for sc query, sc queryex, sc qc, reg query, verifier /query, ioctl and lm\n");
}

// ioctl --json: the IO_STATUS_BLOCK and the output as hex; load --json: the whole load.
TEST_F(MachineTest, JsonForIoctlAndLoad) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create SIoctl type= kernel binPath= " + Driver("ioctl_sample.sys")).exit, 0);
  ASSERT_EQ(Run("sc start SIoctl").exit, 0);
  // IOCTL_SIOCTL_METHOD_BUFFERED: the sample answers with its own text.
  Outcome r = Run("ioctl '\\\\.\\IoctlTest' 0x9C40240C --in 48656c6c6f00 --out-size 64 --json");
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto io = nlohmann::json::parse(r.out);
  EXPECT_EQ(io["status"], 0);
  EXPECT_EQ(io["statusName"], "STATUS_SUCCESS");
  EXPECT_GT(io["information"].get<int>(), 0);
  EXPECT_EQ(io["output"].get<std::string>().size(), 2 * io["information"].get<std::size_t>());

  r = Ntbox("load --json " + Driver("FirstDriverSample.sys"));
  ASSERT_EQ(r.exit, 0) << r.err;
  auto load = nlohmann::json::parse(r.out);
  EXPECT_EQ(load["outcome"], "unloaded");
  EXPECT_EQ(load["entryStatusName"], "STATUS_SUCCESS");
  EXPECT_EQ(load["output"][0], "This is my first sample driver\n");
  r = Ntbox("load --json --service leak " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  load = nlohmann::json::parse(r.out);
  EXPECT_EQ(load["exit"], 4);
  EXPECT_EQ(load["outcome"], "bugcheck");
  EXPECT_EQ(load["stop"]["code_hex"], "0x000000C4");
}

}  // namespace
