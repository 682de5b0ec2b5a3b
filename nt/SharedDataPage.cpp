#include "nt/SharedDataPage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <new>

namespace ntbox::nt {

SharedDataPage::SharedDataPage() {
  const int fd = memfd_create("ntbox-kuser-shared-data", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 4096) != 0) {
    if (fd >= 0) close(fd);
    throw std::bad_alloc();
  }
  void* rw = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (rw == MAP_FAILED || ro == MAP_FAILED) {
    if (rw != MAP_FAILED) munmap(rw, 4096);
    if (ro != MAP_FAILED) munmap(ro, 4096);
    throw std::bad_alloc();
  }
  writable_ = static_cast<std::uint8_t*>(rw);
  readOnly_ = static_cast<const std::uint8_t*>(ro);
}

SharedDataPage::~SharedDataPage() {
  stop_.store(true);
  if (clock_.joinable()) clock_.join();
  munmap(writable_, 4096);
  munmap(const_cast<std::uint8_t*>(readOnly_), 4096);
}

void SharedDataPage::StartClock(std::function<void()> refresh) {
  if (clock_.joinable()) return;
  clock_ = std::thread([this, refresh = std::move(refresh)] {
    // A host thread: it never runs driver code, holds no kernel lock, only writes the times.
    while (!stop_.load(std::memory_order_relaxed)) {
      refresh();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

}  // namespace ntbox::nt
