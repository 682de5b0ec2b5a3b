// End to end: the kernel debugger (ntbox kd) on real drivers through the CLI: seed 000's session
// (lm, x, uf with source lines), memory and expressions, !drvobj, errors that leave the session going.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <thread>

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

  // `ntbox kd -c commands` in the background, its output on a pipe.
  struct Background {
    pid_t pid = -1;
    int out = -1;
    std::string text;
    // Reads until text holds needle (false at the end of the output).
    bool ReadUntil(const std::string& needle) {
      char buffer[4096];
      while (text.find(needle) == std::string::npos) {
        const ssize_t n = read(out, buffer, sizeof buffer);
        if (n <= 0) return false;
        text.append(buffer, static_cast<std::size_t>(n));
      }
      return true;
    }
    // Reads to the end; the exit status.
    int Finish() {
      ReadUntil(std::string(1, '\0'));
      close(out);
      int status = 0;
      waitpid(pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  };
  Background StartKd(const std::string& commands) {
    int pipe[2];
    EXPECT_EQ(::pipe(pipe), 0);
    Background b;
    b.pid = fork();
    if (b.pid == 0) {
      dup2(pipe[1], 1);
      dup2(pipe[1], 2);
      close(pipe[0]);
      close(pipe[1]);
      const int null = open("/dev/null", O_RDONLY);
      dup2(null, 0);
      // A session that never ends must not keep the test forever.
      alarm(120);
      execl(NTBOX_BIN, NTBOX_BIN, "--machine", dir_.c_str(), "kd", "-c", commands.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(pipe[1]);
    b.out = pipe[0];
    return b;
  }
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

}  // namespace
