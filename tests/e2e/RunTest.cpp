// End to end: Win32 programs under `ntbox run` (issue 4's user mode): seed 002's flow with
// ioctl_app.exe against ioctl_sample.sys, the console streams, exit codes and crashes of a
// program, refusals before main, Ctrl-C and shutdown while a program runs.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <termios.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "NtboxRun.h"
#include "pe/PeImage.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Outcome;
using ntbox::test::Slurp;

class RunTest : public ntbox::test::MachineFixture {
 protected:
  void StartIoctlSample() {
    TestSigningOn();
    ASSERT_EQ(Run("sc create SIoctl type= kernel binPath= " + Driver("ioctl_sample.sys")).exit, 0);
    ASSERT_EQ(Run("sc start SIoctl").exit, 0);
  }
  Outcome App(const std::string& args) { return Run("run " + Driver(args)); }
  // `ntbox args` with the current directory a fresh folder holding copies of the built files, as a
  // user runs a program beside its driver.
  Outcome RunBeside(const std::vector<std::string>& files, const std::string& args, std::filesystem::path* where = nullptr) {
    const std::filesystem::path folder = dir_.parent_path() / ("beside_" + std::to_string(getpid()));
    std::filesystem::remove_all(folder);
    std::filesystem::create_directories(folder);
    for (const auto& file : files) std::filesystem::copy_file(Driver(file), folder / file);
    const std::filesystem::path previous = std::filesystem::current_path();
    std::filesystem::current_path(folder);
    Outcome r = Run(args);
    std::filesystem::current_path(previous);
    std::filesystem::remove_all(folder);
    if (where) *where = folder;
    return r;
  }

  // In a forked child: becomes `ntbox run args...` on this test's machine.
  [[noreturn]] void ExecRun(const std::vector<std::string>& args) {
    std::vector<std::string> argv{NTBOX_BIN, "--machine", dir_.string(), "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }

  // `ntbox run` in the background, its stdout on a pipe; returns once it printed `line`.
  pid_t Start(const std::string& program, const std::vector<std::string>& args, const std::string& line, int& out) {
    return StartWithInput(program, args, line, -1, out);
  }
  // Starts ntbox run as Start does, sends it SIGINT once line is out, and returns how it ended.
  int ExitAfterInterrupt(const std::string& program, const std::vector<std::string>& args, const std::string& line) {
    int out = -1;
    const pid_t pid = Start(program, args, line, out);
    if (pid <= 0) return -1;
    kill(pid, SIGINT);
    const int status = Wait(pid);
    close(out);
    return status;
  }
  // The same with stdin from a descriptor (-1: this process's).
  pid_t StartWithInput(const std::string& program, const std::vector<std::string>& args, const std::string& line,
                       int in, int& out) {
    int p[2];
    if (pipe(p) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
      if (in >= 0) dup2(in, 0);
      dup2(p[1], 1);
      close(p[0]);
      close(p[1]);
      std::vector<std::string> argv{Driver(program)};
      argv.insert(argv.end(), args.begin(), args.end());
      ExecRun(argv);
    }
    close(p[1]);
    out = p[0];
    std::string seen;
    char c;
    while (!Contains(seen, line) && read(out, &c, 1) == 1) seen += c;
    EXPECT_TRUE(Contains(seen, line)) << seen;
    return pid;
  }
  static int Wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // `ntbox run PROGRAM args` on a pseudo-terminal, as from a user's terminal: once the
  // program has printed `cue`, `keys` are typed (or, with interrupt, kill(SIGINT) hits the client as
  // a terminal's Ctrl-C does). out is everything the terminal showed; termios what the terminal's
  // settings were after the run.
  struct TerminalRun {
    int exit = -1;
    std::string out;
    termios after{};
  };
  TerminalRun OnTerminal(const std::vector<std::string>& args, const std::string& cue, const std::string& keys,
                         bool interrupt = false) {
    TerminalRun r;
    int master = -1;
    winsize size{};
    size.ws_row = 30;
    size.ws_col = 100;
    const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
    if (pid == 0) ExecRun(args);
    if (pid < 0) return r;
    bool sent = cue.empty();
    for (;;) {
      if (!sent && Contains(r.out, cue)) {
        if (interrupt) {
          kill(pid, SIGINT);
        } else {
          EXPECT_EQ(write(master, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
        }
        sent = true;
      }
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 60000) <= 0) break;  // a test that hangs fails, it does not wait forever
      char buffer[4096];
      const ssize_t n = read(master, buffer, sizeof buffer);
      if (n <= 0) break;  // EIO: the client, the terminal's last user, has gone
      r.out.append(buffer, static_cast<std::size_t>(n));
    }
    tcgetattr(master, &r.after);
    r.exit = Wait(pid);
    close(master);
    return r;
  }
};

// What a program's "\n" becomes in a redirected stdout on Windows (msvcrt's text mode).
std::string Crlf(std::string text) {
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 2)) text.insert(at, "\r");
  return text;
}

constexpr char kSeed002Output[] =
    "Calling DeviceIoControl METHOD_IN_DIRECT:\n"
    "    InBuffer (48) read by the driver: Second input, read by the driver through an MDL\n"
    "Calling DeviceIoControl METHOD_OUT_DIRECT:\n"
    "    OutBuffer (38): This String is from Device Driver !!!\n"
    "Calling DeviceIoControl METHOD_NEITHER:\n"
    "    OutBuffer (38): This String is from Device Driver !!!\n"
    "Calling DeviceIoControl METHOD_BUFFERED:\n"
    "    OutBuffer (38): This String is from Device Driver !!!\n";

// Seed 002's flow with ioctl_app.exe: kernel32's CreateFile and DeviceIoControl (Wine's) reach the
// driver through NtCreateFile and NtDeviceIoControlFile; msvcrt writes CRLF to a redirected stdout.
TEST_F(RunTest, Seed002FlowWithNtboxRun) {
  StartIoctlSample();
  Outcome r = Run("run " + Driver("ioctl_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, Crlf(kSeed002Output));
  // The driver saw the app's requests: create, each method, close.
  const std::string log = Run("dbgview").out;
  EXPECT_TRUE(Contains(log, "This String is from User Application; using METHOD_NEITHER")) << log;
  EXPECT_TRUE(Contains(log, "This String is from User Application; using METHOD_BUFFERED")) << log;
  r = Run("sc stop SIoctl");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;  // the program's handle closed when it ended
  r = Run("run " + Driver("ioctl_app.exe"));
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "Error: CreateFile \\\\.\\IoctlTest failed: 2\r\n");
}

// Seed 002 as the sample runs it: the program finds its driver in its current directory, installs
// and starts it through the service API (ntbox's sechost.dll on the machine's SCM, the code `sc`
// runs), sends the four methods, then stops and deletes the service; `sc` sees each step.
TEST_F(RunTest, Seed002InstallsItsDriverThroughTheServiceApi) {
  TestSigningOn();
  std::filesystem::path folder;
  const Outcome r = RunBeside({"ioctl_sample.sys", "ioctl_install_app.exe"}, "run ioctl_install_app.exe", &folder);
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  std::string expected = "Installed SIoctl from Z:" + folder.string() + "/ioctl_sample.sys\n" +
                         "Started: state 4, controls accepted 1\n" + kSeed002Output +
                         "Stopped: state 1\nRemoved SIoctl\n";
  std::replace(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(expected.find("\n")), '/', '\\');
  EXPECT_EQ(r.out, Crlf(expected));
  const std::string log = Run("dbgview").out;
  EXPECT_TRUE(Contains(log, "This String is from User Application; using METHOD_BUFFERED")) << log;
  EXPECT_TRUE(Contains(log, "ioctl_sample: unloaded")) << log;
  EXPECT_TRUE(Contains(Run("sc query SIoctl").out, "FAILED 1060:")) << "deleted";
}

// The service API's refusals are Windows' (sechost.dll's checks and the SCM's, as `sc` has them).
TEST_F(RunTest, TheServiceApiRefusesAsWindowsDoes) {
  TestSigningOn();
  const Outcome r = RunBeside({"ioctl_sample.sys", "ioctl_install_app.exe"}, "run ioctl_install_app.exe errors");
  EXPECT_EQ(r.exit, 0) << r.err;
  for (const char* line : {"OpenService(missing): error 1060", "CreateService(bad name): error 123",
                           "CreateService(again, any case): error 1073", "ControlService(stop, not started): error 1062",
                           "StartService(query-only handle): error 5", "StartService: ok",
                           "StartService(again): error 1056", "ControlService(pause): error 1052",
                           "state after the refused pause: 4", "ErrorsDemo (ErrorsDemo), state 4",
                           "QueryServiceConfig(no room): error 122", "type 1, start 3, path \\??\\Z:",
                           "GetServiceDisplayName: ok\r\n  Errors demo", "ChangeServiceConfig2(description): ok",
                           "QueryServiceConfig2(no room): error 122\r\n  needs 39",
                           "QueryServiceConfig2: ok\r\n  Shows the service API's errors",
                           "ChangeServiceConfig2(delayed auto-start): error 120", "DeleteService(again): error 1072",
                           "ControlService(stop): ok\r\n  state 1", "OpenService(deleted): error 1060",
                           "CloseServiceHandle(NULL): error 6"}) {
    EXPECT_TRUE(Contains(r.out, line)) << line << "\n" << r.out;
  }
}

TEST_F(RunTest, BadBuffersGetWindowsErrors) {
  StartIoctlSample();
  const Outcome r = App("ioctl_app.exe badbuffers");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, Crlf("Bad buffers:\n"
                                   "  BUFFERED, NULL output              error 998\n"
                                   "  IN_DIRECT, NULL output             error 998\n"
                                   "  OUT_DIRECT, kernel output          error 998\n"
                                   "  BUFFERED, kernel input             error 998\n"
                                   "  BUFFERED, no buffers               error 87\n"
                                   "  unknown IOCTL                      error 1\n")))
      << r.out;
}

TEST_F(RunTest, DriverFaultDuringTheAppsRequest) {
  StartIoctlSample();
  Outcome r = App("ioctl_app.exe fault");
  EXPECT_EQ(r.exit, 4);
  EXPECT_TRUE(Contains(r.out, "Asking the driver to fault\r\n")) << r.out;
  EXPECT_FALSE(Contains(r.out, "DeviceIoControl returned")) << "the program does not run on";
  EXPECT_TRUE(Contains(r.err, "ioctl_app.exe ended: the machine stopped with 0x0000001E KMODE_EXCEPTION_NOT_HANDLED "
                              "in ioctl_sample.sys during its request (report saved to " +
                              (dir_ / "crashes").string() + "/"))
      << r.err;
  const std::string report = Slurp((dir_ / "crashes" / "last.txt").string());
  EXPECT_TRUE(Contains(report, "KMODE_EXCEPTION_NOT_HANDLED (1e)")) << report;
  EXPECT_TRUE(Contains(report, "ioctl_sample!SampleDeviceControl+0x")) << report;
  // The stack at the fault: the dispatch routine by the driver's .pdata, then the kernel's frames
  // by name down to the program's system call.
  const auto stack = report.find("STACK_TEXT:\n");
  ASSERT_NE(stack, std::string::npos) << report;
  const std::string text = report.substr(stack, report.find("\n\n", stack) - stack);
  // Then the program's, below its system call: ntdll's thunk, kernelbase, the program's main with
  // its source line.
  for (const char* frame : {" ioctl_sample!SampleDeviceControl+0x", " nt!IofCallDriver+0x", " nt!NtDeviceIoControlFile+0x",
                            " nt!KiSystemServiceCopyEnd+0x", " ntdll!NtDeviceIoControlFile+0x", " kernelbase!DeviceIoControl+0x",
                            " ioctl_app!main+0x"}) {
    EXPECT_TRUE(Contains(text, frame)) << frame << "\n" << text;
  }
  EXPECT_LT(text.find("SampleDeviceControl"), text.find("IofCallDriver")) << text;
  EXPECT_LT(text.find("KiSystemServiceCopyEnd"), text.find("ioctl_app!main")) << text;
  EXPECT_TRUE(Contains(text, "ioctl_app.c @ ")) << text;
  const std::string json = Run("crash --json").out;
  EXPECT_TRUE(Contains(json, "\"symbol\": \"ioctl_sample!SampleDeviceControl+0x")) << json;
  EXPECT_TRUE(Contains(json, "\"symbol\": \"ioctl_app!main+0x")) << json;
  // The next command boots a fresh machine with the service configured.
  r = Run("sc start SIoctl");
  EXPECT_EQ(r.exit, 0) << r.err;
  r = App("ioctl_app.exe");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, Crlf(kSeed002Output));
}

TEST_F(RunTest, SehInTheClangBuiltDriver) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create SIoctl type= kernel binPath= " + Driver("ioctl_sample_seh.sys")).exit, 0);
  ASSERT_EQ(Run("sc start SIoctl").exit, 0);
  // Kernel addresses fail ProbeForRead/ProbeForWrite (raised exceptions); unmapped user ones fault
  // in the driver's own code (hardware exceptions). Its __except takes both.
  Outcome r = App("ioctl_app.exe neither");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, Crlf("Bad METHOD_NEITHER buffers:\n"
                                   "  NEITHER, kernel input              error 998\n"
                                   "  NEITHER, kernel output             error 998\n"
                                   "  NEITHER, unmapped input            error 998\n"
                                   "  NEITHER, unmapped output           error 998\n"
                                   "  NEITHER, good buffers again        ok, 38 bytes\n")))
      << r.out;
  EXPECT_TRUE(Contains(Run("dbgview").out, "loaded (clang/SEH build)"));
  EXPECT_TRUE(Contains(Run("dbgview").out, "METHOD_NEITHER buffers rejected: C0000005"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "crashes" / "last.txt"));
  EXPECT_EQ(Run("sc stop SIoctl").exit, 0);
}

TEST_F(RunTest, WithoutSehTheRaiseStopsTheMachine) {
  StartIoctlSample();  // the gcc build: no __try around its probes
  const Outcome r = App("ioctl_app.exe neither");
  EXPECT_EQ(r.exit, 4);
  const std::string report = Slurp((dir_ / "crashes" / "last.txt").string());
  EXPECT_TRUE(Contains(report, "KMODE_EXCEPTION_NOT_HANDLED (1e)")) << report;
  EXPECT_TRUE(Contains(report, "Arg1: ffffffffc0000005")) << report;
}

TEST_F(RunTest, ArgumentsAndCommandLine) {
  const Outcome r = Run("run " + Driver("user_basics.exe") + " args -x 'two words' 'q\"uote'");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            Crlf("argc=5\nargv[0]=user_basics.exe\nargv[1]=args\nargv[2]=-x\nargv[3]=two words\nargv[4]=q\"uote\n"
                 "cmdline=user_basics.exe args -x \"two words\" \"q\\\"uote\"\n"));
}

TEST_F(RunTest, ConsoleStreamsAndExitCode) {
  Outcome r = App("user_basics.exe streams");
  EXPECT_EQ(r.exit, 3);
  // A redirected stdout is no console: WriteConsoleA fails on it, as on Windows.
  EXPECT_EQ(r.out, "to stdout 42 text  3.14 123456789abc\r\nWriteFile\nputs\r\n!\r\n");
  EXPECT_EQ(r.err, "to stderr -7\r\n");
  r = RunWithInput("run " + Driver("user_basics.exe") + " echo", "first line\nsecond\nno newline");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "1: first line\r\n2: second\r\n3: no newlinelines=3\r\n");
  r = App("user_basics.exe exit 7");
  EXPECT_EQ(r.exit, 7);
  EXPECT_EQ(r.out, "exiting with 7\r\n");
  r = App("user_basics.exe exitprocess");
  EXPECT_EQ(r.exit, 255);
  EXPECT_EQ(r.err, "ntbox run: user_basics.exe exited with code 0x0000c0de (49374)\n");
}

TEST_F(RunTest, MemoryTimeEventsAndErrors) {
  Outcome r = App("user_basics.exe memory");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "user addresses: yes\r\nmemory ok\r\n");
  r = App("user_basics.exe time");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "frequency 10000000, counter advanced yes, ticks sane\r\n");
  r = App("user_basics.exe events");
  EXPECT_EQ(r.out, Crlf("wait unsignaled: 258\nwait signaled: 0\nwait reset: 258\n"));
  r = App("user_basics.exe errors");
  EXPECT_EQ(r.out, Crlf("open missing device: failed, error 2\nSetLastError: 1234\nCloseHandle(bogus): 0, error 6\n"));
}

TEST_F(RunTest, CrashingProgramsEndAsOnWindows) {
  Outcome r = App("user_basics.exe crash");
  EXPECT_EQ(r.exit, 255);
  EXPECT_EQ(r.out, "about to write through NULL\r\n");
  EXPECT_TRUE(Contains(r.err, "unhandled exception 0xc0000005 (STATUS_ACCESS_VIOLATION) at user_basics.exe+0x")) << r.err;
  EXPECT_TRUE(Contains(r.err, ", writing 0x0000000000000000; the program ended with exit code 0xc0000005")) << r.err;
  r = App("user_basics.exe kernelwrite");
  EXPECT_TRUE(Contains(r.err, "writing 0xfffff80000001000")) << r.err;
  // msvcrt.dll's abort() says nothing (its versioned successors print "abnormal program
  // termination"); it ends the program with 3.
  r = App("user_basics.exe abort");
  EXPECT_EQ(r.exit, 3);
  EXPECT_EQ(r.err, "");
  // The machine ran on: no bugcheck, the server is the same.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "crashes" / "last.txt"));
  EXPECT_EQ(Run("status").exit, 0);
}

// A native program (only ntdll.dll imported) runs on the NT system-call layer: Wine's ntdll
// thunks enter the kernel through KUSER_SHARED_DATA's dispatcher; the TEB fields the kernel borrows
// come back as the program left them; a service ntbox lacks fails as not implemented and is named
// in the debug output once; NtTerminateProcess sets the exit code. A fault in its code ends it.
TEST_F(RunTest, NativeProgramsRunOnTheSystemCallLayer) {
  Outcome r = App("nt_native.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  EXPECT_TRUE(Contains(Run("dbgview").out, "ntbox: the system service NtSetLdtEntries is not implemented yet"));
  r = App("nt_native.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  // Virtual memory as Windows manages it, bad pointers refused (the exit code names a failed check).
  r = App("nt_memory.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  // Files: the system DLLs as C:\windows\system32, the host's root as Z:, refusals as Windows'.
  r = App("nt_files.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  // Sections: a DLL's image mapped as Windows maps it, a file's data as a view.
  r = App("nt_sections.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  // Events and waits on the kernel's dispatcher objects.
  r = App("nt_sync.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  // System and process information; handles to the process (NtDuplicateObject, NtOpenProcess,
  // NtQueryObject) and bad pointers to those services.
  r = App("nt_info.exe");
  EXPECT_EQ(r.exit, 42) << r.out << r.err;
  r = App("nt_native_fault.exe");
  EXPECT_EQ(r.exit, 255);
  EXPECT_TRUE(Contains(r.err, "unhandled exception 0xc0000005 (STATUS_ACCESS_VIOLATION) at nt_native_fault.exe+0x"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "writing 0x0000000000000010")) << r.err;
  EXPECT_EQ(Run("status").exit, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "crashes" / "last.txt"));
}

// A mingw-built console program on Wine's own DLLs (ntbox run --nt-layer, issue 16's path): ntdll's
// loader maps kernel32, kernelbase and msvcrt through NtOpenFile, NtCreateSection and
// NtMapViewOfSection, reads the NLS tables, and printf reaches the terminal through NtWriteFile on
// the standard handles (msvcrt's text mode writes CRLF, as on Windows); main's return value is the
// exit code.
TEST_F(RunTest, AConsoleProgramRunsOnWinesDlls) {
  Outcome r = Run("run " + Driver("hello.exe"));
  EXPECT_EQ(r.exit, 3) << r.out << r.err;
  EXPECT_EQ(r.out, "hello from a Win32 program\r\n");  // text mode on a file or pipe, as on Windows
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Run("status").exit, 0);
}

// Exceptions in a program on Wine's DLLs are delivered as Windows' kernel delivers them (a frame on
// the program's stack, KiUserExceptionDispatcher): a vectored handler continues a hardware fault
// and a RaiseException; an unhandled fault goes through kernelbase's filter (Wine's debugger, which
// is not there, noted in the debug output) and ends the program with today's report line.
TEST_F(RunTest, ExceptionsReachAProgramOnWinesDlls) {
  Outcome r = Run("run " + Driver("seh_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "recovered from the fault, handler calls 1\r\ncontinued after RaiseException, handler calls 2\r\n");
  r = Run("run " + Driver("seh_app.exe") + " unhandled");
  EXPECT_EQ(r.exit, 255);
  EXPECT_EQ(r.out, "about to fault\r\n");
  EXPECT_TRUE(Contains(r.err, "unhandled exception 0xc0000005 (STATUS_ACCESS_VIOLATION) at seh_app.exe+0x")) << r.err;
  EXPECT_TRUE(Contains(r.err, "writing 0x0000000000000020; the program ended with exit code 0xc0000005")) << r.err;
  EXPECT_EQ(Run("status").exit, 0);
}

// One registry for programs, drivers and `ntbox reg` (issue 16's registry services, the drivers' Zw*
// on the same code): Wine's advapi32 creates nested keys, sets, reads, enumerates and deletes values
// through NtCreateKey & co.; `reg query` sees them, HKCU included; a driver reads its Parameters
// value `reg add` wrote and the program's value, and writes one the program then reads.
TEST_F(RunTest, ProgramsDriversAndRegShareOneRegistry) {
  Outcome r = Run("run " + Driver("registry_app.exe") + " write");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "registry checks passed: 29\r\n");
  r = Run("reg query \"HKLM\\SOFTWARE\\ntbox-test\"");
  EXPECT_TRUE(Contains(r.out, "Greeting    REG_SZ    hello from a program")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Answer    REG_DWORD    0x2a")) << r.out;
  EXPECT_FALSE(Contains(r.out, "List")) << r.out;
  EXPECT_TRUE(Contains(Run("reg query \"HKCU\\Software\\ntbox-test\"").out, "Theme    REG_SZ    dark"));

  TestSigningOn();
  ASSERT_EQ(Run("sc create regdrv type= kernel binPath= " + Driver("registry_driver.sys")).exit, 0);
  ASSERT_EQ(Run("reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\regdrv\\Parameters\" /v Greeting /t REG_SZ /d "
                "\"set by reg add\"").exit,
            0);
  ASSERT_EQ(Run("sc start regdrv").exit, 0);
  const std::string log = Run("dbgview").out;
  EXPECT_TRUE(Contains(log, "registry_driver: Parameters opened")) << log;
  EXPECT_TRUE(Contains(log, "registry_driver: Greeting = set by reg add")) << log;
  EXPECT_TRUE(Contains(log, "registry_driver: value 1: SeenByDriver")) << log;
  EXPECT_TRUE(Contains(log, "registry_driver: Answer = 42")) << log;
  EXPECT_TRUE(Contains(log, "registry_driver: ZwSetValueKey(FromDriver): 0x00000000")) << log;
  EXPECT_TRUE(Contains(Run("reg query \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\regdrv\\Parameters\"").out,
                       "SeenByDriver    REG_DWORD    0x1"));
  r = Run("run " + Driver("registry_app.exe") + " read FromDriver");
  EXPECT_EQ(r.out, "FromDriver = written by registry_driver (type 1)\r\n") << r.err;

  // Hostile pointers to the services: errors for the program, no stop.
  r = Run("run " + Driver("registry_app.exe") + " bad");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(Run("status").exit, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "crashes" / "last.txt"));
}

// Threads in a program on Wine's DLLs (NtCreateThreadEx and the thread services): four workers
// contend for a critical section (Wine's sleeps in NtWaitForAlertByThreadId), one created
// suspended; waits on threads, exit codes, TLS slots and static TLS per thread, a condition
// variable, ExitThread, TerminateThread of a sleeping thread; the process ends when main returns
// with a thread still asleep. Then the other ways a process with threads ends.
TEST_F(RunTest, ProgramsRunThreadsOnWinesDlls) {
  Outcome r = Run("run " + Driver("threads_app.exe"));
  EXPECT_EQ(r.exit, 3) << r.out << r.err;
  EXPECT_EQ(r.out,
            "4 threads, 80000 increments under a critical section\r\n"
            "consumed 100 items through a condition variable\r\n"
            "semaphore and mutex checks done\r\n"
            "ExitThread 42, TerminateThread 9\r\n"
            "all thread checks passed\r\n");
  r = Run("run " + Driver("threads_app.exe") + " exitfromthread");
  EXPECT_EQ(r.exit, 7) << r.out << r.err;
  EXPECT_EQ(r.out, "second thread ends the process\r\n");
  r = Run("run " + Driver("threads_app.exe") + " crashinthread");
  EXPECT_EQ(r.exit, 255);
  EXPECT_EQ(r.out, "second thread about to fault\r\n");
  EXPECT_TRUE(Contains(r.err, "unhandled exception 0xc0000005 (STATUS_ACCESS_VIOLATION) at threads_app.exe+0x")) << r.err;
  EXPECT_TRUE(Contains(r.err, "writing 0x0000000000000030")) << r.err;
  // SuspendThread: a thread in its own code stops at once, one in a wait at the wait's end; the
  // counts nest; a suspended thread can be terminated.
  r = Run("run " + Driver("threads_app.exe") + " suspend");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out, Crlf("counting thread: suspend 0 1, stopped yes, resume 2 1, counting again\n"
                        "waiting thread: ran while suspended 0, after resume 1\n"
                        "suspended thread terminated: wait 0, exit code 5\n"));
  // Waitable timers: manual-reset and periodic ones satisfy waits, a cancelled one does not, a
  // completion routine runs as a user APC in an alertable wait, a named one is opened by name.
  r = Run("run " + Driver("threads_app.exe") + " timers");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "timers: manual 0 0, periodic 0 0 0, cancelled 258, apc 192 1 1, named 0\r\n");
  r = Run("run " + Driver("threads_app.exe") + " mainexitthread");
  EXPECT_EQ(r.exit, 5) << r.out << r.err;
  EXPECT_EQ(r.out, "first thread exits\r\nlast thread returns 5\r\n");
  EXPECT_EQ(Run("status").exit, 0);
}

// A program starting programs (CreateProcess: NtCreateUserProcess): its own ids, an inherited pipe
// as the child's output, exit codes through waits on the process, inheritable and private handles,
// the environment, STILL_ACTIVE, TerminateProcess, CREATE_SUSPENDED and ResumeThread, a program
// that is not there; and the handle services around it (DuplicateHandle, Get/SetHandleInformation).
TEST_F(RunTest, ProgramsStartPrograms) {
  Outcome r = Run("run " + Driver("process_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_FALSE(Contains(r.out, "FAIL")) << r.out;
  EXPECT_TRUE(Contains(r.out, "ok: its output arrives through an inherited pipe, then end of file\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "child-writes-to-stdout\r\n")) << "a child writes to the inherited stdout: " << r.out;
  EXPECT_TRUE(Contains(r.out, "0 failures\r\n")) << r.out;
  // Not inheriting, a child on a pipe has no output (as on Windows); on a terminal it shares its
  // creator's console.
  r = Run("run " + Driver("process_app.exe") + " console");
  EXPECT_EQ(r.out, "parent before\r\nparent after, child exit code 7\r\n") << r.err;
  TerminalRun t = OnTerminal({Driver("process_app.exe"), "console"}, "", "");
  EXPECT_EQ(t.exit, 0) << t.out;
  EXPECT_TRUE(Contains(t.out, "parent before\r\nfrom-the-child\r\nparent after, child exit code 7\r\n")) << t.out;
  // A console of its own: CREATE_NEW_CONSOLE shows on the one terminal (the console's output goes
  // to stderr when stdout is not a terminal), CREATE_NO_WINDOW shows nothing, DETACHED_PROCESS has
  // no console.
  r = Run("run " + Driver("process_app.exe") + " newconsole");
  EXPECT_EQ(r.out, Crlf("new-console: started 1, exit code 7\nno-window: started 1, exit code 7\n"
                        "detached: started 1, exit code 7\n")) << r.err;
  EXPECT_TRUE(Contains(r.err, "new-console")) << r.err;
  EXPECT_FALSE(Contains(r.err, "no-window")) << r.err;
  t = OnTerminal({Driver("process_app.exe"), "newconsole"}, "", "");
  EXPECT_TRUE(Contains(t.out, "new-console\r\nnew-console: started 1")) << t.out;
  EXPECT_FALSE(Contains(t.out, "no-window\r\n")) << t.out;
  // ntbox run is the console window: it stays until the last program on it has ended, and says
  // its first program's exit code; a child waits on a handle to its ended creator.
  r = Run("run " + Driver("process_app.exe") + " leavechild");
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_EQ(r.out, "creator ends\r\ncreator ended with 3, child ends\r\n");
  // A named pipe's server with a started program as its client: ConnectNamedPipe in the call and
  // overlapped, a busy pipe, PeekNamedPipe, DisconnectNamedPipe; overlapped transfers on a pipe
  // finish at once and still signal their event.
  r = Run("run " + Driver("process_app.exe") + " pipeserver");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, Crlf("connected 1, busy 0 error 231, read hello, peek 1: 7 of 7 ' server'\n"
                        "client ended with 0\ndisconnect 1\n"
                        "overlapped connect: at once 0 error 997, event 0, result 1\n"
                        "overlapped read 1 0: 12 'hello server'\noverlapped write 1 0: 12, event 0\n"
                        "client ended with 0\n"));
  // A started program's unhandled exception ends it with the exception's code, said in DebugView.
  r = Run("run " + Driver("process_app.exe") + " crashchild");
  EXPECT_EQ(r.out, "child ended with 0xc0000005\r\n") << r.err;
  r = Run("dbgview");
  EXPECT_TRUE(Contains(r.out, "process_app.exe: unhandled exception 0xc0000005 (STATUS_ACCESS_VIOLATION) at "
                              "process_app.exe+0x")) << r.out;
  // Ctrl-C reaches every program on the console: the creator and the child it waits for end.
  EXPECT_EQ(ExitAfterInterrupt("process_app.exe", {"waitchild"}, "waiting\r\n"), 128 + SIGINT);
  EXPECT_EQ(Run("status").exit, 0);
}

// A program that starts programs without end finds the machine's limit (every user address space
// slot taken): CreateProcess fails with ERROR_NO_SYSTEM_RESOURCES, and all of them end.
TEST_F(RunTest, ProgramsStartingProgramsWithoutEndMeetTheLimit) {
  const Outcome r = Run("run " + Driver("process_app.exe") + " chain 1");
  EXPECT_GT(r.exit, 10) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "could not start another: error 1450\r\n")) << r.out;
  EXPECT_EQ(Run("run " + Driver("process_app.exe") + " child-echo 0 still-room").out, "still-room");
}

// Named objects (\BaseNamedObjects and the session's directory): a driver's named event
// (IoCreateNotificationEvent) opened by a program as Global\..., a program's event a driver opens
// with ZwOpenEvent; shared memory a driver made (ZwCreateSection, MmMapViewInSystemSpace) that the
// program maps (OpenFileMapping) and both write; a program's named mapping seen through two views;
// a name taken twice opens one object, another type cannot take it, a name goes with its last
// handle, a named semaphore another thread opens.
TEST_F(RunTest, ProgramsAndDriversShareNamedObjects) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create named type= kernel binPath= " + Driver("named_objects.sys")).exit, 0);
  ASSERT_EQ(Run("sc start named").exit, 0);
  const Outcome r = Run("run " + Driver("named_objects_app.exe"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "0 failed")) << r.out;
  EXPECT_FALSE(Contains(r.out, "FAILED")) << r.out;
  const std::string log = Run("dbgview").out;
  EXPECT_TRUE(Contains(log, "ZwOpenEvent(\\BaseNamedObjects\\NtboxProgramEvent) 0x00000000")) << log;
  EXPECT_TRUE(Contains(log, "named_objects: the shared memory says \"written by the program\"")) << log;
  EXPECT_EQ(Run("sc stop named").exit, 0);
}

// The console on a terminal (a pseudo-terminal, as a user's): kernelbase's console requests reach
// \Device\ConDrv. Modes, the screen buffer, the title, code pages, WriteConsoleW, CONOUT$ and text
// attributes as ANSI colours; a file is no console. _getch reads keys raw (an arrow is 0xE0 and its
// scan code, Enter is '\r'); line input echoes and ends lines "\r\n" for ReadConsoleW, ReadFile and
// fgets alike. The terminal's settings are back as they were after each run.
TEST_F(RunTest, ProgramsUseTheConsoleOnATerminal) {
  const std::string app = Driver("console_app.exe");
  TerminalRun r = OnTerminal({app, "info"}, "", "");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "GetFileType in 2 out 2\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "input mode 0x1f7\r\noutput mode 0x3\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "screen 100x30 window 0..99 attr 0x7\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\x1b]0;ntbox console test\atitle ntbox console test\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "code pages 65001 65001\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "WriteConsoleW \xc3\xa9t\xc3\xa9\r\nwrote 18\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "through CONOUT$\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\x1b[0;91;40mred\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "file GetConsoleMode 0 error 6\r\n")) << r.out;
  EXPECT_TRUE(r.after.c_lflag & ICANON);

  r = OnTerminal({app, "getch"}, "ready", "x\x1b[A\r");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "getch 120 224 72 13\r\nmode after _getch 0x1f7\r\n")) << r.out;
  EXPECT_FALSE(Contains(r.out, "x\x1b[A")) << "raw input is not echoed: " << r.out;
  EXPECT_TRUE((r.after.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG)) << "the terminal is restored";

  r = OnTerminal({app, "line"}, "ready", "h\xc3\xa9llo\nsecond\nthird line\n");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "h\xc3\xa9llo\r\nsecond\r\nthird line\r\n")) << "echoed: " << r.out;
  EXPECT_TRUE(Contains(r.out, "ReadConsoleW 7: 68 e9 6c 6c 6f d a\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "ReadFile 8: second|\r\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "fgets: third line\r\n")) << r.out;
}

// Ctrl-C is a console control event: the program's handler (SetConsoleCtrlHandler) takes it on a
// thread of its own, as GenerateConsoleCtrlEvent's; a program without one ends as Windows' default
// handler ends it (STATUS_CONTROL_C_EXIT), and ntbox run ends as an interrupted command (SIGINT).
// Typed on the terminal (^C) or sent to the client, and with pipes as well as on a terminal.
TEST_F(RunTest, CtrlCIsAConsoleControlEvent) {
  const std::string app = Driver("console_app.exe");
  TerminalRun r = OnTerminal({app, "handler"}, "waiting", "", true);
  EXPECT_EQ(r.exit, 3) << r.out;
  EXPECT_TRUE(Contains(r.out, "generated event 0\r\nwaiting\r\nhandled event 0\r\n")) << r.out;
  r = OnTerminal({app, "default"}, "waiting", "\x03");
  EXPECT_EQ(r.exit, 128 + SIGINT) << r.out;
  int out = -1;
  pid_t pid = Start("console_app.exe", {"handler"}, "waiting\r\n", out);
  ASSERT_GT(pid, 0);
  kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 3);
  std::string rest;
  char c;
  while (read(out, &c, 1) == 1) rest += c;
  close(out);
  EXPECT_EQ(rest, "handled event 0\r\n");
  EXPECT_EQ(ExitAfterInterrupt("console_app.exe", {"default"}, "waiting\r\n"), 128 + SIGINT);
  EXPECT_EQ(Run("status").exit, 0);
}

// A program waiting for input on a pipe (its stdin) holds up neither the machine (other commands
// run meanwhile) nor its own end: it reads what comes, and Ctrl-C ends it while it waits.
TEST_F(RunTest, AProgramWaitingForInputHoldsUpNothing) {
  for (const bool interrupt : {false, true}) {
    int in[2];
    ASSERT_EQ(pipe(in), 0);
    int out = -1;
    const pid_t pid = StartWithInput("console_app.exe", {"pipein"}, "reading\r\n", in[0], out);
    close(in[0]);
    ASSERT_GT(pid, 0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(Run("sc query type= driver").exit, 0);
    std::string rest;
    if (interrupt) {
      kill(pid, SIGINT);
      EXPECT_EQ(Wait(pid), 128 + SIGINT);
    } else {
      EXPECT_EQ(write(in[1], "typed\n", 6), 6);
      EXPECT_EQ(Wait(pid), 0);
      char c;
      while (read(out, &c, 1) == 1) rest += c;
      EXPECT_EQ(rest, "read 6: typed\r\n\r\n");  // msvcrt's text mode turns both line feeds into CRLF
    }
    close(in[1]);
    close(out);
  }
}

// Pipes: CreatePipe (a pipe to GetFileType; a read after the writer closed fails with
// ERROR_BROKEN_PIPE) and a named pipe a client opens by its \\.\pipe\ name, both directions; a
// pipe no server made is not found.
TEST_F(RunTest, ProgramsUsePipes) {
  const Outcome r = App("console_app.exe pipes");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out, Crlf("GetFileType 3\nread 14: through a pipe\nafter the writer closed: 0 error 109\n"
                        "server read ping\nclient read pong\nno such pipe: 0 error 2\n"));
}

// GetThreadTimes and GetProcessTimes: creation and exit times, and the CPU time the host counted
// for the program's threads (a live one, an ended one, the process's sum).
TEST_F(RunTest, ProgramsSeeTheirThreadsTimes) {
  const Outcome r = App("console_app.exe times");
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_EQ(r.out, Crlf("this thread: created ok, running ok, busy ok\nended thread: exited ok, busy ok\n"
                        "process: created ok, busy ok\n"));
}

// A program on the Universal CRT, imported through api-ms-win-crt-*.dll as MSVC-built programs
// import it: the process's API set map (apisetschema.dll's, at PEB+0x68) leads ntdll's loader to
// ucrtbase.dll.
TEST_F(RunTest, UcrtProgramsFindTheirApiSets) {
  const Outcome r = Run("run " + Driver("ucrt_app.exe"));
  EXPECT_EQ(r.exit, 4) << r.out << r.err;
  EXPECT_EQ(r.out, "hello from the ucrt: 3 7 19 42, -12\r\n");
}

// On Wine's DLLs too a program is refused before main when it imports what no DLL of the machine
// has (a Windows 10 kernel32 function Wine 8 lacks, a DLL that does not exist), naming each; an
// import Wine has only as a stub is named in a warning.
TEST_F(RunTest, MissingImportsAreRefusedBeforeMainOnWinesDlls) {
  Outcome r = Run("run " + Driver("absent_imports.exe"));
  EXPECT_EQ(r.exit, 126) << r.out << r.err;
  EXPECT_EQ(r.out, "") << "main must not run";
  EXPECT_TRUE(Contains(r.err, "cannot run absent_imports.exe: 2 unresolved imports: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "ntbox_absent.dll!AbsentFunction")) << r.err;
  EXPECT_TRUE(Contains(r.err, "KERNEL32.dll!GetProcessDefaultCpuSets")) << r.err;
  // An import Wine has only as a stub runs, with a warning that names it; none for a plain program.
  r = Run("run " + Driver("stub_imports.exe"));
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "main ran\r\n");
  EXPECT_EQ(r.err,
            "ntbox run: warning: stub_imports.exe imports a function that Wine implements only as a stub (a call "
            "raises an exception): KERNEL32.dll!BaseCheckAppcompatCache\n");
  EXPECT_EQ(Run("run " + Driver("hello.exe")).err, "");
  EXPECT_EQ(Run("status").exit, 0);
}

// Directory listings on a host drive (FindFirstFile/FindNextFile over NtQueryDirectoryFile): sorted
// without case, "." and ".." first, masks, Windows' errors at the end and for nothing or no folder;
// a file's size and position through its handle; the volume's free space and file system.
TEST_F(RunTest, ProgramsListDirectories) {
  const std::filesystem::path folder = dir_.parent_path() / ("listing_" + std::to_string(getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder / "sub");
  std::ofstream(folder / "a.txt") << "hello";
  std::ofstream(folder / "B.TXT") << "12345678";
  std::ofstream(folder / "c.log") << "x\n";
  std::string win = "Z:" + folder.string();
  std::replace(win.begin(), win.end(), '/', '\\');
  Outcome r = Run("run " + Driver("dir_app.exe") + " '" + win + "\\*' '" + win + "\\B.TXT' 'Z:\\'");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            ".            <DIR>\r\n..           <DIR>\r\na.txt        5\r\nB.TXT        8\r\nc.log        2\r\n"
            "sub          <DIR>\r\n6 found, then error 18\r\nsize 8\r\nposition after reading 2: 2\r\n"
            "disk space ok (total > 0: yes, free <= total: yes)\r\n"
            "volume ok: file system NTFS, names up to 255\r\n");
  r = Run("run " + Driver("dir_app.exe") + " '" + win + "\\*.txt'");
  EXPECT_EQ(r.out, "a.txt        5\r\nB.TXT        8\r\n2 found, then error 18\r\n");
  r = Run("run " + Driver("dir_app.exe") + " '" + win + "\\nothing*'");
  EXPECT_EQ(r.out, "FindFirstFile: error 2\r\n");
  r = Run("run " + Driver("dir_app.exe") + " '" + win + "\\missing\\*'");
  EXPECT_EQ(r.out, "FindFirstFile: error 3\r\n");
  std::filesystem::remove_all(folder);
}

// A program whose TLS index slot lies in a read-only section: Windows' loader faults writing it
// and the process cannot start; the loader here wrote it and crashed the server.
TEST_F(RunTest, ReadOnlyTlsIndexSlotRefusesTheProgram) {
  const std::string program = Slurp(Driver("user_basics.exe"));
  auto image = ntbox::pe::PeImage::Parse(std::vector<std::uint8_t>(program.begin(), program.end()));
  ASSERT_TRUE(image) << image.error().message;
  const auto tls = image->directory(ntbox::pe::kDirTls);
  ASSERT_NE(tls.Size, 0u) << "mingw's start-up gives every program a TLS directory";
  const ntbox::pe::Section* rdata = nullptr;
  const ntbox::pe::Section* holder = nullptr;
  for (const auto& s : image->sections()) {
    if (s.name == ".rdata") rdata = &s;
    if (tls.VirtualAddress - s.virtualAddress < s.rawSize) holder = &s;
  }
  ASSERT_TRUE(rdata && holder);
  // AddressOfIndex (third field of IMAGE_TLS_DIRECTORY64) moved to the start of .rdata.
  const std::size_t field = holder->rawOffset + (tls.VirtualAddress - holder->virtualAddress) + 16;
  const std::uint64_t slot = image->preferredBase() + rdata->virtualAddress;
  std::string patched = program;
  std::memcpy(patched.data() + field, &slot, 8);
  const std::string file = testing::TempDir() + "/ntbox_tls_" + std::to_string(getpid()) + ".exe";
  std::ofstream(file, std::ios::binary) << patched;
  const Outcome r = Run("run " + file + " exit 3");
  EXPECT_NE(r.exit, 3) << "main must not run";
  EXPECT_TRUE(Contains(r.err, "TLS index slot (at +0x")) << r.err;
  EXPECT_TRUE(Contains(r.err, "read-only")) << r.err;
  EXPECT_EQ(Run("status").exit, 0) << "the machine runs on";
  std::remove(file.c_str());
}

TEST_F(RunTest, RefusedBeforeMain) {
  Outcome r = App("absent_imports.exe");
  EXPECT_EQ(r.exit, 126);
  EXPECT_EQ(r.out, "") << "main must not run";
  EXPECT_TRUE(Contains(r.err, "unresolved imports: ")) << r.err;
  r = App("ioctl_sample.sys");
  EXPECT_EQ(r.exit, 126);
  EXPECT_TRUE(Contains(r.err, "is not a console program")) << r.err;
  // Not a PE at all, and a program cut short: refused with the loader's reason.
  const std::string garbage = testing::TempDir() + "/ntbox_garbage_" + std::to_string(getpid()) + ".exe";
  std::ofstream(garbage, std::ios::binary) << "this is not a program";
  r = Run("run " + garbage);
  EXPECT_EQ(r.exit, 126);
  EXPECT_TRUE(Contains(r.err, "not a PE image")) << r.err;
  const std::string program = Slurp(Driver("user_basics.exe"));
  std::ofstream(garbage, std::ios::binary) << program.substr(0, 1000);
  r = Run("run " + garbage);
  EXPECT_EQ(r.exit, 126);
  EXPECT_TRUE(Contains(r.err, "truncated or corrupt")) << r.err;
  std::remove(garbage.c_str());
  r = Run("run /nonexistent/app.exe");
  EXPECT_EQ(r.exit, 127);
  r = Run("run");
  EXPECT_EQ(r.exit, 2);
}

TEST_F(RunTest, CtrlCEndsTheProgramAndClosesItsHandles) {
  StartIoctlSample();
  int out = -1;
  const pid_t pid = Start("user_basics.exe", {"hold"}, "spinning\r\n", out);
  ASSERT_GT(pid, 0);
  // The program holds the device open: the driver cannot stop.
  Outcome r = Run("sc stop SIoctl");
  EXPECT_EQ(r.exit, 1);
  EXPECT_TRUE(Contains(r.out + r.err, "1061")) << r.out << r.err;
  kill(pid, SIGINT);
  Wait(pid);
  close(out);
  // The server notices the client is gone and ends the program; its handle closes. Each try
  // is a full request to the server, so this ends as soon as the program has.
  bool stopped = false;
  for (int i = 0; i < 2000 && !stopped; ++i) stopped = Run("sc stop SIoctl").exit == 0;
  EXPECT_TRUE(stopped);
}

// Ctrl-C while the program waits in a synchronous DeviceIoControl the driver holds: the request
// is cancelled (the driver's cancel-safe queue completes it as cancelled) and the program ends.
TEST_F(RunTest, CtrlCCancelsTheRequestTheProgramWaitsFor) {
  TestSigningOn();
  ASSERT_EQ(Run("sc create csq type= kernel binPath= " + Driver("csq_queue.sys")).exit, 0);
  ASSERT_EQ(Run("sc start csq").exit, 0);
  int out = -1;
  const pid_t pid = Start("csq_app.exe", {"block"}, "csq_app: blocking\r\n", out);
  ASSERT_GT(pid, 0);
  // Each try is a full request to the server: this ends once the driver holds the IRP.
  bool held = false;
  for (int i = 0; i < 2000 && !held; ++i) held = Contains(App("csq_app.exe stats").out, "pending 1\r\n");
  ASSERT_TRUE(held);
  kill(pid, SIGINT);
  Wait(pid);
  close(out);
  bool cancelled = false;
  for (int i = 0; i < 2000 && !cancelled; ++i) {
    cancelled = Contains(App("csq_app.exe stats").out, "inserted 1 completed 0 cancelled 1 pending 0\r\n");
  }
  EXPECT_TRUE(cancelled) << App("csq_app.exe stats").out;
  // The program is gone with its handles: the driver stops.
  bool stopped = false;
  for (int i = 0; i < 2000 && !stopped; ++i) stopped = Run("sc stop csq").exit == 0;
  EXPECT_TRUE(stopped);
}

TEST_F(RunTest, ShutdownEndsRunningPrograms) {
  int out = -1;
  const pid_t pid = Start("user_basics.exe", {"spin"}, "spinning\r\n", out);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(Run("shutdown").exit, 0);
  EXPECT_EQ(Wait(pid), 255);
  close(out);
}

}  // namespace
