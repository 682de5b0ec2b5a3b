// Where driver code enters the kernel through an import: one entry thunk per export row. Every
// thunk puts the host's CPU state back first (cpu/HostState.h: the direction flag, AC and TF, the FS
// and GS selectors), since an export is host code compiled for Linux. For a verified driver the
// thunk then compares the caller's IRQL (gs:[0x50], the KPCR's Irql) with the export's highest
// allowed IRQL from the export table: a call above it stops the machine as Windows' verifier does
// (IRQL checking makes the paged routine fault), bugcheck 0xA IRQL_NOT_LESS_OR_EQUAL at the
// routine's address, naming the driver's call site.
#pragma once
#include "nt/ExportTable.h"

namespace ntbox::nt {

// What a driver's import of e binds to (and MmGetSystemRoutineAddress returns): its entry thunk,
// with the IRQL check when checkIrql and the export has a limit below HIGH_LEVEL; a variable itself.
void* ExportEntry(const Export& e, bool checkIrql);
// The export an entry thunk leads to, when address is one's start; else address itself.
std::uint64_t ThroughEntryThunk(std::uint64_t address);

}  // namespace ntbox::nt
