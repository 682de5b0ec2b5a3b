#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

PVOID NTAPI MmGetSystemRoutineAddress(UNICODE_STRING* SystemRoutineName);

}  // namespace ntbox::nt
