// How dbgview prints a debug record: DebugView's columns (sequence, seconds, text), tab-separated
// as DebugView saves its log.
#pragma once
#include <string>

#include "machine/DebugLog.h"

namespace ntbox::machine {

std::string FormatDebugLine(const LoggedRecord& record);

}  // namespace ntbox::machine
