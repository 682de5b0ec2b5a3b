// Raising a software exception from kernel code on a driver's behalf (ExRaiseStatus,
// ProbeForRead, MmProbeAndLockPages): the exception goes to the driver's __except handlers,
// found by unwinding its frames; without one the machine stops as Windows' does.
#pragma once
#include "nt/Types.h"

namespace ntbox::nt {

[[noreturn]] void NTAPI ExRaiseStatus(NTSTATUS Status);
[[noreturn]] void NTAPI RtlRaiseStatus(NTSTATUS Status);

}  // namespace ntbox::nt
