// Queue-to-run latency of a DPC (KeInsertQueueDpc → the routine on a virtual processor at
// DISPATCH_LEVEL → the waiter wakes) and of a work item (ExQueueWorkItem → a system worker at
// PASSIVE_LEVEL → the waiter wakes), each a full round trip through the kernel lock.
#include <benchmark/benchmark.h>

#include <atomic>
#include <mutex>

#include "nt/Kernel.h"
#include "nt/ex/WorkQueue.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"

namespace {

using namespace ntbox::nt;

std::atomic<int> g_ran{0};

void NTAPI OnDpc(KDPC*, PVOID, PVOID, PVOID) {
  g_ran.store(1);
  ke::WakeWaiters();
}

void NTAPI OnWork(PVOID) {
  g_ran.store(1);
  ke::WakeWaiters();
}

struct Fixture {
  Kernel kernel;
  ke::ThreadAttachment attach;
};

Fixture& Get() {
  static Fixture f;
  return f;
}

void WaitForRun() {
  (void)ke::WaitUntil([] { return g_ran.load() != 0; });
  g_ran.store(0);
}

void BM_DpcQueueToRun(benchmark::State& state) {
  Get();
  KDPC dpc;
  KeInitializeDpc(&dpc, &OnDpc, nullptr);
  std::lock_guard lock(ke::TheKernelLock());
  for (auto _ : state) {
    KeInsertQueueDpc(&dpc, nullptr, nullptr);
    WaitForRun();
  }
  state.counters["us_per_round_trip"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DpcQueueToRun)->UseRealTime();

void BM_WorkItemQueueToRun(benchmark::State& state) {
  Get();
  WORK_QUEUE_ITEM item{};
  std::lock_guard lock(ke::TheKernelLock());
  for (auto _ : state) {
    item.WorkerRoutine = &OnWork;
    item.Parameter = nullptr;
    item.List.Flink = nullptr;
    ExQueueWorkItem(&item, ex::DelayedWorkQueue);
    WaitForRun();
  }
  state.counters["us_per_round_trip"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WorkItemQueueToRun)->UseRealTime();

void BM_KernelLockUncontended(benchmark::State& state) {
  Get();
  for (auto _ : state) {
    std::lock_guard lock(ke::TheKernelLock());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_KernelLockUncontended);

}  // namespace

BENCHMARK_MAIN();
