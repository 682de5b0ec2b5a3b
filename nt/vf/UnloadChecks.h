// What Driver Verifier checks once a driver's DriverUnload has returned: nothing of the driver may
// still be live. A timer or DPC in its image is TIMER_OR_DPC_INVALID (0xC7), a queued work item,
// a running system thread or a registered notify routine in its code is 0xCE, and (with pool
// tracking) pool it never freed is 0xC4/0x62. Unverified drivers are left to the caller's leak notices.
#pragma once
#include <cstdint>

namespace ntbox::nt {
struct Module;
}

namespace ntbox::nt::vf {

// Runs on the unloading thread inside its guarded call; raises the bugcheck it finds.
void CheckUnload(const Module& module, std::uint64_t unloadRoutine);

}  // namespace ntbox::nt::vf
