// IOCTL round trips: METHOD_BUFFERED, 64 bytes in and out, one thread, (a) from a Win32 program
// run in the machine (bench_app.exe: kernel32's DeviceIoControl, as ntbox run runs it) and (b)
// through ntbox::Machine's native client. Both take the I/O manager's whole path: handle, IRP,
// copy-in, dispatch, completion, copy-back. Prints calls per second, with Driver Verifier on
// (/standard for every driver, the default) and off (verifier /reset), for the quiet driver and
// for the same with PAGED_CODE() in its dispatch routine, rewritten at load and trapped.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "cpu/HostState.h"
#include "cpu/Trap.h"
#include "machine/Machine.h"
#include "machine/VerifierSettings.h"
#include "nt/Kernel.h"
#include "nt/io/Driver.h"
#include "nt/io/IoExports.h"
#include "nt/io/IrpBlock.h"
#include "nt/ke/Thread.h"

namespace {

namespace fs = std::filesystem;
using namespace ntbox::machine;

constexpr std::uint32_t kEcho = (0x22u << 16) | (0x800u << 2);  // CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, BUFFERED, ANY)

// A machine with bench_driver.sys (or another image) running as the service "bench"; verifier on
// or off, drivers rewritten at load or not (bcdedit /set rewrite).
std::unique_ptr<Machine> BenchMachine(const fs::path& dir, benchmark::State& state, bool verifier,
                                      const char* image = "bench_driver.sys", bool rewrite = true) {
  fs::remove_all(dir);
  {
    auto m = Machine::Boot(dir);
    if (!m) return state.SkipWithError(m.error().message.c_str()), nullptr;
    BootConfig boot{true, false};
    boot.rewrite = rewrite;
    (void)(*m)->StoreBootConfig(boot);
    if (!verifier) (void)ResetVerifierSettings((*m)->registry());
    ServiceConfig config;
    config.name = "bench";
    config.imagePath = Machine::ToImagePath(std::string(NTBOX_DRIVER_DIR "/") + image, "/");
    (void)(*m)->CreateService(config);
  }
  auto m = Machine::Boot(dir);
  if (!m) return state.SkipWithError(m.error().message.c_str()), nullptr;
  if (auto s = (*m)->StartService("bench"); !s) return state.SkipWithError(s.error().message.c_str()), nullptr;
  return std::move(*m);
}

void BM_IoctlRoundTripWin32App(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("ntbox_bench_app_" + std::to_string(getpid()));
  auto machine = BenchMachine(dir, state, state.range(0) != 0, state.range(1) ? "bench_driver_paged.sys" : "bench_driver.sys",
                              state.range(2) != 0);
  if (!machine) return;
  constexpr long kCalls = 2'000'000;
  double rate = 0;
  for (auto _ : state) {
    int pipeFds[2];
    if (pipe(pipeFds) != 0) return state.SkipWithError("pipe");
    ntbox::user::ProgramOptions options;
    options.hostPath = NTBOX_DRIVER_DIR "/bench_app.exe";
    options.name = "bench_app.exe";
    options.args = {std::to_string(kCalls)};
    options.currentDirectory = "Z:\\";
    options.stdio = {0, pipeFds[1], 2};
    auto program = machine->LoadProgram(options);
    if (!program) return state.SkipWithError(program.error().message.c_str());
    const auto exit = (*program)->Run();
    close(pipeFds[1]);
    char text[256] = {};
    const auto n = read(pipeFds[0], text, sizeof text - 1);
    close(pipeFds[0]);
    if (exit.exitCode != 0 || n <= 0) return state.SkipWithError("bench_app.exe failed");
    std::fputs(text, stdout);
    const char* at = std::strstr(text, "calls_per_second ");
    if (at) rate = std::atof(at + 17);
    state.SetIterationTime(std::atof(std::strstr(text, "seconds ") + 8));
  }
  state.counters["calls/s"] = rate;
  state.counters["ns/call"] = rate > 0 ? 1e9 / rate : 0;
  machine.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_IoctlRoundTripWin32App)
    ->ArgNames({"verifier", "paged_code", "rewrite"})
    ->Args({1, 0, 1})
    ->Args({0, 0, 1})
    ->Args({1, 1, 1})
    ->Args({1, 1, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_IoctlRoundTripNative(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("ntbox_bench_ioctl_" + std::to_string(getpid()));
  auto m = BenchMachine(dir, state, state.range(0) != 0, state.range(1) ? "bench_driver_paged.sys" : "bench_driver.sys",
                        state.range(2) != 0);
  if (!m) return;
  Machine& machine = *m;
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
  m.reset();
  fs::remove_all(dir);
}
// paged_code: bench_driver_paged.sys, whose dispatch routine begins with PAGED_CODE() (one cr8
// read); rewrite 0: with the machine's rewriting off (bcdedit /set rewrite off), the read traps.
BENCHMARK(BM_IoctlRoundTripNative)
    ->ArgNames({"verifier", "paged_code", "rewrite"})
    ->Args({1, 0, 1})
    ->Args({0, 0, 1})
    ->Args({1, 1, 1})
    ->Args({1, 1, 0})
    ->Unit(benchmark::kNanosecond);

// The floor: what an IOCTL round trip cannot go below here. The same 64 bytes copied in, the
// driver's dispatch routine called directly with an IRP prepared once (reset each time) and its
// IoCompleteRequest, the 64 bytes copied out; in batches of 1000 under one guard.
void BM_IoctlFloor(benchmark::State& state) {
  using namespace ntbox::nt;
  Kernel kernel;
  ke::ThreadAttachment attach;
  auto driver = Driver::Load(kernel, NTBOX_DRIVER_DIR "/bench_driver.sys");
  if (!driver || !(*driver)->CallEntry()) return state.SkipWithError("cannot start bench_driver.sys");
  DEVICE_OBJECT* device = (*driver)->object()->DeviceObject;
  const PDRIVER_DISPATCH dispatch = (*driver)->object()->MajorFunction[IRP_MJ_DEVICE_CONTROL];
  io::IrpBlock* block = io::AllocateIrpBlock(1, io::IrpOrigin::kDriver, 64);
  IRP& irp = block->irp;
  void* system = irp.AssociatedIrp.SystemBuffer;
  std::uint8_t in[64] = {1, 2, 3}, out[64] = {};
  constexpr int kBatch = 1000;
  for (auto _ : state) {
    auto r = ntbox::cpu::CallGuarded([&] {
      for (int i = 0; i < kBatch; ++i) {
        std::memcpy(system, in, sizeof in);
        IoInitializeIrp(&irp, static_cast<USHORT>(sizeof(IRP) + sizeof(IO_STACK_LOCATION)), 1);
        irp.AssociatedIrp.SystemBuffer = system;
        IO_STACK_LOCATION* sl = --irp.Tail.Overlay.CurrentStackLocation;
        --irp.CurrentLocation;
        sl->MajorFunction = IRP_MJ_DEVICE_CONTROL;
        sl->DeviceObject = device;
        sl->Parameters.DeviceIoControl.IoControlCode = kEcho;
        sl->Parameters.DeviceIoControl.InputBufferLength = 64;
        sl->Parameters.DeviceIoControl.OutputBufferLength = 64;
        benchmark::DoNotOptimize(ntbox::cpu::CallDriver(dispatch, device, &irp));
        std::memcpy(out, system, sizeof out);
      }
      return 0;
    });
    if (!r || irp.IoStatus.Information != 64) return state.SkipWithError("the dispatch routine failed");
  }
  state.counters["calls/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBatch, benchmark::Counter::kIsRate);
  io::FreeIrpBlock(block);
  (void)(*driver)->CallUnload();
}
BENCHMARK(BM_IoctlFloor)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
