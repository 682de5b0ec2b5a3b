// The CLI's conventions: every Windows-syntax command answers --help, -h, /? and -? (anywhere on
// its line) with its usage, keywords and an example; mistyped commands, verbs and options get
// "did you mean"; none of these boots a machine.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "NtboxRun.h"

namespace {

namespace fs = std::filesystem;
using ntbox::test::Contains;
using ntbox::test::Ntbox;
using ntbox::test::Outcome;

class CliTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("ntbox_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    // Nothing here boots a machine: its directory was never made.
    EXPECT_FALSE(fs::exists(dir_)) << "a machine was booted";
    Ntbox("--machine " + dir_.string() + " shutdown");
    fs::remove_all(dir_);
  }
  Outcome Run(const std::string& args) { return Ntbox("--machine " + dir_.string() + " " + args); }
  fs::path dir_;
};

TEST_F(CliTest, EveryWindowsSyntaxCommandHasHelp) {
  for (const char* command : {"sc", "reg", "bcdedit", "verifier", "tracelog", "tracefmt"}) {
    for (const char* help : {"--help", "-h", "/?", "-?"}) {
      const Outcome r = Run(std::string(command) + " " + help);
      EXPECT_EQ(r.exit, 0) << command << " " << help << r.err;
      EXPECT_TRUE(r.out.starts_with(std::string("usage: ntbox ") + command)) << command << " " << help << r.out;
      EXPECT_TRUE(Contains(r.out, "example: ntbox ")) << command << r.out;
    }
  }
  // After a verb too, as reg.exe and sc.exe take it.
  const Outcome r = Run("reg query /?");
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("usage: ntbox reg query KEY")) << r.out;
  EXPECT_TRUE(Contains(Run("sc create /?").out, "keywords (each followed by a space")) << "sc create /?";
}

TEST_F(CliTest, EveryCommandsHelpHasAnExample) {
  for (const char* command : {"load", "boot", "shutdown", "reboot", "status", "ioctl", "run", "lm", "kd", "gdbserver",
                              "dbgview", "crash", "testsign", "completion"}) {
    const Outcome r = Run(std::string(command) + " --help");
    EXPECT_EQ(r.exit, 0) << command << r.err;
    EXPECT_TRUE(Contains(r.out, "example: ")) << command << r.out;
  }
}

TEST_F(CliTest, MistakesGetTheNearestMatch) {
  Outcome r = Run("statsu");
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "ntbox: 'statsu' is not an ntbox command. Did you mean 'status'?\n");
  r = Run("frobnicate");
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "ntbox: 'frobnicate' is not an ntbox command (ntbox --help lists them)\n");
  r = Run("status --jsn");
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "ntbox status: unknown option '--jsn'; did you mean '--json'?\n");
  r = Run("sc quer mydrv");
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(r.err.starts_with("ntbox sc: unknown command 'quer'; did you mean 'query'?\nusage: ntbox sc")) << r.err;
  r = Run("bcdedit /sett testsigning on");
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(r.err.starts_with("ntbox bcdedit: unknown command '/sett'; did you mean '/set'?")) << r.err;
  r = Run("reg qeury HKLM");
  EXPECT_TRUE(r.err.starts_with("ntbox reg: unknown command 'qeury'; did you mean 'query'?")) << r.err;
  r = Run("sc");
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(r.err.starts_with("ntbox sc: a command is needed\nusage: ntbox sc")) << r.err;
  // --json where a command prints none is a usage error too, answered before any machine boots.
  r = Run("bcdedit /enum --json");
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.err, "ntbox bcdedit: --json is for sc query, sc queryex, sc qc, reg query, verifier /query, ioctl and lm\n");
}

}  // namespace

namespace {

// The completion script the CLI makes completes commands, a command's options and a
// Windows-syntax command's verbs.
TEST(Cli, CompletionCompletesCommandsOptionsAndVerbs) {
  const std::string script = testing::TempDir() + "/ntbox_completion_" + std::to_string(getpid()) + ".bash";
  ASSERT_EQ(std::system((std::string(NTBOX_BIN) + " completion bash > " + script).c_str()), 0);
  auto complete = [&](const std::string& words, int cword) {
    const std::string out = testing::TempDir() + "/ntbox_completion.out";
    const std::string command = "bash -c 'source " + script + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                                std::to_string(cword) + "; _ntbox; echo \"${COMPREPLY[*]}\"' > " + out;
    EXPECT_EQ(std::system(command.c_str()), 0);
    std::string text = ntbox::test::Slurp(out);
    std::remove(out.c_str());
    return text;
  };
  EXPECT_EQ(complete("ntbox sta", 1), "status\n");
  EXPECT_EQ(complete("ntbox sc quer", 2), "query queryex\n");
  EXPECT_EQ(complete("ntbox --machine /tmp/m lm --j", 4), "--json\n");
  EXPECT_EQ(complete("ntbox bcdedit /se", 2), "/set\n");
  std::remove(script.c_str());
  EXPECT_EQ(Ntbox("completion fish").exit, 2);
}

}  // namespace

namespace {

// ntbox ARGS with stdout and stderr on a terminal (a pseudo-terminal of the test's own); noColor
// sets NO_COLOR. What the terminal showed.
std::string OnTerminal(const std::string& args, bool noColor) {
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    if (noColor) {
      setenv("NO_COLOR", "1", 1);
    } else {
      unsetenv("NO_COLOR");
    }
    setenv("TERM", "xterm", 1);
    const std::string cmd = std::string(NTBOX_BIN) + " " + args;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string seen;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n > 0) {
      seen.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO: the child closed the terminal
    }
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  return seen;
}

// On a terminal, errors and stops in colour; in a pipe or with NO_COLOR, none.
TEST_F(CliTest, ColourOnATerminalOnly) {
  const std::string typo = "--machine " + dir_.string() + " statsu";
  EXPECT_TRUE(Contains(OnTerminal(typo, false), "\x1b[31mntbox: 'statsu' is not an ntbox command"));
  EXPECT_FALSE(Contains(OnTerminal(typo, true), "\x1b["));
  EXPECT_FALSE(Contains(Run("statsu").err, "\x1b["));
  const std::string stop = OnTerminal("load --service null_write " + ntbox::test::Driver("misbehave.sys"), false);
  EXPECT_TRUE(Contains(stop, "\x1b[1;31m*** STOP: 0x0000007E")) << stop;
  EXPECT_FALSE(Contains(Ntbox("load --service null_write " + ntbox::test::Driver("misbehave.sys")).out, "\x1b["));
}

}  // namespace

namespace {

// The man pages (help2man, from the CLI's own help): one per command `ntbox --help` lists, and the
// exit statuses in ntbox(1) row for row as the README's table has them.
TEST(Cli, ManPagesForEveryCommandWithTheReadmesExitStatuses) {
  const fs::path man = fs::path(NTBOX_BIN).parent_path().parent_path() / "share" / "man" / "man1";
  const std::string help = Ntbox("--help").out;
  std::size_t commands = 0;
  for (std::size_t at = help.find("Subcommands:\n"); at != std::string::npos;) {
    at = help.find("\n  ", at);
    if (at == std::string::npos) break;
    at += 3;
    const std::string name = help.substr(at, help.find(' ', at) - at);
    const std::string page = ntbox::test::Slurp((man / ("ntbox-" + name + ".1")).string());
    EXPECT_TRUE(Contains(page, ".SH NAME\nntbox-" + name + " \\- ")) << name;
    EXPECT_TRUE(Contains(page, "ntbox(1)")) << name;
    ++commands;
  }
  EXPECT_GE(commands, 20u);
  const std::string ntbox = ntbox::test::Slurp((man / "ntbox.1").string());
  const std::string readme = ntbox::test::Slurp(NTBOX_SOURCE_DIR "/README.md");
  const std::size_t table = readme.find("| status | meaning |");
  ASSERT_NE(table, std::string::npos);
  std::size_t rows = 0;
  for (std::size_t at = readme.find("\n| ", table + 1); at != std::string::npos && readme.compare(at, 3, "\n| ") == 0;
       at = readme.find('\n', at + 1)) {
    const std::size_t bar = readme.find(" | ", at + 3);
    const std::string status = readme.substr(at + 3, bar - at - 3);
    const std::string meaning = readme.substr(bar + 3, readme.find(" |\n", bar) - bar - 3);
    if (status == "---") continue;
    std::string plain;  // the man page's text has no Markdown code marks
    for (const char c : meaning) {
      if (c != '`') plain += c;
    }
    EXPECT_TRUE(Contains(ntbox, ".B " + status + "\n" + plain + "\n")) << status << ": " << plain;
    ++rows;
  }
  EXPECT_EQ(rows, 7u);
}

}  // namespace
