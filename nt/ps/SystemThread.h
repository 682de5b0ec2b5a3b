// System threads (PsCreateSystemThread): host threads that run a driver's start routine at
// PASSIVE_LEVEL in the System process. Each has a thread object drivers reference and wait on;
// it is signaled when the thread ends (its routine returns or it calls PsTerminateSystemThread).
#pragma once
#include <cstdint>
#include <list>
#include <vector>
#include <thread>

#include "nt/Types.h"

namespace ntbox::nt::ps {

using PKSTART_ROUTINE = void(NTAPI*)(PVOID StartContext);

class SystemThreads {
 public:
  SystemThreads() = default;
  // Joins the threads; the kernel is stopping, so each ends at its next wait. Call without the
  // kernel lock.
  ~SystemThreads();
  SystemThreads(const SystemThreads&) = delete;
  SystemThreads& operator=(const SystemThreads&) = delete;

  // Under the kernel lock. Returns the thread object (referenced for the caller) and its id.
  void* Create(PKSTART_ROUTINE routine, PVOID context, std::uint64_t& id);
  // Threads whose start routine lies in [begin, end) and that still run (the unload check).
  std::vector<std::uint64_t> LiveIn(std::uint64_t begin, std::uint64_t end) const;  // start routines
  // Threads still running, and one's start routine.
  std::size_t Running(std::uint64_t* routine) const;

 private:
  struct Entry {
    std::thread thread;
    std::uint64_t routine = 0;
    bool running = true;
  };
  std::list<Entry> threads_;
  std::uint32_t nextProcessor_ = 0;
};

}  // namespace ntbox::nt::ps
