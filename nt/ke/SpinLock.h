// The spin lock core every spin lock API shares (plain, queued, the I/O manager's cancel lock).
//
// Driver code runs one thread at a time under the kernel lock (ke/Dispatcher.h), and a holder at
// DISPATCH_LEVEL cannot wait, so a lock found held when acquired is never released: on Windows
// that processor would spin forever. ntbox stops instead: a self-deadlock (the owner acquires
// again) is the verifier's 0xC4/0x1000; a lock another thread holds is the watchdog's 0x133.
// The lock word holds the owner's KTHREAD address (non-zero while held, as drivers test it).
#pragma once
#include <cstdint>
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt::ke {

void AcquireSpinLock(KSPIN_LOCK* lock, ULONG64 caller);
bool TryAcquireSpinLock(KSPIN_LOCK* lock, ULONG64 caller);
void ReleaseSpinLock(KSPIN_LOCK* lock, ULONG64 caller);

// The verifier's rule at a DPC or dispatch routine's return: no spin lock acquired in it may still
// be held (0xC4/0x100A naming the lock and where it was taken). heldBefore: the count at entry.
void CheckReturnWithoutSpinLock(std::uint32_t heldBefore, ULONG64 routine, std::string_view kind);

}  // namespace ntbox::nt::ke
