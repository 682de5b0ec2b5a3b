// Turns a BugCheck record into the report people read: WinDbg's "!analyze -v" layout with the
// code, name, parameters and their meaning, the faulting module+offset and instruction, the
// registers and the last debug output.
#pragma once
#include <string>

#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"

namespace ntbox::nt {

std::string FormatBugCheckReport(const BugCheck& record, Kernel& kernel);
// The same report as one JSON object, for tools: parameters with their meaning, the faulting
// symbol, the stack, registers, the last debug output and the pool still allocated.
std::string FormatBugCheckJson(const BugCheck& record, Kernel& kernel);
// One line: "*** STOP: 0x0000007E (0xFFFFFFFFC0000005,...) SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"
std::string FormatStopLine(const BugCheck& record);

}  // namespace ntbox::nt
