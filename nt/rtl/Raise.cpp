#include "nt/rtl/Raise.h"

#include "nt/Status.h"
#include "nt/ke/BugCheck.h"

namespace ntbox::nt {

// Until a driver's __except handlers are searched, a raised status is an unhandled exception.
void NTAPI ExRaiseStatus(NTSTATUS Status) {
  RaiseBugCheck(bugcheck::KMODE_EXCEPTION_NOT_HANDLED,
                static_cast<ULONG64>(static_cast<std::int64_t>(Status)),
                reinterpret_cast<ULONG64>(__builtin_return_address(0)), 0, 0, "exception raised with no handler");
}

void NTAPI RtlRaiseStatus(NTSTATUS Status) { ExRaiseStatus(Status); }

}  // namespace ntbox::nt
