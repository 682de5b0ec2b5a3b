// IOCTL round trips: METHOD_BUFFERED, 64 bytes in and out, one thread, through ntbox::Machine's
// native client (the I/O manager's whole path: handle, IRP, copy-in, dispatch, completion,
// copy-back). Prints calls per second.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "machine/Machine.h"

namespace {

namespace fs = std::filesystem;
using namespace ntbox::machine;

constexpr std::uint32_t kEcho = (0x22u << 16) | (0x800u << 2);  // CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, BUFFERED, ANY)

void BM_IoctlRoundTripNative(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("ntbox_bench_ioctl_" + std::to_string(getpid()));
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
  for (auto _ : state) {
    auto r = machine.DeviceIoControl(*handle, kEcho, in.data(), 64, out.data(), 64);
    if (!r || r->information != 64) return state.SkipWithError("the IOCTL failed");
  }
  state.counters["calls/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  (void)machine.CloseHandle(*handle);
  m->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_IoctlRoundTripNative)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
