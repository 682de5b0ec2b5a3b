// KUSER_SHARED_DATA as the host holds it: one page in two mappings of the same memory, one the
// kernel writes (its times refreshed on demand, and every millisecond by a clock thread once a
// driver reads it natively) and one that drivers read, read-only: the load-time rewriter
// (cpu/Rewriter.h) points a driver's constants for 0xFFFFF78000000000 at it.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

namespace ntbox::nt {

class SharedDataPage {
 public:
  SharedDataPage();
  ~SharedDataPage();
  SharedDataPage(const SharedDataPage&) = delete;
  SharedDataPage& operator=(const SharedDataPage&) = delete;

  std::uint8_t* writable() { return writable_; }
  const std::uint8_t* readOnly() const { return readOnly_; }
  // Whether address lies in the read-only view (a driver's access through a rewritten constant).
  bool InReadOnlyView(std::uint64_t address) const {
    const auto base = reinterpret_cast<std::uint64_t>(readOnly_);
    return readOnly_ && address >= base && address < base + 4096;
  }

  // Calls refresh every millisecond from a thread of its own, from the first call until the page
  // goes; later calls do nothing.
  void StartClock(std::function<void()> refresh);

 private:
  std::uint8_t* writable_ = nullptr;
  const std::uint8_t* readOnly_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread clock_;
};

}  // namespace ntbox::nt
