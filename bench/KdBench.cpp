// What the kernel debugger costs (ntbox kd; nt/kd's target side in-process, the engine's side as a
// thread that lets every stop go at once). IOCTL round trips through ntbox::Machine's native
// client (METHOD_BUFFERED, 64 bytes) with no debugger, with one attached and no breakpoint, with a
// breakpoint armed in code the IOCTL never reaches, and with one on the dispatch routine that every
// IOCTL hits: that row's extra time per call is a breakpoint hit's round trip (the trap, the stop
// published, the debugger woken, the resume, the original instruction stepped under TF and the
// breakpoint written back), the time from a hit to the debugger's prompt and back, less the
// client's terminal.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "debug/Symbols.h"
#include "machine/Machine.h"
#include "nt/kd/Debugger.h"

namespace {

namespace fs = std::filesystem;
using namespace ntbox::machine;
using ntbox::nt::kd::Debugger;

constexpr std::uint32_t kEcho = (0x22u << 16) | (0x800u << 2);

enum Mode { kDetached = 0, kAttached = 1, kArmedElsewhere = 2, kHitEveryCall = 3 };

void BM_IoctlUnderTheDebugger(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("ntbox_bench_kd_" + std::to_string(getpid()));
  fs::remove_all(dir);
  {
    auto m = Machine::Boot(dir);
    if (!m) return state.SkipWithError(m.error().message.c_str());
    (void)(*m)->StoreBootConfig(BootConfig{true, false});
    ServiceConfig config;
    config.name = "bench";
    config.imagePath = Machine::ToImagePath(NTBOX_DRIVER_DIR "/bench_driver.sys", "/");
    (void)(*m)->CreateService(config);
  }
  auto m = Machine::Boot(dir);
  if (!m) return state.SkipWithError(m.error().message.c_str());
  Machine& machine = **m;
  if (auto s = machine.StartService("bench"); !s) return state.SkipWithError(s.error().message.c_str());
  auto handle = machine.OpenDevice("\\\\.\\NtboxBench");
  if (!handle) return state.SkipWithError(handle.error().message.c_str());
  auto in = machine.AllocateUserBuffer(64);
  auto out = machine.AllocateUserBuffer(64);

  const auto mode = static_cast<Mode>(state.range(0));
  Debugger& debugger = Debugger::Get();
  std::atomic<bool> done{false};
  std::thread engine;
  std::uint64_t breakpoint = 0;
  if (mode != kDetached) {
    debugger.Attach();
    ntbox::debug::Symbols symbols;
    symbols.Refresh();
    if (mode == kArmedElsewhere) breakpoint = symbols.Resolve("bench_driver!BenchCreateClose").value_or(0);
    if (mode == kHitEveryCall) breakpoint = symbols.Resolve("bench_driver!BenchDeviceControl").value_or(0);
    if (mode != kAttached && (!breakpoint || !debugger.Insert(breakpoint))) {
      return state.SkipWithError("cannot set the breakpoint");
    }
    // The debugger's side: every stop goes on at once.
    engine = std::thread([&] {
      while (!done) {
        pollfd p{debugger.eventFd(), POLLIN, 0};
        if (poll(&p, 1, 20) > 0) debugger.Resume(ntbox::nt::kd::Resume::kGo);
      }
    });
  }
  for (auto _ : state) {
    auto r = machine.DeviceIoControl(*handle, kEcho, in.data(), 64, out.data(), 64);
    if (!r || r->information != 64) {
      state.SkipWithError("the IOCTL failed");
      break;
    }
  }
  state.counters["calls/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  done = true;
  if (engine.joinable()) engine.join();
  if (mode != kDetached) debugger.Detach();
  (void)machine.CloseHandle(*handle);
  m->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_IoctlUnderTheDebugger)
    ->ArgName("mode")  // 0 detached, 1 attached, 2 a breakpoint armed elsewhere, 3 a breakpoint hit by every call
    ->Arg(kDetached)
    ->Arg(kAttached)
    ->Arg(kArmedElsewhere)
    ->Arg(kHitEveryCall)
    ->Arg(kDetached)
    ->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
