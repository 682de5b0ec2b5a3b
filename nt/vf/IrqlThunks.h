// The verifier's IRQL rule at the import boundary: a verified driver's imports are bound to a thunk
// per export that compares the caller's IRQL (gs:[0x50], the KPCR's Irql) with the export's highest
// allowed IRQL from the export table before it jumps to the export. A call above that level stops
// the machine as Windows' verifier does (IRQL checking makes the paged routine fault): bugcheck 0xA
// IRQL_NOT_LESS_OR_EQUAL at the routine's address, naming the driver's call site.
#pragma once
#include "nt/ExportTable.h"

namespace ntbox::nt::vf {

// What a verified driver's import of e binds to: a checking thunk, or the export itself when any
// IRQL is allowed (or e is a variable).
void* IrqlCheckedAddress(const Export& e);

}  // namespace ntbox::nt::vf
