#include "nt/rtl/Raise.h"

#include "nt/Status.h"
#include "nt/ke/BugCheck.h"
#include "nt/rtl/Exception.h"

namespace ntbox::nt {

// Drivers reach these through capturing entry points (rtl/Exception.cpp): the exception happens
// at the driver's call and goes to its __except handlers.
void NTAPI ExRaiseStatus(NTSTATUS Status) { RaiseAtDriverCall(Status); }

void NTAPI RtlRaiseStatus(NTSTATUS Status) { ExRaiseStatus(Status); }

}  // namespace ntbox::nt
