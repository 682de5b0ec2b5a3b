// Checks of user buffers shared by the MDL exports and the I/O manager's own probes.
#pragma once
#include <cstdint>
#include <optional>

#include "nt/io/IoTypes.h"

namespace ntbox::nt::mm {

// [va, va+length) lies below MmUserProbeAddress without wrapping.
bool IsUserRange(std::uint64_t va, std::uint64_t length);
// Touches every page of [va, va+length) (and writes each byte back for write access); false
// when any of it is not accessible that way. Never faults.
bool TouchPages(std::uint64_t va, std::uint64_t length, bool write);
// The PFN array after the MDL, for the pages it spans.
void FillPfns(MDL* mdl);
// Probes the MDL's pages for the access and marks it locked for the current process; false
// (and nothing changed) when a page is not accessible.
bool LockPages(MDL* mdl, bool write);

// A system service's access to its caller's memory, as Windows' probe-and-capture in a __try: for
// a caller in user mode (ExGetPreviousMode) the range must lie below MmUserProbeAddress; either way
// the copy never faults. False: STATUS_ACCESS_VIOLATION for the service to return.
bool ReadCaller(void* to, const void* from, std::size_t size);
bool WriteCaller(void* to, const void* from, std::size_t size);
template <class T>
std::optional<T> ReadCaller(const T* from) {
  T value;
  if (!ReadCaller(&value, from, sizeof(T))) return std::nullopt;
  return value;
}
template <class T>
bool WriteCaller(T* to, const T& value) {
  return WriteCaller(to, &value, sizeof(T));
}

}  // namespace ntbox::nt::mm
