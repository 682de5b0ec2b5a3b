// End to end: the kernel debugger (ntbox kd) on real drivers through the CLI: seed 000's session
// (lm, x, uf with source lines), memory and expressions, !drvobj, errors that leave the session going.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "NtboxRun.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Outcome;

class KdTest : public ntbox::test::MachineFixture {
 protected:
  // Test signing and kernel debugging on, the driver's service created.
  void CreateForDebugging(const std::string& service, const std::string& image) {
    ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
    ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
    ASSERT_EQ(Run("reboot").exit, 0);
    ASSERT_EQ(Run("sc create " + service + " type= kernel binPath= " + Driver(image)).exit, 0);
  }
  // Test signing and kernel debugging on, then the driver started.
  void BootWithDriver(const std::string& service, const std::string& image) {
    ASSERT_NO_FATAL_FAILURE(CreateForDebugging(service, image));
    const Outcome r = Run("sc start " + service);
    ASSERT_EQ(r.exit, 0) << r.out << r.err;
  }
  Outcome Kd(const std::string& commands) { return Run("kd -c '" + commands + "'"); }

  // `ntbox kd` in the background, its output on a pipe: with -c commands, or (none) reading its
  // commands from a pipe the test writes.
  struct Background {
    pid_t pid = -1;
    int out = -1;
    int in = -1;
    std::string text;
    void Send(const std::string& line) {
      const std::string withEnd = line + "\n";
      EXPECT_EQ(write(in, withEnd.data(), withEnd.size()), static_cast<ssize_t>(withEnd.size()));
    }
    // Reads until text holds needle at or after from (false at the end of the output).
    bool ReadUntil(const std::string& needle, std::size_t from = 0) {
      char buffer[4096];
      while (text.find(needle, from) == std::string::npos) {
        const ssize_t n = read(out, buffer, sizeof buffer);
        if (n <= 0) return false;
        text.append(buffer, static_cast<std::size_t>(n));
      }
      return true;
    }
    // Reads to the end; the exit status.
    int Finish() {
      if (in >= 0) close(in);
      ReadUntil(std::string(1, '\0'));
      close(out);
      int status = 0;
      waitpid(pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  };
  Background StartKd(const std::string& commands, const std::vector<std::string>& options = {}) {
    int pipe[2], input[2];
    EXPECT_EQ(::pipe(pipe), 0);
    EXPECT_EQ(::pipe(input), 0);
    Background b;
    b.pid = fork();
    if (b.pid == 0) {
      dup2(pipe[1], 1);
      dup2(pipe[1], 2);
      dup2(input[0], 0);
      close(pipe[0]);
      close(pipe[1]);
      close(input[0]);
      close(input[1]);
      // A session that never ends must not keep the test forever.
      alarm(120);
      std::vector<std::string> args{NTBOX_BIN, "--machine", dir_.string(), "kd"};
      if (!commands.empty()) args.insert(args.end(), {"-c", commands});
      args.insert(args.end(), options.begin(), options.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(NTBOX_BIN, argv.data());
      _exit(127);
    }
    close(pipe[1]);
    close(input[0]);
    b.out = pipe[0];
    b.in = input[1];
    if (!commands.empty()) {
      close(b.in);
      b.in = -1;
    }
    return b;
  }
  // kd waits in g while an IOCTL to kd_target runs into a stop; once kd has shown it (shown), the
  // commands go and the IOCTL's end is awaited. Finish kd after.
  Background StopWithIoctl(const std::string& code, const std::string& shown, Outcome& result,
                           const std::vector<std::string>& commands, const std::vector<std::string>& first = {}) {
    Background kd = StartKd("", {});
    for (const auto& command : first) kd.Send(command);
    kd.Send("g");
    EXPECT_TRUE(kd.ReadUntil("kd> g\n")) << kd.text;
    std::thread ioctl([&] { result = Run("ioctl '\\\\.\\KdTarget' " + code); });
    EXPECT_TRUE(kd.ReadUntil(shown)) << kd.text;
    for (const auto& command : commands) kd.Send(command);
    close(kd.in);
    kd.in = -1;
    ioctl.join();
    return kd;
  }
  // The service created on a machine booted for debugging; kd runs commands (which begin with a
  // breakpoint and g) while `sc start service` loads the driver.
  struct Session {
    int status = -1;  // kd's
    std::string out;  // kd's
    Outcome start;    // sc start's
  };
  Session KdWhileStarting(const std::string& service, const std::string& image, const std::string& commands) {
    Session session;
    CreateForDebugging(service, image);
    Background kd = StartKd(commands);
    EXPECT_TRUE(kd.ReadUntil("kd> g\n")) << kd.text;
    std::thread sc([&] { session.start = Run("sc start " + service); });
    session.status = kd.Finish();
    sc.join();
    session.out = kd.text;
    return session;
  }
  // Boots with kernel debugging and starts kd_target.sys.
  void BootWithTarget() { BootWithDriver("kd_target", "kd_target.sys"); }
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

// Seed 002's session: a breakpoint on DriverEntry set before the driver exists, the program that
// installs it through the service API hits it, p goes line by line to the return, !drvobj shows the
// dispatch table, a breakpoint in the create routine stops the program's CreateFile, k shows the way
// from the driver through the kernel.
TEST_F(KdTest, Seed002Session) {
  ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
  ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  const std::filesystem::path folder = dir_.parent_path() / ("kd_beside_" + std::to_string(getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  for (const char* file : {"ioctl_sample.sys", "ioctl_install_app.exe"}) {
    std::filesystem::copy_file(Driver(file), folder / file);
  }
  std::string steps;
  for (int i = 0; i < 16; ++i) steps += "p; ";
  Background kd = StartKd("bp ioctl_sample!DriverEntry; g; " + steps +
                          "!drvobj SIoctl 2; bp ioctl_sample!SampleCreateClose; bl; g; k; qd");
  ASSERT_TRUE(kd.ReadUntil("kd> g\n")) << kd.text;
  // The breakpoint is set: the program installs and starts the driver, which stops in DriverEntry.
  Outcome app;
  std::thread program([&] {
    // The program finds its driver in its current directory.
    const std::string out = (folder / "app.out").string();
    const int status = std::system(("cd " + folder.string() + " && " + NTBOX_BIN + " --machine " + dir_.string() +
                                    " run ioctl_install_app.exe >" + out + " 2>&1 </dev/null")
                                       .c_str());
    app.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    app.out = ntbox::test::Slurp(out);
  });
  const int status = kd.Finish();
  program.join();
  std::filesystem::remove_all(folder);
  const std::string& out = kd.text;
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(Contains(out, "Bp expression 'ioctl_sample!DriverEntry' could not be resolved, adding deferred bp\n")) << out;
  EXPECT_TRUE(Matches(out, R"(kd> g
Breakpoint 0 hit
ioctl_sample!DriverEntry \[.*ioctl_sample.c @ 30\]:
   30: NTSTATUS DriverEntry\(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath\) \{
[0-9a-f`]{17} 55              push    rbp
0: kd> p
)")) << out;
  // Line by line to the return.
  EXPECT_TRUE(Matches(out, R"(ioctl_sample!DriverEntry\+0x[0-9a-f]+ \[.*ioctl_sample.c @ 42\]:
   42:   DriverObject->MajorFunction\[IRP_MJ_CREATE\] = SampleCreateClose;)")) << out;
  EXPECT_TRUE(Matches(out, R"(ioctl_sample!DriverEntry\+0x[0-9a-f]+ \[.*ioctl_sample.c @ 56\]:
   56:   return STATUS_SUCCESS;)")) << out;
  // !drvobj: the dispatch routines the driver set, the rest nt!IopInvalidDeviceRequest.
  EXPECT_TRUE(Contains(out, "Driver object (")) << out;
  EXPECT_TRUE(Contains(out, "\\Driver\\SIoctl\n")) << out;
  EXPECT_TRUE(Matches(out, R"(\[00\] IRP_MJ_CREATE                      [0-9a-f]{16}	ioctl_sample!SampleCreateClose)")) << out;
  EXPECT_TRUE(Matches(out, R"(\[01\] IRP_MJ_CREATE_NAMED_PIPE           [0-9a-f]{16}	nt!IopInvalidDeviceRequest)")) << out;
  EXPECT_TRUE(Matches(out, R"(\[0e\] IRP_MJ_DEVICE_CONTROL              [0-9a-f]{16}	ioctl_sample!SampleDeviceControl)")) << out;
  EXPECT_TRUE(Matches(out, R"(DriverUnload:  [0-9a-f]{16}	ioctl_sample!SampleUnload)")) << out;
  // The program's CreateFile reaches the create routine: k from there through the kernel.
  EXPECT_TRUE(Matches(out, R"(kd> g
Breakpoint 1 hit
ioctl_sample!SampleCreateClose \[.*ioctl_sample.c @ 59\]:)")) << out;
  EXPECT_TRUE(Matches(out, R"(# Child-SP          RetAddr           Call Site
00 [0-9a-f`]{17} [0-9a-f`]{17} ioctl_sample!SampleCreateClose \[.*ioctl_sample.c @ 59\]
01 [0-9a-f`]{17} [0-9a-f`]{17} nt!IofCallDriver\+0x)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{2} [0-9a-f`]{17} [0-9a-f`]{17} nt!NtCreateFile\+0x)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{2} [0-9a-f`]{17} [0-9a-f`]{17} nt!KiSystemServiceCopyEnd\+0x)")) << out;
  // On through the program: ntdll's system-call thunk, kernelbase's CreateFileA, the program's main
  // at the line of its CreateFileA call.
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{2} [0-9a-f`]{17} [0-9a-f`]{17} ntdll!NtCreateFile\+0x)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{2} [0-9a-f`]{17} [0-9a-f`]{17} kernelbase!CreateFileA\+0x)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f]{2} [0-9a-f`]{17} [0-9a-f`]{17} ioctl_install_app!main\+0x[0-9a-f]+ \[.*ioctl_install_app.c @ 186\]$)"))
      << out;
  // Detached, the program ran on to its end.
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  EXPECT_TRUE(Contains(app.out, "Removed SIoctl")) << app.out;
}

// Break-in freezes the whole machine: kd_target's periodic DPC counter stands still while broken in
// (it counts every 5 ms), and runs again once the debugger lets go.
TEST_F(KdTest, BreakInFreezesTheMachine) {
  BootWithTarget();
  Background kd = StartKd("", {"-b"});
  ASSERT_TRUE(kd.ReadUntil("not available; breakpoints, memory and the extensions are.\n")) << kd.text;
  kd.Send("dd kd_target!g_ticks L1");
  ASSERT_TRUE(kd.ReadUntil("0: kd> dd kd_target!g_ticks L1\n")) << kd.text;
  ASSERT_TRUE(kd.ReadUntil("\n0: kd> ")) << kd.text;
  // Forty timer periods pass while broken in: none of them runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kd.Send("dd kd_target!g_ticks L1");
  kd.Send("qd");
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  const std::regex value(R"(kd> dd kd_target!g_ticks L1\n[0-9a-f`]{17}  ([0-9a-f]{8})\n)");
  std::vector<std::string> seen;
  for (std::sregex_iterator it(kd.text.begin(), kd.text.end(), value), end; it != end; ++it) seen.push_back((*it)[1]);
  ASSERT_EQ(seen.size(), 2u) << kd.text;
  EXPECT_EQ(seen[0], seen[1]) << kd.text;
  EXPECT_NE(seen[0], "00000000") << "the timer ran before the break-in";
  // Detached, the machine runs again.
  const Outcome after = Kd("dd kd_target!g_ticks L1");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(after.out, m, std::regex(R"([0-9a-f`]{17}  ([0-9a-f]{8})\n)"))) << after.out;
  EXPECT_GT(std::stoul(m[1].str(), nullptr, 16), std::stoul(seen[0], nullptr, 16)) << after.out;
}

// A thread spinning at DISPATCH_LEVEL in driver code stops where it spins at a break-in; the
// debugger releases it (ed) and lets it go.
TEST_F(KdTest, BreakInStopsASpinningThread) {
  BootWithTarget();
  int pipe[2];
  ASSERT_EQ(::pipe(pipe), 0);
  const pid_t dbgview = fork();
  if (dbgview == 0) {
    dup2(pipe[1], 1);
    close(pipe[0]);
    close(pipe[1]);
    alarm(120);
    execl(NTBOX_BIN, NTBOX_BIN, "--machine", dir_.c_str(), "dbgview", "-f", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe[1]);
  Outcome spin;
  std::thread ioctl([&] { spin = Run("ioctl '\\\\.\\KdTarget' 0x22200c"); });
  // The driver says it spins (dbgview -f shows the line as it is printed).
  std::string log;
  char buffer[4096];
  while (log.find("spinning at DISPATCH_LEVEL") == std::string::npos) {
    const ssize_t n = read(pipe[0], buffer, sizeof buffer);
    ASSERT_GT(n, 0) << log;
    log.append(buffer, static_cast<std::size_t>(n));
  }
  kill(dbgview, SIGTERM);
  waitpid(dbgview, nullptr, 0);
  close(pipe[0]);
  const Outcome r = Run("kd -b -c 'k; r rip; ed kd_target!g_release 1; qd'");
  ioctl.join();
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_TRUE(Matches(r.out, R"(Break instruction exception - code 80000003 \(first chance\)
kd_target!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 6[78]\]:)")) << r.out;
  EXPECT_TRUE(Matches(r.out, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl\+0x)")) << r.out;
  EXPECT_TRUE(Matches(r.out, R"(^01 [0-9a-f`]{17} [0-9a-f`]{17} nt!IofCallDriver\+0x)")) << r.out;
  EXPECT_EQ(spin.exit, 0) << spin.out << spin.err;
  EXPECT_TRUE(Contains(Run("dbgview").out, "kd_target: released")) << "released by the debugger";
}

// DbgBreakPoint in a driver stops in the debugger at nt!DbgBreakPoint, called from the driver.
TEST_F(KdTest, DbgBreakPointStopsInTheDebugger) {
  BootWithTarget();
  Outcome brk;
  Background kd = StopWithIoctl("0x222004", "int     3\n", brk, {"k", "qd"});
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(Break instruction exception - code 80000003 \(first chance\)
nt!DbgBreakPoint\+0x[0-9a-f]+:
[0-9a-f`]{17} cc              int     3)")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} nt!DbgBreakPoint\+0x)")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(^01 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 55\])"))
      << kd.text;
  EXPECT_EQ(brk.exit, 0) << brk.out << brk.err;
  EXPECT_TRUE(Contains(Run("dbgview").out, "kd_target: back from the break")) << "it went on after the break";
}

// A bugcheck with a debugger attached breaks in first: .bugcheck, k and !analyze -v work there; g
// writes the report and the machine stops as it does without a debugger.
TEST_F(KdTest, BugCheckBreaksInFirst) {
  BootWithTarget();
  Outcome fault;
  Background kd = StopWithIoctl("0x222008", "mov     dword ptr [rax],1\n", fault, {".bugcheck", "k", "!analyze -v", "g"});
  const int status = kd.Finish();
  EXPECT_EQ(status, 4) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "*** Fatal System Error: 0x0000001e\n")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(kd_target!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 60\]:
   60:       \*nowhere = 1;
[0-9a-f`]{17} c70001000000    mov     dword ptr \[rax\],1)")) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "Bugcheck code 0000001E\nArguments ffffffff`c0000005 ")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl\+0x)")) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "KMODE_EXCEPTION_NOT_HANDLED (1e)")) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "STACK_TEXT:")) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "ntbox kd: the machine stopped with a bugcheck (report ")) << kd.text;
  EXPECT_EQ(fault.exit, 4) << fault.out << fault.err;
  EXPECT_TRUE(Contains(Run("crash").out, "KMODE_EXCEPTION_NOT_HANDLED (1e)"));
}

// gdb in batch mode through ntbox gdbserver: a pending breakpoint on DriverEntry resolved when the
// driver loads (the library list gives gdb its file and address), bt through the kernel's own code,
// next by source line, print *DriverObject; detached, the driver's start completes.
TEST_F(KdTest, GdbBreaksInDriverEntryAndSteps) {
  ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
  ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  ASSERT_EQ(Run("sc create kd_target type= kernel binPath= " + Driver("kd_target.sys")).exit, 0);
  const std::string stem = (dir_.parent_path() / ("gdb_" + std::to_string(getpid()))).string();
  const std::string fifo = stem + ".done", scOut = stem + ".sc", gdbOut = stem + ".gdb";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string ntbox = std::string(NTBOX_BIN) + " --machine " + dir_.string();
  // The driver starts once gdb is attached (the machine stands still until gdb goes on), and says
  // so through the fifo when its start has returned.
  const std::string start = "shell (" + ntbox + " sc start kd_target >" + scOut + " 2>&1; echo done >" + fifo + ") &";
  const std::string command = "gdb -batch -nx -ex 'set pagination off' -ex 'set breakpoint pending on' -ex 'target remote | " +
                              ntbox + " gdbserver --stdio' -ex 'break DriverEntry' -ex '" + start +
                              "' -ex continue -ex bt -ex next -ex next -ex 'print *driver' -ex 'info sharedlibrary' "
                              "-ex detach >" + gdbOut + " 2>&1 </dev/null";
  const int status = std::system(command.c_str());
  std::string done;
  {
    std::ifstream in(fifo);
    std::getline(in, done);
  }
  const std::string out = ntbox::test::Slurp(gdbOut);
  const std::string sc = ntbox::test::Slurp(scOut);
  for (const auto& f : {fifo, scOut, gdbOut}) std::remove(f.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_TRUE(Contains(out, "Breakpoint 1 (DriverEntry) pending.")) << out;
  EXPECT_TRUE(Matches(out, R"(Breakpoint 1, DriverEntry \(driver=0x[0-9a-f]+, registryPath=0x[0-9a-f]+\) at .*kd_target.c:98
98	  RtlInitUnicodeString\(&name, L"\\\\Device\\\\KdTarget"\);)")) << out;
  EXPECT_TRUE(Matches(out, R"(#0  DriverEntry \(driver=0x)")) << out;
  EXPECT_TRUE(Matches(out, R"(#1  0x[0-9a-f]+ in ntbox_call_driver \(\))")) << out;
  EXPECT_TRUE(Contains(out, "ntbox::nt::Driver::CallEntry")) << out;
  EXPECT_TRUE(Matches(out, R"(^99	  status = IoCreateDevice\(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device\);$)")) << out;
  EXPECT_TRUE(Matches(out, R"(^100	  if \(!NT_SUCCESS\(status\)\) return status;$)")) << out;
  EXPECT_TRUE(Matches(out, R"(\$1 = \{Type = 4, Size = 336, DeviceObject = 0x[0-9a-f]+, .* DriverInit = 0x[0-9a-f]+ <DriverEntry>)"))
      << out;
  EXPECT_TRUE(Contains(out, "kd_target.sys")) << out;
  EXPECT_TRUE(Contains(out, "[Inferior 1 (Remote target) detached]")) << out;
  EXPECT_EQ(done, "done");
  EXPECT_TRUE(Contains(sc, "STATE              : 4  RUNNING")) << sc;
}

// dv and dt at a stop: the parameters and locals from DWARF, nt!_DRIVER_OBJECT from ntbox's layout
// with the driver object's values, a driver's own structure and a global of it.
TEST_F(KdTest, LocalsAndTypes) {
  const Session session = KdWhileStarting(
      "kd_target", "kd_target.sys",
      "bu kd_target!DriverEntry; g; p; p; p; dv; dt nt!_DRIVER_OBJECT; dt nt!_DRIVER_OBJECT poi(@rbp+10);"
      " dt kd_target!_UNICODE_STRING; dt kd_target!g_dpc; dt nt!_NOSUCH; qd");
  const std::string& out = session.out;
  EXPECT_EQ(session.status, 0) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> dv
        driver = 0x[0-9a-f`]{17} _DRIVER_OBJECT
  registryPath = 0x[0-9a-f`]{17} "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\kd_target"
          name = struct _UNICODE_STRING "\\Device\\KdTarget"
)")) << out;
  EXPECT_TRUE(Contains(out, "        status = 0n0\n")) << out;
  EXPECT_TRUE(Contains(out, "nt!_DRIVER_OBJECT\n   +0x000 Type             : Int2B\n")) << out;
  EXPECT_TRUE(Contains(out, "   +0x070 MajorFunction    : [28] Ptr64     long\n")) << out;
  EXPECT_TRUE(Contains(out, "   +0x002 Size             : 0n336\n")) << out;
  EXPECT_TRUE(Contains(out, "   +0x038 DriverName       : _UNICODE_STRING \"\\Driver\\kd_target\"\n")) << out;
  EXPECT_TRUE(Matches(out, R"(   \+0x058 DriverInit       : 0x[0-9a-f`]{17}     long  kd_target!DriverEntry)")) << out;
  EXPECT_TRUE(Matches(out, R"(   \+0x070 MajorFunction    : \[28\] 0x[0-9a-f`]{17}     long  nt!IopInvalidDeviceRequest)")) << out;
  EXPECT_TRUE(Contains(out, "kd_target!_UNICODE_STRING\n   +0x000 Length           : Uint2B\n")) << out;
  EXPECT_TRUE(Contains(out, "   +0x018 DeferredRoutine  : (null)\n")) << out;
  EXPECT_TRUE(Contains(out, "Symbol nt!_NOSUCH not found.\n")) << out;
  EXPECT_EQ(session.start.exit, 0) << session.start.out << session.start.err;
}

// The machine's state at a breakpoint in a dispatch routine: IRQL, KPCR, processors, the thread and
// its stack, the processes, objects and directories, the device stack, the IRP.
TEST_F(KdTest, SystemStateExtensions) {
  BootWithTarget();
  Outcome write;
  Background kd = StopWithIoctl("0x222000", "Breakpoint 0 hit\n", write,
                                {"!irql", "!pcr", "~", "!thread", "!process 0 0", "!object \\Device",
                                 "!object \\Device\\KdTarget", "!devstack KdTarget", "!irp @rdx", "!poolused", "qd"},
                                {"bp kd_target!KdTargetDeviceControl"});
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  const std::string& out = kd.text;
  EXPECT_TRUE(Contains(out, "Debugger saved IRQL for processor 0x0 -- 0 (PASSIVE_LEVEL)\n")) << out;
  EXPECT_TRUE(Matches(out, R"(KPCR for Processor 0 at [0-9a-f]{16}:)")) << out;
  EXPECT_TRUE(Matches(out, R"(^\. 0  thread [0-9a-f]{16} \(stopped\)$)")) << out;
  EXPECT_TRUE(Matches(out, R"(^THREAD [0-9a-f]{16}  Cid [0-9a-f]{4}\.[0-9a-f]{4} )")) << out;
  EXPECT_TRUE(Matches(out, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl \[)")) << out;
  EXPECT_TRUE(Contains(out, "**** NT ACTIVE PROCESS DUMP ****\n")) << out;
  EXPECT_TRUE(Contains(out, "    Image: System\n")) << out;
  EXPECT_TRUE(Contains(out, "        \\Device\\KdTarget\n")) << out;
  EXPECT_TRUE(Matches(out, R"(Object: [0-9a-f]{16}  Type: \([0-9a-f]{16}\) Device
    ObjectHeader: [0-9a-f]{16}
    HandleCount: \d+  PointerCount: \d+
    Name: \\Device\\KdTarget)")) << out;
  EXPECT_TRUE(Matches(out, R"(> [0-9a-f]{16}  \\Driver\\kd_target  [0-9a-f]{16}  KdTarget)")) << out;
  EXPECT_TRUE(Matches(out, R"(Irp is active with 1 stacks 1 is current \(= 0x[0-9a-f]{16}\)
 No Mdl: System buffer=[0-9a-f]{16}: Thread [0-9a-f]{16}:  Irp stack trace\.
     cmd  flg cl Device   File     Completion-Context
>\[IRP_MJ_DEVICE_CONTROL\(e\), N/A\(0\)\])")) << out;
  EXPECT_TRUE(Matches(out, R"(^\t\t\tArgs: [0-9a-f]{8} [0-9a-f]{8} 0x222000 [0-9a-f]{8,16}$)")) << out;
  EXPECT_TRUE(Contains(out, " Tag    Allocs         Used    Allocs         Used\n")) << out;
  EXPECT_EQ(write.exit, 0) << write.out << write.err;
}

// bm sets a breakpoint per matching function; .frame 1 moves dv to the caller's locals; pc runs to
// the next call.
TEST_F(KdTest, FramesPatternBreakpointsAndStepToCall) {
  BootWithTarget();
  Outcome write;
  Background kd = StopWithIoctl("0x222000", "Breakpoint 0 hit\n", write, {".frame 1", "dv", "pc", "qd"},
                                {"bm kd_target!WriteW*"});
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  const std::string& out = kd.text;
  EXPECT_TRUE(Matches(out, R"( 0: [0-9a-f`]{17} @!"kd_target!WriteWatched")")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> \.frame 1
01 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 51\])")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> dv
   device = 0x[0-9a-f`]{17} _DEVICE_OBJECT
      irp = 0x[0-9a-f`]{17} _IRP
)")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> pc
kd_target!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 51\]:
.*
[0-9a-f`]{17} e8[0-9a-f]{8}      call    kd_target!DbgPrint)")) << out;
  EXPECT_EQ(write.exit, 0) << write.out << write.err;
}

// A stripped driver: COFF names only, until .sympath+ names the folder of its unstripped build and
// .reload reads the DWARF from there (functions' parameter types, source lines).
TEST_F(KdTest, SymbolPathFindsTheUnstrippedImage) {
  ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
  ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  const std::filesystem::path folder = dir_.parent_path() / ("stripped_" + std::to_string(getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  const std::string image = (folder / "kd_target.sys").string();
  std::filesystem::copy_file(Driver("kd_target.sys"), image);
  ASSERT_EQ(std::system(("x86_64-w64-mingw32-strip --strip-debug " + image).c_str()), 0);
  ASSERT_EQ(Run("testsign " + image).exit, 0);
  ASSERT_EQ(Run("sc create kd_target type= kernel binPath= " + image).exit, 0);
  ASSERT_EQ(Run("sc start kd_target").exit, 0);
  const Outcome r = Kd("x kd_target!KdTargetDeviceControl; .sympath; .sympath+ " + std::string(NTBOX_DRIVER_DIR) +
                       "; .reload; x kd_target!KdTargetDeviceControl; lm m kd_target; u kd_target!WriteWatched L1");
  std::filesystem::remove_all(folder);
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Matches(r.out, R"(kd> x kd_target!KdTargetDeviceControl
[0-9a-f`]{17} kd_target!KdTargetDeviceControl \(KdTargetDeviceControl\)
)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Symbol search path is: <empty>")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Symbol search path is: " + std::string(NTBOX_DRIVER_DIR) + "\n")) << r.out;
  EXPECT_TRUE(Matches(r.out, R"([0-9a-f`]{17} kd_target!KdTargetDeviceControl \(struct _DEVICE_OBJECT \*, struct _IRP \*\))")) << r.out;
  EXPECT_TRUE(Contains(r.out, "   kd_target   (dwarf symbols)        " + std::string(NTBOX_DRIVER_DIR) + "/kd_target.sys")) << r.out;
  EXPECT_TRUE(Matches(r.out, R"(kd_target!WriteWatched \[.*kd_target.c @ 32\]:
   32 [0-9a-f`]{17} 55              push    rbp)")) << r.out;
}

// A clang -gcodeview driver: its PDB (named by the image's CodeView entry) gives kd functions,
// source lines, locals, globals and types, and the bugcheck report its source line.
TEST_F(KdTest, PdbSymbolsFromAClangDriver) {
  const Session session = KdWhileStarting(
      "kd_target_pdb", "kd_target_pdb.sys",
      "bu kd_target_pdb!DriverEntry; g; p; p; p; dv; k; lm m kd_target_pdb; x kd_target_pdb!g_*;"
      " uf kd_target_pdb!WriteWatched; dt kd_target_pdb!_UNICODE_STRING; qd");
  const std::string& out = session.out;
  EXPECT_EQ(session.status, 0) << out;
  EXPECT_EQ(session.start.exit, 0) << session.start.out << session.start.err;
  EXPECT_TRUE(Matches(out, R"(Breakpoint 0 hit
kd_target_pdb!DriverEntry \[.*kd_target.c @ 92\]:
   92: NTSTATUS DriverEntry\(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath\) \{)")) << out;
  EXPECT_TRUE(Matches(out, R"(kd_target_pdb!DriverEntry\+0x[0-9a-f]+ \[.*kd_target.c @ 99\]:
   99:   status = IoCreateDevice)")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> dv
        driver = 0x[0-9a-f`]{17} _DRIVER_OBJECT
  registryPath = 0x[0-9a-f`]{17} "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\kd_target_pdb"
          name = struct _UNICODE_STRING "\\Device\\KdTarget"
)")) << out;
  EXPECT_TRUE(Matches(out, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} kd_target_pdb!DriverEntry\+0x[0-9a-f]+ \[.*kd_target.c @ 99\]$)")) << out;
  EXPECT_TRUE(Matches(out, R"(   kd_target_pdb   \(private pdb symbols\)  .*/kd_target_pdb\.pdb$)")) << out;
  EXPECT_TRUE(Matches(out, R"(^[0-9a-f`]{17} kd_target_pdb!g_ticks = 0x00000000$)")) << out;
  EXPECT_TRUE(Matches(out, R"(kd_target_pdb!WriteWatched \[.*kd_target.c @ 32\]:
   32 [0-9a-f`]{17} 50              push    rax
)")) << out;
  EXPECT_TRUE(Contains(out, "kd_target_pdb!_UNICODE_STRING\n   +0x000 Length           : Uint2B\n")) << out;
  EXPECT_TRUE(Contains(out, "   +0x008 Buffer           : Ptr64 Wchar\n")) << out;

  // The report's line comes from the PDB too.
  EXPECT_NE(Run("ioctl '\\\\.\\KdTarget' 0x222008").exit, 0);
  const Outcome crash = Run("crash");
  EXPECT_TRUE(Matches(crash.out, R"(STACK_TEXT:
[0-9a-f`]{17} kd_target_pdb!KdTargetDeviceControl\+0x[0-9a-f]+ \[.*kd_target.c @ 60\])")) << crash.out;
}

// A breakpoint in a program's own code, set before the program runs: it stops there with the
// program's frames, locals and source lines; the program's other thread stands still meanwhile;
// the breakpoint holds for the next run of the program too.
TEST_F(KdTest, BreakpointInAProgramFreezesItsOtherThreads) {
  ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  Background kd = StartKd("");
  kd.Send("bp kd_app!Marker");
  kd.Send("g");
  ASSERT_TRUE(kd.ReadUntil("kd> g\n")) << kd.text;
  Outcome first, second;
  std::thread app([&] { first = Run("run " + Driver("kd_app.exe")); });
  std::thread again;
  // On a failed assertion the debugger goes (the programs run on) before the threads are joined.
  struct Cleanup {
    Background& kd;
    std::thread &app, &again;
    ~Cleanup() {
      if (kd.pid > 0 && (app.joinable() || again.joinable())) kill(kd.pid, SIGKILL);
      if (app.joinable()) app.join();
      if (again.joinable()) again.join();
    }
  } cleanup{kd, app, again};
  ASSERT_TRUE(kd.ReadUntil("Breakpoint 0 hit\n")) << kd.text;
  kd.Send("dd kd_app!g_counter L1");
  const std::string echo = "0: kd> dd kd_app!g_counter L1\n";
  ASSERT_TRUE(kd.ReadUntil(echo)) << kd.text;
  ASSERT_TRUE(kd.ReadUntil("\n", kd.text.find(echo) + echo.size())) << kd.text;  // its value
  // The counting thread would count thousands in this time.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const char* command : {"dd kd_app!g_counter L1", "k", "p", "p", "dv", "r", "g"}) kd.Send(command);
  app.join();
  const std::size_t mark = kd.text.size();
  again = std::thread([&] { second = Run("run " + Driver("kd_app.exe")); });
  ASSERT_TRUE(kd.ReadUntil("Breakpoint 0 hit\n", mark)) << kd.text;
  kd.Send("qd");
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  again.join();
  const std::string& out = kd.text;
  EXPECT_EQ(first.exit, 0) << first.out << first.err;
  EXPECT_TRUE(Contains(first.out, "total 42")) << first.out;
  EXPECT_EQ(second.exit, 0) << second.out << second.err;

  EXPECT_TRUE(Matches(out, R"(Bp expression 'kd_app!Marker' could not be resolved, adding deferred bp
kd> g
Breakpoint 0 hit
kd_app!Marker \[.*kd_app.c @ 17\]:)")) << out;
  const std::regex value(R"(kd> dd kd_app!g_counter L1\n[0-9a-f`]{17}  ([0-9a-f]{8})\n)");
  std::vector<std::string> seen;
  for (std::sregex_iterator it(out.begin(), out.end(), value), end; it != end; ++it) seen.push_back((*it)[1]);
  ASSERT_EQ(seen.size(), 2u) << out;
  EXPECT_EQ(seen[0], seen[1]) << out;
  EXPECT_NE(seen[0], "00000000") << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> k
# Child-SP          RetAddr           Call Site
00 [0-9a-f`]{17} [0-9a-f`]{17} kd_app!Marker \[.*kd_app.c @ 17\]
01 [0-9a-f`]{17} [0-9a-f`]{17} kd_app!main\+0x[0-9a-f]+ \[.*kd_app.c @ 34\]
)")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> p
kd_app!Marker\+0x[0-9a-f]+ \[.*kd_app.c @ 18\]:
   18:   int doubled = value \* 2;)")) << out;
  EXPECT_TRUE(Matches(out, R"(0: kd> dv
    value = 0n21
  doubled = 0n42
)")) << out;
  EXPECT_TRUE(Contains(out, "cs=0033  ss=002b")) << out;  // user mode's selectors
}

// kd -b while a program spins in its own code: the program's thread stops where it is, with its
// registers and frames; the debugger's edit of a program global ends the loop after qd.
TEST_F(KdTest, BreakInStopsAProgramSpinningInItsOwnCode) {
  ASSERT_EQ(Run("bcdedit /debug on").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  const std::string fifo = (dir_.parent_path() / ("kd_spin_" + std::to_string(getpid()))).string();
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  int status = -1;
  std::thread app([&] {
    // Bounded: a debugger that failed to end the loop must not keep the test.
    status = std::system(("timeout 60 " + std::string(NTBOX_BIN) + " --machine " + dir_.string() + " run " + Driver("kd_app.exe") +
                          " spin >" + fifo + " </dev/null")
                             .c_str());
  });
  // Its first line: the program is in its loop.
  const int out = open(fifo.c_str(), O_RDONLY);
  ASSERT_GE(out, 0);
  std::string said;
  char c = 0;
  while (said.find("spinning") == std::string::npos && read(out, &c, 1) == 1) said += c;
  const Outcome kd = Run("kd -b -c 'r; k; ed kd_app!g_stop 1; qd'");
  while (read(out, &c, 1) == 1) said += c;
  close(out);
  app.join();
  unlink(fifo.c_str());
  EXPECT_EQ(kd.exit, 0) << kd.out << kd.err;
  EXPECT_TRUE(Matches(kd.out, R"(Break instruction exception - code 80000003 \(first chance\)
kd_app!main\+0x[0-9a-f]+ \[.*kd_app.c @ 27\]:
   27:     while \(!g_stop\) g_counter\+\+;)")) << kd.out;
  EXPECT_TRUE(Contains(kd.out, "cs=0033  ss=002b")) << kd.out;
  EXPECT_TRUE(Matches(kd.out, R"(^00 [0-9a-f`]{17} [0-9a-f`]{17} kd_app!main\+0x[0-9a-f]+ \[.*kd_app.c @ 27\]$)")) << kd.out;
  EXPECT_TRUE(Contains(said, "stopped")) << said;
  EXPECT_EQ(status, 0) << said;
}

// ba w4 on a driver global: the write in the IOCTL stops right after it, in the function that wrote.
TEST_F(KdTest, DataBreakpointOnADriverGlobal) {
  BootWithTarget();
  Outcome write;
  Background kd = StopWithIoctl("0x222000", "Breakpoint 0 hit\n", write, {"k", "dd kd_target!g_watched L1", "bc 0", "bl", "qd"},
                                {"ba w4 kd_target!g_watched", "bl"});
  EXPECT_EQ(kd.Finish(), 0) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(kd> bl
 0 e  [0-9a-f`]{17} w 4  0001 \(0001\) kd_target!g_watched
)")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(Breakpoint 0 hit
kd_target!WriteWatched\+0x[0-9a-f]+ \[.*kd_target.c @ 34\]:
   34:   return g_watched;)")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(^01 [0-9a-f`]{17} [0-9a-f`]{17} kd_target!KdTargetDeviceControl\+0x)")) << kd.text;
  EXPECT_TRUE(Matches(kd.text, R"(0: kd> dd kd_target!g_watched L1
[0-9a-f`]{17}  00000001
)")) << kd.text;
  EXPECT_TRUE(Contains(kd.text, "0: kd> bl\n0: kd> qd")) << kd.text;
  EXPECT_EQ(write.exit, 0) << write.out << write.err;
  // The watched page is the driver's again: another write goes through.
  EXPECT_EQ(Run("ioctl '\\\\.\\KdTarget' 0x222000").exit, 0);
  EXPECT_TRUE(Contains(Run("dbgview").out, "kd_target: wrote 2")) << Run("dbgview").out;
}

// gdb's watchpoint on the same global: Old value, New value, where it was written.
TEST_F(KdTest, GdbWatchesADriverGlobal) {
  BootWithTarget();
  const std::string stem = (dir_.parent_path() / ("gdbw_" + std::to_string(getpid()))).string();
  const std::string fifo = stem + ".done", gdbOut = stem + ".gdb";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string ntbox = std::string(NTBOX_BIN) + " --machine " + dir_.string();
  const std::string write = "shell (" + ntbox + " ioctl '\\\\\\\\.\\\\KdTarget' 0x222000 >/dev/null 2>&1; echo done >" + fifo + ") &";
  const std::string command = "gdb -batch -nx -ex 'target remote | " + ntbox + " gdbserver --stdio' -ex sharedlibrary " +
                              "-ex 'watch g_watched' -ex \"" + write + "\" -ex continue -ex 'bt 2' -ex delete -ex detach >" +
                              gdbOut + " 2>&1 </dev/null";
  const int status = std::system(command.c_str());
  std::string done;
  {
    std::ifstream in(fifo);
    std::getline(in, done);
  }
  const std::string out = ntbox::test::Slurp(gdbOut);
  for (const auto& f : {fifo, gdbOut}) std::remove(f.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_TRUE(Contains(out, "Hardware watchpoint 1: g_watched")) << out;
  EXPECT_TRUE(Contains(out, "Old value = 0\nNew value = 1\n")) << out;
  EXPECT_TRUE(Matches(out, R"(WriteWatched \(value=1\) at .*kd_target.c:34)")) << out;
  EXPECT_TRUE(Matches(out, R"(#1  0x[0-9a-f]+ in KdTargetDeviceControl \(device=0x)")) << out;
  EXPECT_EQ(done, "done");
}

// On a terminal: the prompt, Ctrl-C breaks in (the stop shows with the 0: kd> prompt), commands
// run, qd detaches.
TEST_F(KdTest, CtrlCBreaksInOnATerminal) {
  BootWithTarget();
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(120);
    execl(NTBOX_BIN, NTBOX_BIN, "--machine", dir_.c_str(), "kd", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string text;
  auto readUntil = [&](const std::string& needle) {
    char buffer[4096];
    while (text.find(needle) == std::string::npos) {
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 30000) <= 0) return false;
      const ssize_t n = read(master, buffer, sizeof buffer);
      if (n <= 0) return false;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  };
  EXPECT_TRUE(readUntil("kd> ")) << text;
  EXPECT_EQ(write(master, "\x03", 1), 1);
  EXPECT_TRUE(readUntil("0: kd> ")) << text;
  EXPECT_EQ(write(master, "r rip\r", 6), 6);
  EXPECT_TRUE(readUntil("No thread is stopped")) << text;
  EXPECT_TRUE(readUntil("0: kd> ")) << text;
  EXPECT_EQ(write(master, "qd\r", 3), 3);
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_TRUE(Contains(text, "Break instruction exception - code 80000003 (first chance)")) << text;
  // Detached, the machine runs: its timer ticks on.
  const Outcome after = Kd("dd kd_target!g_ticks L1");
  EXPECT_EQ(after.exit, 0) << after.err;
}

}  // namespace
