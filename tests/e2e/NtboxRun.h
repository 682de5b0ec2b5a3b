// Runs the real ntbox binary for end-to-end tests and captures what it prints.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace ntbox::test {

struct Outcome {
  int exit = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string Driver(const std::string& name) { return std::string(NTBOX_DRIVER_DIR) + "/" + name; }

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `ntbox ARGS` through the shell (ARGS is shell text), stdin from /dev/null (or input).
inline Outcome Ntbox(const std::string& args, const std::string* input = nullptr) {
  const std::string dir = testing::TempDir();
  static int counter = 0;
  const std::string stem = dir + "/ntbox_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  const std::string out = stem + ".out";
  const std::string err = stem + ".err";
  const std::string in = stem + ".in";
  if (input) std::ofstream(in, std::ios::binary) << *input;
  const std::string command =
      std::string(NTBOX_BIN) + " " + args + " >" + out + " 2>" + err + " <" + (input ? in : std::string("/dev/null"));
  const int status = std::system(command.c_str());
  Outcome r;
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  if (input) std::remove(in.c_str());
  return r;
}

// A machine directory of the test's own, shut down and removed afterwards.
class MachineFixture : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("ntbox_m_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    Run("shutdown");
    std::filesystem::remove_all(dir_);
  }
  Outcome Run(const std::string& args) { return Ntbox("--machine " + dir_.string() + " " + args); }
  Outcome RunWithInput(const std::string& args, const std::string& input) {
    return Ntbox("--machine " + dir_.string() + " " + args, &input);
  }
  // Reboots with test signing on (the SDK's drivers are test-signed).
  void TestSigningOn() {
    ASSERT_EQ(Run("bcdedit /set testsigning on").exit, 0);
    ASSERT_EQ(Run("reboot").exit, 0);
  }
  int ServerPid() {
    const Outcome s = Run("status --json");
    const auto at = s.out.find("\"pid\":");
    return at == std::string::npos ? 0 : std::atoi(s.out.c_str() + at + 6);
  }
  std::filesystem::path dir_;
};

}  // namespace ntbox::test
