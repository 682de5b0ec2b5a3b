// The current thread's kernel stack, as drivers ask before deep recursion (IoGetRemainingStackSize
// is the WDK's inline over IoGetStackLimits).
#include "nt/io/IoExports.h"
#include "nt/ke/KernelStack.h"

namespace ntbox::nt {

void NTAPI IoGetStackLimits(ULONG_PTR* LowLimit, ULONG_PTR* HighLimit) {
  const ke::StackLimits limits = ke::CurrentStackLimits();
  *LowLimit = limits.low;
  *HighLimit = limits.high;
}

PVOID NTAPI IoGetInitialStack() { return reinterpret_cast<PVOID>(ke::CurrentStackLimits().high); }

}  // namespace ntbox::nt
