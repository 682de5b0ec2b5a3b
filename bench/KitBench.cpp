// What the test kit costs a test: a fresh machine (configured offline, booted once),
// a driver started, one IOCTL, WaitIdle and the finish (driver stopped, machine shut down and its
// directory removed); and WaitIdle alone on an idle machine and after a timer's DPC and work item.
#include <benchmark/benchmark.h>
#include <ntbox/testing.h>

#include <string>

#include "tests/drivers/kit_target/kit_target_shared.h"

namespace {

using ntbox::testing::Machine;

void Report(const std::string& message) { std::fprintf(stderr, "%s\n", message.c_str()); }

void BM_KitTestLifetime(benchmark::State& state) {
  for (auto _ : state) {
    auto machine = Machine::Create("bench", {}, Report);
    if (!machine) return state.SkipWithError("no machine");
    machine->StartDriver(NTBOX_DRIVER_DIR "/kit_target.sys");
    auto device = machine->Open("\\\\.\\KitTarget");
    benchmark::DoNotOptimize(device.Ioctl(IOCTL_KIT_REVERSE, "ntbox", 16));
    device.Close();
    machine->Finish();
  }
}
BENCHMARK(BM_KitTestLifetime)->Unit(benchmark::kMillisecond);

void BM_KitWaitIdle(benchmark::State& state) {
  auto machine = Machine::Create("bench", {}, Report);
  if (!machine) return state.SkipWithError("no machine");
  machine->StartDriver(NTBOX_DRIVER_DIR "/kit_target.sys");
  auto device = machine->Open("\\\\.\\KitTarget");
  const std::int32_t action = KIT_LATER_WORK;
  for (auto _ : state) {
    // range(0): 0 an idle machine, 1 after a 20 ms timer whose DPC queues a work item.
    if (state.range(0)) device.Ioctl(IOCTL_KIT_LATER, action);
    benchmark::DoNotOptimize(machine->WaitIdle());
  }
  device.Close();
}
BENCHMARK(BM_KitWaitIdle)->ArgName("after_timer")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
