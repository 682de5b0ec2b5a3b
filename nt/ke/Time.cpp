#include <ctime>

#include "nt/Kernel.h"
#include "nt/ke/KeExports.h"
#include "nt/Status.h"
#include "nt/mm/Probe.h"

namespace ntbox::nt {

void NTAPI KeQuerySystemTime(LARGE_INTEGER* CurrentTime) {
  CurrentTime->QuadPart = static_cast<LONGLONG>(Kernel::SystemTime());
}

void NTAPI KeQuerySystemTimePrecise(LARGE_INTEGER* CurrentTime) {
  CurrentTime->QuadPart = static_cast<LONGLONG>(Kernel::SystemTime());
}

void NTAPI KeQueryTickCount(LARGE_INTEGER* TickCount) {
  TickCount->QuadPart = static_cast<LONGLONG>(Kernel::Current().InterruptTime() / Kernel::kTimeIncrement);
}

ULONG NTAPI KeQueryTimeIncrement() { return Kernel::kTimeIncrement; }

ULONGLONG NTAPI KeQueryInterruptTime() { return Kernel::Current().InterruptTime(); }

LARGE_INTEGER NTAPI KeQueryPerformanceCounter(LARGE_INTEGER* PerformanceFrequency) {
  if (PerformanceFrequency) PerformanceFrequency->QuadPart = kPerformanceFrequency;
  LARGE_INTEGER counter;
  counter.QuadPart = static_cast<LONGLONG>(Kernel::Current().InterruptTime());  // 100 ns units
  return counter;
}

void NTAPI KeStallExecutionProcessor(ULONG MicroSeconds) {
  // A stall spins, as on Windows: the caller may be at any IRQL and must not be descheduled.
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  const auto deadline = start.tv_sec * 1000000000ll + start.tv_nsec + MicroSeconds * 1000ll;
  for (;;) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec * 1000000000ll + now.tv_nsec >= deadline) break;
    __builtin_ia32_pause();
  }
}

NTSTATUS NTAPI NtQuerySystemTime(LARGE_INTEGER* SystemTime) {
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  return mm::WriteCaller(SystemTime, now) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtQueryPerformanceCounter(LARGE_INTEGER* PerformanceCounter, LARGE_INTEGER* PerformanceFrequency) {
  LARGE_INTEGER frequency{};
  const LARGE_INTEGER counter = KeQueryPerformanceCounter(&frequency);
  if (!mm::WriteCaller(PerformanceCounter, counter)) return STATUS_ACCESS_VIOLATION;
  if (PerformanceFrequency && !mm::WriteCaller(PerformanceFrequency, frequency)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
