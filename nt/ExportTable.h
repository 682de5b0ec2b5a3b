// The kernel's export tables as data: one row per export of ntoskrnl.exe and hal.dll, with its
// implementation and the highest IRQL at which the documentation allows the call (the verifier
// reads the same rows). Adding an API is one row plus its implementation and a test.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt {

struct Export {
  std::string_view module;  // "ntoskrnl.exe" or "hal.dll"
  std::string_view name;
  void* address;
  KIRQL maxIrql;
  bool data;  // a variable (NtBuildNumber ...) rather than a function
};

std::span<const Export> Exports();
// bcdedit /debug: what the KdDebuggerEnabled export reads.
void SetKdDebuggerEnabled(bool enabled);
// A debugger attached (ntbox kd): what KdDebuggerNotPresent reads (FALSE while one is).
void SetKdDebuggerPresent(bool present);
// bcdedit /set safeboot: what the InitSafeBootMode export reads.
void SetInitSafeBootMode(ULONG mode);
// Case-insensitive on the DLL name, as the Windows loader is.
const Export* FindExport(std::string_view dll, std::string_view name);
// Ordinals are 1 + the row's position among its module's rows (ntbox's own numbering).
const Export* FindExportByOrdinal(std::string_view dll, std::uint16_t ordinal);
std::optional<std::uint16_t> OrdinalOf(const Export& e);
// Any module's export of that name (MmGetSystemRoutineAddress searches ntoskrnl and hal).
const Export* FindSystemRoutine(std::string_view name);

// Data exports whose values follow the kernel's configuration.
void SetExportedBuildNumber(ULONG build);
void SetExportedProcessorCount(std::uint32_t count);

}  // namespace ntbox::nt
