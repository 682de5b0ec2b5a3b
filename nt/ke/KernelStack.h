// The kernel stack driver code runs on: the host thread's own stack (a program's thread enters the
// kernel on it too, user/SystemCall.h).
#pragma once
#include <cstdint>

namespace ntbox::nt::ke {

struct StackLimits {
  std::uint64_t low = 0;   // lowest usable address
  std::uint64_t high = 0;  // one past the highest: where the stack starts
};
StackLimits CurrentStackLimits();

}  // namespace ntbox::nt::ke
