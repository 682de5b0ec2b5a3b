// Coverage for libFuzzer from g++'s -fsanitize-coverage=trace-pc: each call site's return address
// is hashed to one of libFuzzer's inline 8-bit counters. (libFuzzer's own trace-pc entry only says
// the mode is unsupported; this definition, linked first, takes its place. ntbox's C++23 is beyond
// the clang that ships libFuzzer here, so -fsanitize=fuzzer itself is not an option.)
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* start, std::uint8_t* stop);

namespace {

constexpr std::size_t kCounters = std::size_t{1} << 16;
alignas(64) std::uint8_t g_counters[kCounters];

struct Registration {
  Registration() { __sanitizer_cov_8bit_counters_init(g_counters, g_counters + kCounters); }
} g_registration;

}  // namespace

extern "C" void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  ++g_counters[(pc ^ (pc >> 13)) & (kCounters - 1)];
}
