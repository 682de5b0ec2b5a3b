// Where the running ntbox executable is: its bin/ directory, beside which lib/ntbox holds the DLLs
// programs run on and bin/ the helpers. A process about to lose access to it by name (a machine
// server started by root gives root up, and the build or install tree may sit under /root) pins it
// first: from then on the directory is reached through a descriptor (/proc/self/fd/N/bin).
#pragma once
#include <filesystem>

#include "support/Result.h"

namespace ntbox {

std::filesystem::path ExecutableDirectory();
Result<void> PinExecutableDirectory();

}  // namespace ntbox
