// Checks of user buffers shared by the MDL exports and the I/O manager's own probes.
#pragma once
#include <cstdint>

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

}  // namespace ntbox::nt::mm
