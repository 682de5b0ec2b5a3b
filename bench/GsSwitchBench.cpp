// What a system-call entry could pay to give kernel code its GS (the KPCR) while a program's code
// has the TEB there: the arch_prctl pair (without FSGSBASE, the only way to move GS's base), the
// wrfsgsbase pair where the CPU and kernel allow it, and the alternative that never moves the base,
// swapping the few KPCR fields kernel code reads through GS in and out of the thread's one GS block.
#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>

namespace {

constexpr unsigned long kHwcap2FsGsBase = 1ul << 1;

alignas(4096) std::uint8_t g_blockA[0x4000];
alignas(4096) std::uint8_t g_blockB[0x4000];

std::uint64_t GsBase() {
  std::uint64_t base = 0;
  syscall(SYS_arch_prctl, ARCH_GET_GS, &base);
  return base;
}

void ArchPrctlPair(benchmark::State& state) {
  const std::uint64_t saved = GsBase();
  for (auto _ : state) {
    syscall(SYS_arch_prctl, ARCH_SET_GS, reinterpret_cast<std::uint64_t>(g_blockA));
    syscall(SYS_arch_prctl, ARCH_SET_GS, reinterpret_cast<std::uint64_t>(g_blockB));
  }
  syscall(SYS_arch_prctl, ARCH_SET_GS, saved);
}
BENCHMARK(ArchPrctlPair);

void WrGsBasePair(benchmark::State& state) {
  if (!(getauxval(AT_HWCAP2) & kHwcap2FsGsBase)) {
    state.SkipWithError("no FSGSBASE on this machine");
    for (auto _ : state) {
    }
    return;
  }
  const std::uint64_t saved = GsBase();
  for (auto _ : state) {
    asm volatile("wrgsbase %0" : : "r"(reinterpret_cast<std::uint64_t>(g_blockA)));
    asm volatile("wrgsbase %0" : : "r"(reinterpret_cast<std::uint64_t>(g_blockB)));
  }
  asm volatile("wrgsbase %0" : : "r"(saved));
}
BENCHMARK(WrGsBasePair);

// Entry and exit of the swap: five fields (Self 0x18, Prcb 0x20, Irql 0x50, CurrentThread 0x188,
// Number 0x1a4) saved from the block and the kernel's written, then the program's put back.
void FieldSwapPair(benchmark::State& state) {
  std::uint64_t saved[5];
  const std::uint64_t kernel[5] = {1, 2, 3, 4, 5};
  constexpr int kOffsets[5] = {0x18, 0x20, 0x50, 0x188, 0x1a0};
  auto* block = g_blockA;
  for (auto _ : state) {
    for (int i = 0; i < 5; ++i) {
      __builtin_memcpy(&saved[i], block + kOffsets[i], 8);
      __builtin_memcpy(block + kOffsets[i], &kernel[i], 8);
    }
    benchmark::ClobberMemory();
    for (int i = 0; i < 5; ++i) __builtin_memcpy(block + kOffsets[i], &saved[i], 8);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(FieldSwapPair);

void GetPid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(syscall(SYS_getpid));
}
BENCHMARK(GetPid);

}  // namespace

BENCHMARK_MAIN();
