// Files named on a command line are input the user may get wrong or point anywhere: a FIFO that
// never delivers, /dev/zero that never ends, a file far larger than anything of its kind. Reading
// one whole opens it without blocking, takes regular files only and stops at a limit, with an
// error that says which of these it was.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "support/Result.h"

namespace ntbox {

// The whole regular file at path, at most maxBytes; what: "a driver image", "a .reg file" ... for
// the messages.
// A descriptor of path for reading whatever it is (O_NONBLOCK: a FIFO with no writer does not
// block the open), or -1: what a client opens to hand a file over (support/HostFiles.h).
int OpenInputFile(const std::string& path);

Result<std::vector<std::uint8_t>> ReadInputFile(const std::string& path, std::uint64_t maxBytes,
                                                const std::string& what);

}  // namespace ntbox
