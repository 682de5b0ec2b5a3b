// NTSTATUS → Win32 error (RtlNtStatusToDosError), and the English text Windows' FormatMessage
// gives common Win32 errors (what sc.exe and reg.exe print).
#pragma once
#include <cstdint>
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt {

constexpr ULONG ERROR_MR_MID_NOT_FOUND = 317;  // what Windows answers for an unmapped status

ULONG NTAPI RtlNtStatusToDosError(NTSTATUS Status);
// The message text, or empty when ntbox has none for the code.
std::string_view Win32ErrorMessage(std::uint32_t code);

}  // namespace ntbox::nt
