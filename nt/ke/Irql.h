// The rules for changing IRQL, shared by the exported routines (KfRaiseIrql, KeLowerIrql) and the
// trap handler's emulation of the inline cr8 writes mingw's headers compile them to.
#pragma once
#include <optional>

#include "nt/Types.h"
#include "support/FunctionRef.h"

namespace ntbox::nt::ke {

enum class IrqlChange { kRaise, kLower };

struct IrqlViolation {
  ULONG code = 0;
  ULONG64 parameters[4] = {};
  const char* detail = "";
};

// What a change from current to requested breaks, if anything. verified: whether the verifier's
// IRQL checking watches the caller (its 0xC4 subcodes 0x30/0x31), asked only when a rule is broken
// (the lookup is off the hot path); exported: the call went through an export, which checks on its
// own (0x9/0xA) where the inline form, like the hardware, cannot.
std::optional<IrqlViolation> CheckIrqlChange(IrqlChange change, KIRQL current, ULONG64 requested, bool inDpcRoutine,
                                             FunctionRef<bool()> verified, bool exported);

}  // namespace ntbox::nt::ke
