// `ntbox load` of seed 000's driver as a whole process: spawn, load, DriverEntry, unload, exit.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>

extern char** environ;

namespace {

void BM_NtboxLoadProcess(benchmark::State& state) {
  std::string bin = NTBOX_BIN;
  std::string load = "load";
  std::string driver = std::string(NTBOX_DRIVER_DIR) + "/FirstDriverSample.sys";
  char* argv[] = {bin.data(), load.data(), driver.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  for (auto _ : state) {
    pid_t pid;
    if (posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv, environ) != 0) {
      state.SkipWithError("cannot spawn ntbox");
      break;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("ntbox load failed");
      break;
    }
  }
  posix_spawn_file_actions_destroy(&actions);
}
BENCHMARK(BM_NtboxLoadProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
