// Programs on the NT system-call layer (issue 16): the cost of one system call from a program on
// Wine's DLLs (syscall_bench.exe: NtClose of a missing handle through ntdll's thunk, the entry, the
// dispatch and the machine's lock), and `ntbox run` of hello.exe as a whole process on a booted
// machine.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

const std::string kMachine = "/tmp/ntbox-bench-usermode";

std::string Ntbox(const std::string& args) { return std::string(NTBOX_BIN) + " --machine " + kMachine + " " + args; }

int Quiet(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

void BM_SystemCallFromAProgram(benchmark::State& state) {
  const std::string command = Ntbox("run " + std::string(NTBOX_DRIVER_DIR) + "/syscall_bench.exe 200000");
  double ns = 0;
  for (auto _ : state) {
    FILE* p = popen(command.c_str(), "r");
    if (!p || std::fscanf(p, "ns_per_call %lf", &ns) != 1) {
      if (p) pclose(p);
      state.SkipWithError("syscall_bench.exe did not report");
      return;
    }
    pclose(p);
  }
  state.counters["ns_per_call"] = ns;
}
BENCHMARK(BM_SystemCallFromAProgram)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_HelloOnWineDlls(benchmark::State& state) {
  const std::string command = Ntbox("run " + std::string(NTBOX_DRIVER_DIR) + "/hello.exe");
  for (auto _ : state) {
    if (Quiet(command) == -1) state.SkipWithError("cannot run ntbox");
  }
}
BENCHMARK(BM_HelloOnWineDlls)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // One booted machine for every run (test signing is not needed: no driver loads).
  Quiet(Ntbox("shutdown"));
  Quiet("rm -rf " + kMachine);
  Quiet(Ntbox("boot"));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  Quiet(Ntbox("shutdown"));
  return 0;
}
