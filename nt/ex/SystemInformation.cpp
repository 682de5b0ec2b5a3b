// NtQuerySystemInformation: the classes programs ask at start (basic, processor, time of day, the
// emulation variants WoW-aware code asks); the others are STATUS_INVALID_INFO_CLASS, which
// Windows' callers of optional classes expect from older systems.
#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/ExExports.h"
#include "nt/ke/KeExports.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/Probe.h"

namespace ntbox::nt {
namespace {

constexpr ULONG SystemBasicInformation = 0, SystemCpuInformation = 1, SystemTimeOfDayInformation = 3;
constexpr ULONG SystemEmulationBasicInformation = 0x3E, SystemEmulationProcessorInformation = 0x3F;
constexpr ULONG SystemNativeBasicInformation = 0x72;

template <class T>
void Put(std::uint8_t* at, std::size_t offset, T value) {
  std::memcpy(at + offset, &value, sizeof value);
}

std::size_t BasicInformation(std::uint8_t* out) {
  const ULONG processors = Kernel::Current().config().processors;
  Put<ULONG>(out, 0x04, 156250);                       // TimerResolution: 15.625 ms in 100 ns
  Put<ULONG>(out, 0x08, 0x1000);                       // PageSize
  Put<ULONG>(out, 0x0C, 0x100000);                     // NumberOfPhysicalPages: 4 GiB
  Put<ULONG>(out, 0x10, 1);                            // LowestPhysicalPageNumber
  Put<ULONG>(out, 0x14, 0x100000);                     // HighestPhysicalPageNumber
  Put<ULONG>(out, 0x18, 0x10000);                      // AllocationGranularity
  Put<std::uint64_t>(out, 0x20, 0x10000);              // MinimumUserModeAddress
  Put<std::uint64_t>(out, 0x28, mm::kHighestUserAddress);
  Put<std::uint64_t>(out, 0x30, (processors >= 64 ? ~0ull : (1ull << processors) - 1));
  Put<std::uint8_t>(out, 0x38, static_cast<std::uint8_t>(processors));
  return 0x40;
}

std::size_t CpuInformation(std::uint8_t* out) {
  Put<USHORT>(out, 0x0, 9);  // PROCESSOR_ARCHITECTURE_AMD64
  Put<USHORT>(out, 0x2, 6);  // ProcessorLevel
  Put<USHORT>(out, 0x4, 0);  // ProcessorRevision
  Put<USHORT>(out, 0x6, static_cast<USHORT>(Kernel::Current().config().processors));
  Put<ULONG>(out, 0x8, 0);   // ProcessorFeatureBits
  return 0xC;
}

std::size_t TimeOfDayInformation(std::uint8_t* out) {
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  const auto sinceBoot = static_cast<std::int64_t>(KeQueryInterruptTime());
  Put<std::int64_t>(out, 0x00, now.QuadPart - sinceBoot);  // BootTime
  Put<std::int64_t>(out, 0x08, now.QuadPart);              // CurrentTime
  Put<std::int64_t>(out, 0x10, 0);                         // TimeZoneBias: UTC
  return 0x30;
}

}  // namespace

NTSTATUS NTAPI NtQuerySystemInformation(ULONG SystemInformationClass, PVOID SystemInformation, ULONG Length,
                                        ULONG* ReturnLength) {
  std::uint8_t info[0x40] = {};
  std::size_t size = 0;
  switch (SystemInformationClass) {
    case SystemBasicInformation:
    case SystemEmulationBasicInformation:
    case SystemNativeBasicInformation: size = BasicInformation(info); break;
    case SystemCpuInformation:
    case SystemEmulationProcessorInformation: size = CpuInformation(info); break;
    case SystemTimeOfDayInformation: size = TimeOfDayInformation(info); break;
    default: return STATUS_INVALID_INFO_CLASS;
  }
  if (ReturnLength && !mm::WriteCaller(ReturnLength, static_cast<ULONG>(size))) return STATUS_ACCESS_VIOLATION;
  if (Length < size) return STATUS_INFO_LENGTH_MISMATCH;
  return mm::WriteCaller(SystemInformation, info, size) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

}  // namespace ntbox::nt
