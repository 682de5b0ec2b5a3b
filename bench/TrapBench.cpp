// Cost of one trapped CR8 read (KeGetCurrentIrql inline in a mingw-built driver) against the
// same loop without the read, and of a call into the driver through the guard.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "cpu/Trap.h"
#include "nt/Kernel.h"
#include "nt/io/Driver.h"
#include "nt/ke/Thread.h"

namespace {

using Loop = std::uint64_t(__attribute__((ms_abi)) *)(std::uint64_t);

struct Fixture {
  ntbox::nt::Kernel kernel;
  ntbox::nt::ke::ThreadAttachment attach;
  std::unique_ptr<ntbox::nt::Driver> driver;
  Loop readIrql = nullptr;
  Loop empty = nullptr;

  Fixture() {
    auto d = ntbox::nt::Driver::Load(kernel, std::string(NTBOX_DRIVER_DIR) + "/bench_driver.sys");
    if (!d) {
      std::fprintf(stderr, "cannot load bench_driver.sys: %s\n", d.error().message.c_str());
      std::exit(1);
    }
    driver = std::move(*d);
    readIrql = reinterpret_cast<Loop>(*driver->module().image->FindExport("ReadIrqlLoop"));
    empty = reinterpret_cast<Loop>(*driver->module().image->FindExport("EmptyLoop"));
  }
};

Fixture& Get() {
  static Fixture f;
  return f;
}

void BM_TrappedCr8Read(benchmark::State& state) {
  Fixture& f = Get();
  constexpr std::uint64_t kBatch = 1000;
  for (auto _ : state) {
    auto r = ntbox::cpu::CallGuarded([&f] { return f.readIrql(kBatch); });
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  state.counters["ns_per_read"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TrappedCr8Read)->Unit(benchmark::kMicrosecond);

void BM_LoopWithoutTrap(benchmark::State& state) {
  Fixture& f = Get();
  constexpr std::uint64_t kBatch = 1000;
  for (auto _ : state) {
    auto r = ntbox::cpu::CallGuarded([&f] { return f.empty(kBatch); });
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_LoopWithoutTrap)->Unit(benchmark::kMicrosecond);

void BM_GuardedCallIntoDriver(benchmark::State& state) {
  Fixture& f = Get();
  for (auto _ : state) {
    auto r = ntbox::cpu::CallGuarded([&f] { return f.empty(0); });
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_GuardedCallIntoDriver);

}  // namespace

BENCHMARK_MAIN();
