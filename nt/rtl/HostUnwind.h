// One step out of a host function that keeps no frame pointer (the C library's, libstdc++'s), by
// its DWARF call-frame information (.eh_frame, found through libgcc): the CFA, the return address
// and rbp as the function saved them. Reports' stacks go on through such frames into ntbox's own
// code and the driver that called it (a stack overflow inside malloc, say).
#pragma once
#include "nt/rtl/Exception.h"

namespace ntbox::nt {

// c's Rip, Rsp and Rbp become the caller's; false (c unchanged) when the code has no usable CFI.
// atReturnAddress: c.Rip is a return address (the call is the instruction before it), not where
// the thread stopped.
bool HostCfiStep(CONTEXT& c, bool atReturnAddress);

}  // namespace ntbox::nt
