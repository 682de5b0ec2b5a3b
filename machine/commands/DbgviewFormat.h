// How dbgview prints a debug record: DebugView's columns (sequence, seconds, text), tab-separated
// as DebugView saves its log.
#pragma once
#include <string>

#include "machine/DebugLog.h"

namespace ntbox::machine {

std::string FormatDebugLine(const LoggedRecord& record);
// The same record as one line of JSON (dbgview --json): sequence, seconds, component, level, passed,
// text, and "marker" for a boot or a stop.
std::string DebugLineJson(const LoggedRecord& record);

}  // namespace ntbox::machine
