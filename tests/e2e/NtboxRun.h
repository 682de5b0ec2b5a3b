// Runs the real ntbox binary for end-to-end tests and captures what it prints.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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

// `ntbox ARGS` through the shell (ARGS is shell text), stdin from /dev/null.
inline Outcome Ntbox(const std::string& args) {
  const std::string dir = testing::TempDir();
  static int counter = 0;
  const std::string stem = dir + "/ntbox_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  const std::string out = stem + ".out";
  const std::string err = stem + ".err";
  const std::string command = std::string(NTBOX_BIN) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(command.c_str());
  Outcome r;
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

}  // namespace ntbox::test
