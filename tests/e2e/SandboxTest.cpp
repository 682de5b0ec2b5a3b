// End to end: a machine is a sandbox. Drivers and programs that try to leave it with Linux system
// calls made directly (escape.sys, escape_app.exe) get nowhere: a denied call stops the machine
// (from driver code) or ends the program, saying what was denied; an access outside the machine
// directory fails; nothing outside changes. Under `ntbox load` and under a machine server alike.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "NtboxRun.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Ntbox;
using ntbox::test::Outcome;

const char* const kMarkers[] = {"/tmp/ntbox-escape-marker", "/etc/ntbox-escape-marker", "/tmp/ntbox-escape-app-marker"};

void RemoveMarkers() {
  for (const char* m : kMarkers) std::filesystem::remove(m);
}

void ExpectNoMarkers() {
  for (const char* m : kMarkers) EXPECT_FALSE(std::filesystem::exists(m)) << m << " was created outside the machine";
}

struct Escape {
  const char* service;
  bool stops;          // the machine stops (a denied system call, or the instruction faults)
  const char* expect;  // in the output
  bool named = true;   // a stop's report names the driver
};

void PrintTo(const Escape& e, std::ostream* os) { *os << e.service; }

class LoadEscapeTest : public testing::TestWithParam<Escape> {};

TEST_P(LoadEscapeTest, FailsUnderNtboxLoad) {
  const Escape& e = GetParam();
  RemoveMarkers();
  const Outcome r = Ntbox(std::string("load --service ") + e.service + " " + Driver("escape.sys"));
  EXPECT_EQ(r.exit, e.stops ? 4 : 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out + r.err, e.expect)) << r.out << r.err;
  if (e.stops && e.named) {
    EXPECT_TRUE(Contains(r.out, "MODULE_NAME: escape")) << r.out;
  }
  ExpectNoMarkers();
}

INSTANTIATE_TEST_SUITE_P(
    Sandbox, LoadEscapeTest,
    testing::Values(
        Escape{"escape_create", false, "escape: open(/tmp, O_CREAT) returned -13"},
        Escape{"escape_etc", false, "escape: open(/etc, O_CREAT) returned -13"},
        Escape{"escape_shadow", false, "escape: open(/etc/shadow) returned -13"},
        Escape{"escape_read", false, "escape: open(/etc/passwd) returned -13"},
        Escape{"escape_proc_mem", false, "escape: open(/proc/self/mem, O_RDWR) returned -13"},
        Escape{"escape_kill_init", false, "escape: kill(1, 0) returned -1"},
        // libc's functions, found from the ntbox executable as an attacker would: system() cannot
        // start its child; a forked copy's execve is denied and the copy says so.
        Escape{"escape_libc", false, "escape: system(touch marker) returned -1"},
        Escape{"escape_fork", false, "the machine's sandbox denied execve (59) to a process started from driver or program code"},
        Escape{"escape_execve", true, "a Linux system call, execve (59), which the machine's sandbox denies to driver code"},
        Escape{"escape_socket", true, "a Linux system call, socket (41), which the machine's sandbox denies"},
        Escape{"escape_kill", true, "a Linux system call, kill (62), which the machine's sandbox denies"},
        Escape{"escape_ptrace", true, "a Linux system call, ptrace (101), which the machine's sandbox denies"},
        // int 0x80 and sysenter: denied by the filter as i386 calls where the kernel takes them,
        // else faults of their own (#GP, #UD); either way the machine stops. Intel's sysenter
        // keeps no return address: Linux's 32-bit entry fails it (EFAULT, reading a 32-bit stack)
        // and returns to a 32-bit landing address a 64-bit process lacks, which faults outside
        // the driver; no report can name it then.
        Escape{"escape_int80", true, "*** STOP: 0x0000007E"},
        Escape{"escape_sysenter", true, "*** STOP: 0x0000007E", false}),
    [](const testing::TestParamInfo<Escape>& info) { return std::string(info.param.service); });

// On a kernel without part of the sandbox (here Landlock ABI 3: no TCP rules, no scoping), the
// gap is named and the driver runs; --require-sandbox refuses to run it instead.
TEST(SandboxGaps, AreNamedAndCanBeRefused) {
  const std::string driver = Driver("FirstDriverSample.sys");
  ::setenv("NTBOX_LANDLOCK_ABI_MAX", "3", 1);
  const Outcome lax = Ntbox("load " + driver);
  EXPECT_EQ(lax.exit, 0) << lax.out << lax.err;
  EXPECT_TRUE(Contains(lax.err, "sandbox: not in force: TCP confinement (Landlock ABI 3 < 4)")) << lax.err;
  const Outcome strict = Ntbox("--require-sandbox load " + driver);
  ::unsetenv("NTBOX_LANDLOCK_ABI_MAX");
  EXPECT_EQ(strict.exit, 3) << strict.out << strict.err;
  EXPECT_TRUE(Contains(strict.err, "the sandbox is not complete (--require-sandbox)")) << strict.err;
  EXPECT_FALSE(Contains(strict.out, "This is my first sample driver")) << strict.out;
  EXPECT_EQ(Ntbox("--require-sandbox load " + driver).exit, 0) << "this kernel has all of it";
}

// Started by root with its machine directory under a folder only root may enter (as the default
// machine sits under /root): the server, now nobody, reaches its directory through a descriptor —
// its registry included — and its driver's source lines are still found for kd.
TEST(SandboxRoot, MachineUnderAFolderOnlyRootEnters) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::filesystem::path home = std::filesystem::path(testing::TempDir()) / ("ntbox_root_" + std::to_string(::getpid()));
  std::filesystem::remove_all(home);
  std::filesystem::create_directories(home);
  std::filesystem::permissions(home, std::filesystem::perms::owner_all);
  std::filesystem::copy_file(Driver("FirstDriverSample.sys"), home / "FirstDriverSample.sys");
  const std::string m = "--machine " + (home / "machine").string() + " ";
  ASSERT_EQ(Ntbox(m + "bcdedit /set testsigning on").exit, 0);
  ASSERT_EQ(Ntbox(m + "bcdedit /debug on").exit, 0);
  ASSERT_EQ(Ntbox(m + "reboot").exit, 0);
  const Outcome status = Ntbox(m + "status");
  EXPECT_TRUE(Contains(status.out, "User:           nobody (uid 65534)")) << status.out << status.err;
  EXPECT_EQ(Ntbox(m + "sc create first type= kernel binPath= " + (home / "FirstDriverSample.sys").string()).exit, 0);
  const Outcome start = Ntbox(m + "sc start first");
  EXPECT_EQ(start.exit, 0) << start.out << start.err;
  EXPECT_TRUE(Contains(Ntbox(m + "dbgview").out, "This is my first sample driver"));
  const Outcome kd = Ntbox(m + "kd -c 'uf FirstDriverSample!DriverEntry'");
  EXPECT_TRUE(Contains(kd.out, "FirstDriver.cpp @ 13]")) << kd.out << kd.err;
  (void)Ntbox(m + "shutdown");
  std::filesystem::remove_all(home);
}

// Where root cannot be given up (a user namespace that maps root alone: `unshare -r`), the process
// stays root without capabilities, says so and runs; --require-sandbox refuses.
TEST(SandboxGaps, RootThatCannotBeGivenUp) {
  if (std::system("unshare -r true >/dev/null 2>&1") != 0) GTEST_SKIP() << "no user namespaces here";
  const std::string load = std::string("unshare -r ") + NTBOX_BIN;
  const std::string out = testing::TempDir() + "/ntbox_unshare_" + std::to_string(::getpid());
  const int lax = std::system((load + " load " + Driver("FirstDriverSample.sys") + " >" + out + " 2>&1").c_str());
  std::ifstream laxText(out);
  const std::string laxOut((std::istreambuf_iterator<char>(laxText)), std::istreambuf_iterator<char>());
  EXPECT_EQ(WEXITSTATUS(lax), 0) << laxOut;
  EXPECT_TRUE(Contains(laxOut, "sandbox: not in force: giving up root (cannot become uid 65534")) << laxOut;
  EXPECT_TRUE(Contains(laxOut, "This is my first sample driver")) << laxOut;
  const int strict =
      std::system((load + " --require-sandbox load " + Driver("FirstDriverSample.sys") + " >" + out + " 2>&1").c_str());
  std::ifstream strictText(out);
  const std::string strictOut((std::istreambuf_iterator<char>(strictText)), std::istreambuf_iterator<char>());
  EXPECT_EQ(WEXITSTATUS(strict), 3) << strictOut;
  EXPECT_FALSE(Contains(strictOut, "This is my first sample driver")) << strictOut;
  std::filesystem::remove(out);
}

class SandboxTest : public ntbox::test::MachineFixture {};

// The machine server is confined as status says, and its drivers meet the same walls.
TEST_F(SandboxTest, TheServerIsConfined) {
  RemoveMarkers();
  TestSigningOn();
  const Outcome status = Run("status");
  EXPECT_TRUE(Contains(status.out, "Files:          on (read-write beneath the machine directory")) << status.out;
  EXPECT_TRUE(Contains(status.out, "seccomp:        on")) << status.out;
  EXPECT_TRUE(Contains(status.out, "Capabilities:   none")) << status.out;
  // Started by root, the server gave root up: the machine directory is nobody's now.
  if (::geteuid() == 0) {
    EXPECT_TRUE(Contains(status.out, "User:           nobody (uid 65534)")) << status.out;
    struct stat st {};
    ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u);
  } else {
    const std::string user = ::geteuid() == 65534 ? "nobody (uid 65534)" : "uid " + std::to_string(::geteuid());
    EXPECT_TRUE(Contains(status.out, "User:           " + user)) << status.out;
  }
  const Outcome json = Run("status --json");
  EXPECT_TRUE(Contains(json.out, "\"seccomp\":true")) << json.out;
  for (const char* service : {"escape_create", "escape_proc_mem", "escape_read", "escape_execve"}) {
    EXPECT_EQ(Run(std::string("sc create ") + service + " type= kernel binPath= " + Driver("escape.sys")).exit, 0);
  }
  EXPECT_NE(Run("sc start escape_create").exit, 0);
  EXPECT_NE(Run("sc start escape_proc_mem").exit, 0);
  EXPECT_NE(Run("sc start escape_read").exit, 0);
  const Outcome debugOutput = Run("dbgview");
  EXPECT_TRUE(Contains(debugOutput.out, "escape: open(/tmp, O_CREAT) returned -13"));
  EXPECT_TRUE(Contains(debugOutput.out, "escape: open(/etc/passwd) returned -13")) << debugOutput.out;
  // A denied system call stops the machine; its report names the driver and the call.
  const Outcome stop = Run("sc start escape_execve");
  EXPECT_NE(stop.exit, 0);
  const Outcome crash = Run("crash");
  EXPECT_TRUE(Contains(crash.out, "execve (59), which the machine's sandbox denies to driver code")) << crash.out;
  EXPECT_TRUE(Contains(crash.out, "MODULE_NAME: escape")) << crash.out;
  ExpectNoMarkers();
}

// A program's denied system call ends it with an access violation and a line saying what was denied.
TEST_F(SandboxTest, ProgramsAreConfined) {
  RemoveMarkers();
  const Outcome create = Run("run " + Driver("escape_app.exe") + " create");
  EXPECT_TRUE(Contains(create.out, "escape_app: create returned -13")) << create.out << create.err;
  // Host files are not read by name either (a program reads them on Z:, through its client).
  const Outcome read = Run("run " + Driver("escape_app.exe") + " read");
  EXPECT_TRUE(Contains(read.out, "escape_app: read returned -13")) << read.out << read.err;
  for (const char* attempt : {"execve", "socket"}) {
    const Outcome r = Run("run " + Driver("escape_app.exe") + " " + attempt);
    EXPECT_NE(r.exit, 0) << r.out << r.err;
    EXPECT_TRUE(Contains(r.err, "denied by the machine's sandbox (access violation)")) << r.err;
    EXPECT_TRUE(Contains(r.err, attempt)) << r.err;
    EXPECT_FALSE(Contains(r.out, "returned")) << r.out;
  }
  ExpectNoMarkers();
}

// The files a command names reach the server through its client: from a directory the server
// cannot read (another user's, mode 0700: root without capabilities is refused there, the root
// client is not), a driver starts, a program runs and a .reg file imports.
TEST_F(SandboxTest, HostFilesComeThroughTheClient) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to make a directory the server cannot read";
  const std::filesystem::path priv = dir_.parent_path() / ("ntbox_private_" + std::to_string(::getpid()));
  std::filesystem::remove_all(priv);
  std::filesystem::create_directories(priv);
  std::filesystem::copy_file(Driver("FirstDriverSample.sys"), priv / "FirstDriverSample.sys");
  std::filesystem::copy_file(Driver("hello.exe"), priv / "hello.exe");
  std::filesystem::copy_file(Driver("greeter.exe"), priv / "greeter.exe");
  std::filesystem::copy_file(Driver("ioctl_sample.sys"), priv / "ioctl_sample.sys");
  std::filesystem::copy_file(Driver("ioctl_install_app.exe"), priv / "ioctl_install_app.exe");
  std::filesystem::copy_file(Driver("greeting.dll"), priv / "Greeting.DLL");
  std::ofstream(priv / "values.reg") << "Windows Registry Editor Version 5.00\r\n\r\n"
                                        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Handed]\r\n\"Value\"=dword:0000002a\r\n";
  for (const auto& entry : std::filesystem::directory_iterator(priv)) ASSERT_EQ(::chown(entry.path().c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chown(priv.c_str(), 12345, 12345), 0);
  std::filesystem::permissions(priv, std::filesystem::perms::owner_all);
  TestSigningOn();
  EXPECT_EQ(Run("sc create first type= kernel binPath= " + (priv / "FirstDriverSample.sys").string()).exit, 0);
  const Outcome start = Run("sc start first");
  EXPECT_EQ(start.exit, 0) << start.out << start.err;
  EXPECT_TRUE(Contains(Run("dbgview").out, "This is my first sample driver"));
  const Outcome hello = Run("run " + (priv / "hello.exe").string());
  EXPECT_EQ(hello.exit, 3) << hello.out << hello.err;  // hello.exe's own exit code
  EXPECT_TRUE(Contains(hello.out, "hello from a Win32 program")) << hello.out;
  // A DLL beside the program: ntbox's check of its imports and Wine's loader find it there.
  const Outcome greeter = Run("run " + (priv / "greeter.exe").string());
  EXPECT_EQ(greeter.exit, 0) << greeter.out << greeter.err;
  EXPECT_TRUE(Contains(greeter.out, "greetings from a DLL beside the program")) << greeter.out << greeter.err;
  // Seed 002's program installs and starts its driver from its own folder through the service
  // API: the image is read through the program's client although the System process starts it.
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(priv);  // it looks for its driver in the current directory
  const Outcome install = Run("run ioctl_install_app.exe");
  std::filesystem::current_path(cwd);
  EXPECT_EQ(install.exit, 0) << install.out << install.err;
  EXPECT_TRUE(Contains(install.out, "This String is from Device Driver !!!")) << install.out << install.err;
  // The program's own opens on Z: go through its client too, while its run lasts: a listing of
  // the private directory, and a file in it read by name without regard to case.
  std::string win = "Z:" + priv.string();
  std::replace(win.begin(), win.end(), '/', '\\');
  const Outcome dir = Run("run " + Driver("dir_app.exe") + " '" + win + "\\*' '" + win + "\\VALUES.REG'");
  EXPECT_EQ(dir.exit, 0) << dir.out << dir.err;
  EXPECT_TRUE(Contains(dir.out, "hello.exe")) << dir.out;
  EXPECT_TRUE(Contains(dir.out, "FirstDriverSample.sys")) << dir.out;
  EXPECT_TRUE(Contains(dir.out, "position after reading 2: 2")) << dir.out;
  const Outcome import = Run("reg import " + (priv / "values.reg").string());
  EXPECT_EQ(import.exit, 0) << import.out << import.err;
  EXPECT_TRUE(Contains(Run("reg query \"HKLM\\SOFTWARE\\Handed\"").out, "0x2a"));
  // A driver that starts at boot: its image is opened by the booting user, before the server
  // confines itself.
  EXPECT_EQ(Run("sc config first start= auto").exit, 0);
  ASSERT_EQ(Run("reboot").exit, 0);
  const Outcome query = Run("sc query first");
  EXPECT_TRUE(Contains(query.out, "RUNNING")) << query.out << query.err;
  // What the client cannot open stays out of reach: a service whose image is gone.
  std::filesystem::remove_all(priv);
  EXPECT_EQ(Run("sc stop first").exit, 0);
  const Outcome gone = Run("sc start first");
  EXPECT_NE(gone.exit, 0);
  EXPECT_TRUE(Contains(gone.out + gone.err, "does not exist")) << gone.out << gone.err;
}

}  // namespace
