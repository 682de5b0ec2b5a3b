// Cost of one CR8 read (KeGetCurrentIrql inline in a mingw-built driver), trapped and rewritten at
// load, against the same loop without the read; of inline raise/lower (cr8 writes, across
// DISPATCH_LEVEL and below it) and cli/sti, trapped and rewritten; of exported IRQL raise/lower, of spin lock
// acquire/release, of pageable code between spin locks (trim and page-in), and of a call into the
// driver through the guard.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "cpu/Rewriter.h"
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
  Loop trappedReadIrql = nullptr;  // the same loop in a copy of the image loaded without rewriting
  Loop readTicks = nullptr;
  Loop trappedReadTicks = nullptr;
  Loop empty = nullptr;
  Loop inlineRaiseLower = nullptr;
  Loop trappedInlineRaiseLower = nullptr;
  Loop inlineRaiseLowerApc = nullptr;
  Loop trappedInlineRaiseLowerApc = nullptr;
  Loop cliSti = nullptr;
  Loop trappedCliSti = nullptr;
  Loop exportedRaiseLower = nullptr;
  Loop spinLock = nullptr;
  Loop queuedSpinLock = nullptr;
  Loop pagedCodeSpinLock = nullptr;

  Fixture() {
    auto d = ntbox::nt::Driver::Load(kernel, std::string(NTBOX_DRIVER_DIR) + "/bench_driver.sys");
    if (!d) {
      std::fprintf(stderr, "cannot load bench_driver.sys: %s\n", d.error().message.c_str());
      std::exit(1);
    }
    driver = std::move(*d);
    readIrql = reinterpret_cast<Loop>(*driver->module().image->FindExport("ReadIrqlLoop"));
    kernel.SetRewriting(false);
    auto trapped = kernel.LoadModule(std::string(NTBOX_DRIVER_DIR) + "/bench_driver.sys");
    kernel.SetRewriting(true);
    if (!trapped || !driver->module().rewrite || (*trapped)->rewrite) {
      std::fprintf(stderr, "bench_driver.sys: expected one rewritten copy and one not\n");
      std::exit(1);
    }
    trappedReadIrql = reinterpret_cast<Loop>(*(*trapped)->image->FindExport("ReadIrqlLoop"));
    readTicks = reinterpret_cast<Loop>(*driver->module().image->FindExport("ReadTickCountLoop"));
    trappedReadTicks = reinterpret_cast<Loop>(*(*trapped)->image->FindExport("ReadTickCountLoop"));
    empty = reinterpret_cast<Loop>(*driver->module().image->FindExport("EmptyLoop"));
    auto both = [&](const char* name, Loop& rewritten, Loop& trappedLoop) {
      rewritten = reinterpret_cast<Loop>(*driver->module().image->FindExport(name));
      trappedLoop = reinterpret_cast<Loop>(*(*trapped)->image->FindExport(name));
    };
    both("InlineRaiseLowerLoop", inlineRaiseLower, trappedInlineRaiseLower);
    both("InlineRaiseLowerApcLoop", inlineRaiseLowerApc, trappedInlineRaiseLowerApc);
    both("CliStiLoop", cliSti, trappedCliSti);
    exportedRaiseLower = reinterpret_cast<Loop>(*driver->module().image->FindExport("ExportedRaiseLowerLoop"));
    spinLock = reinterpret_cast<Loop>(*driver->module().image->FindExport("SpinLockLoop"));
    queuedSpinLock = reinterpret_cast<Loop>(*driver->module().image->FindExport("QueuedSpinLockLoop"));
    pagedCodeSpinLock = reinterpret_cast<Loop>(*driver->module().image->FindExport("PagedCodeSpinLockLoop"));
  }
};

Fixture& Get() {
  static Fixture f;
  return f;
}

// Runs one of the driver's exported loops in batches of 1000 iterations through the guard.
void RunLoop(benchmark::State& state, Loop loop) {
  constexpr std::uint64_t kBatch = 1000;
  for (auto _ : state) {
    auto r = ntbox::cpu::CallGuarded([loop] { return loop(kBatch); });
    benchmark::DoNotOptimize(r);
  }
  const auto items = static_cast<double>(state.iterations() * kBatch);
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_iteration"] =
      benchmark::Counter(items, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// KeGetCurrentIrql inline (mov rax, cr8): trapped and emulated, and rewritten at load to a load of
// the KPCR's IRQL byte; the same loop without the read.
void BM_TrappedCr8Read(benchmark::State& state) { RunLoop(state, Get().trappedReadIrql); }
BENCHMARK(BM_TrappedCr8Read)->Unit(benchmark::kMicrosecond);

void BM_RewrittenCr8Read(benchmark::State& state) { RunLoop(state, Get().readIrql); }
BENCHMARK(BM_RewrittenCr8Read)->Unit(benchmark::kMicrosecond);

// KeQueryTickCount inline (a read of KUSER_SHARED_DATA): trapped and emulated, and through the
// constant rewritten to the host's copy the kernel's clock keeps current.
void BM_TrappedSharedDataRead(benchmark::State& state) { RunLoop(state, Get().trappedReadTicks); }
BENCHMARK(BM_TrappedSharedDataRead)->Unit(benchmark::kMicrosecond);

void BM_RewrittenSharedDataRead(benchmark::State& state) { RunLoop(state, Get().readTicks); }
BENCHMARK(BM_RewrittenSharedDataRead)->Unit(benchmark::kMicrosecond);

void BM_LoopWithoutTrap(benchmark::State& state) { RunLoop(state, Get().empty); }
BENCHMARK(BM_LoopWithoutTrap)->Unit(benchmark::kMicrosecond);

// KeRaiseIrql(DISPATCH_LEVEL) + KeLowerIrql per iteration, inline: two cr8 writes across
// DISPATCH_LEVEL, trapped, and rewritten (each a call of the kernel's IRQL helper); against the
// exported KfRaiseIrql/KeLowerIrql.
void BM_TrappedInlineRaiseLower(benchmark::State& state) { RunLoop(state, Get().trappedInlineRaiseLower); }
BENCHMARK(BM_TrappedInlineRaiseLower)->Unit(benchmark::kMicrosecond);

void BM_RewrittenInlineRaiseLower(benchmark::State& state) { RunLoop(state, Get().inlineRaiseLower); }
BENCHMARK(BM_RewrittenInlineRaiseLower)->Unit(benchmark::kMicrosecond);

// The same to APC_LEVEL: rewritten, two stores to the KPCR's IRQL byte.
void BM_TrappedInlineRaiseLowerApc(benchmark::State& state) { RunLoop(state, Get().trappedInlineRaiseLowerApc); }
BENCHMARK(BM_TrappedInlineRaiseLowerApc)->Unit(benchmark::kMicrosecond);

void BM_RewrittenInlineRaiseLowerApc(benchmark::State& state) { RunLoop(state, Get().inlineRaiseLowerApc); }
BENCHMARK(BM_RewrittenInlineRaiseLowerApc)->Unit(benchmark::kMicrosecond);

// _disable/_enable: cli and sti, trapped, and rewritten to stores to the KPCR's interrupt flag.
void BM_TrappedCliSti(benchmark::State& state) { RunLoop(state, Get().trappedCliSti); }
BENCHMARK(BM_TrappedCliSti)->Unit(benchmark::kMicrosecond);

void BM_RewrittenCliSti(benchmark::State& state) { RunLoop(state, Get().cliSti); }
BENCHMARK(BM_RewrittenCliSti)->Unit(benchmark::kMicrosecond);

void BM_ExportedRaiseLower(benchmark::State& state) { RunLoop(state, Get().exportedRaiseLower); }
BENCHMARK(BM_ExportedRaiseLower)->Unit(benchmark::kMicrosecond);

// KeAcquireSpinLock + KeReleaseSpinLock, and the in-stack queued pair, uncontended.
void BM_SpinLockAcquireRelease(benchmark::State& state) { RunLoop(state, Get().spinLock); }
BENCHMARK(BM_SpinLockAcquireRelease)->Unit(benchmark::kMicrosecond);

void BM_QueuedSpinLockAcquireRelease(benchmark::State& state) { RunLoop(state, Get().queuedSpinLock); }
BENCHMARK(BM_QueuedSpinLockAcquireRelease)->Unit(benchmark::kMicrosecond);

// A call into pageable code, then a spin lock: one page-in and one trim per iteration (the
// verifier's IRQL checking, on by default), against the plain spin lock loop above.
void BM_PagedCodeThenSpinLock(benchmark::State& state) {
  RunLoop(state, Get().pagedCodeSpinLock);
  state.counters["trims"] = static_cast<double>(Get().kernel.pageable().trims());
  state.counters["page_ins"] = static_cast<double>(Get().kernel.pageable().pageIns());
}
BENCHMARK(BM_PagedCodeThenSpinLock)->Unit(benchmark::kMicrosecond);

// The load-time rewriting's analysis and plan of an image (what it adds to a load), for the seed's
// small driver and the largest test driver.
void BM_RewritePlan(benchmark::State& state, const char* name) {
  auto image = ntbox::pe::PeImage::ParseFile(std::string(NTBOX_DRIVER_DIR) + "/" + name);
  if (!image) {
    state.SkipWithError("cannot parse the image");
    return;
  }
  for (auto _ : state) {
    auto plan = ntbox::cpu::ImageRewrite::Plan(*image, {0x50, 0x54}, 0x7F0000000000ull);
    benchmark::DoNotOptimize(plan);
  }
  state.counters["image_kib"] = static_cast<double>(image->sizeOfImage()) / 1024;
}
BENCHMARK_CAPTURE(BM_RewritePlan, seed_driver, "FirstDriverSample.sys")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RewritePlan, legal_idioms_O0, "legal_idioms_O0.sys")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RewritePlan, misbehave, "misbehave.sys")->Unit(benchmark::kMicrosecond);

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
