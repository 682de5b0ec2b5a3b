// The machine: boot, `sc start` of seed 000's driver on a running machine (in-process and as
// the CLI does it, a client process talking to the server), and a whole cold cycle through the
// CLI: boot, create, start, stop, delete, shutdown.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "machine/Machine.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

const std::string kDriver = std::string(NTBOX_DRIVER_DIR) + "/FirstDriverSample.sys";

fs::path FreshDir(const char* name) {
  const fs::path dir = fs::temp_directory_path() / (std::string("ntbox_bench_") + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}

// Runs `ntbox ARGS...` with its output discarded; false when it fails.
bool Ntbox(const std::vector<std::string>& args) {
  std::vector<std::string> all{NTBOX_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const bool spawned = posix_spawn(&pid, NTBOX_BIN, &actions, nullptr, argv.data(), environ) == 0;
  posix_spawn_file_actions_destroy(&actions);
  if (!spawned) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A machine with test signing on and the seed's driver as service 001_sample.
std::unique_ptr<ntbox::machine::Machine> Prepared(const fs::path& dir) {
  using namespace ntbox::machine;
  {
    auto m = Machine::Boot(dir);
    if (!m) return nullptr;
    (void)(*m)->StoreBootConfig(BootConfig{true, false});
    ServiceConfig config;
    config.name = "001_sample";
    config.imagePath = Machine::ToImagePath(kDriver, "/");
    (void)(*m)->CreateService(config);
  }
  auto m = Machine::Boot(dir);
  return m ? std::move(*m) : nullptr;
}

void BM_MachineBoot(benchmark::State& state) {
  const fs::path dir = FreshDir("boot");
  Prepared(dir).reset();
  for (auto _ : state) {
    auto m = ntbox::machine::Machine::Boot(dir);
    if (!m) {
      state.SkipWithError(m.error().message.c_str());
      break;
    }
    m->reset();  // and shutdown
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_MachineBoot)->Unit(benchmark::kMicrosecond);

void BM_ScStartInProcess(benchmark::State& state) {
  const fs::path dir = FreshDir("start");
  auto m = Prepared(dir);
  for (auto _ : state) {
    if (!m->StartService("001_sample")) {
      state.SkipWithError("sc start failed");
      break;
    }
    state.PauseTiming();
    (void)m->StopService("001_sample");
    state.ResumeTiming();
  }
  m.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_ScStartInProcess)->Unit(benchmark::kMicrosecond);

void BM_ScStartCli(benchmark::State& state) {
  const fs::path dir = FreshDir("cli");
  Prepared(dir).reset();
  const std::string machine = dir.string();
  Ntbox({"--machine", machine, "boot"});
  for (auto _ : state) {
    if (!Ntbox({"--machine", machine, "sc", "start", "001_sample"})) {
      state.SkipWithError("ntbox sc start failed");
      break;
    }
    state.PauseTiming();
    Ntbox({"--machine", machine, "sc", "stop", "001_sample"});
    state.ResumeTiming();
  }
  Ntbox({"--machine", machine, "shutdown"});
  fs::remove_all(dir);
}
BENCHMARK(BM_ScStartCli)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ColdCycleCli(benchmark::State& state) {
  const fs::path dir = FreshDir("cycle");
  Prepared(dir).reset();
  const std::string machine = dir.string();
  for (auto _ : state) {
    const bool ok = Ntbox({"--machine", machine, "boot"}) &&
                    Ntbox({"--machine", machine, "sc", "create", "cycle", "type=", "kernel", "binPath=", kDriver}) &&
                    Ntbox({"--machine", machine, "sc", "start", "cycle"}) &&
                    Ntbox({"--machine", machine, "sc", "stop", "cycle"}) &&
                    Ntbox({"--machine", machine, "sc", "delete", "cycle"}) &&
                    Ntbox({"--machine", machine, "shutdown"});
    if (!ok) {
      state.SkipWithError("a step of the cycle failed");
      break;
    }
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_ColdCycleCli)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
