// What Driver Verifier checks once a driver's DriverUnload has returned: nothing of the driver may
// still be live. A timer or DPC in its image is TIMER_OR_DPC_INVALID (0xC7), a queued work item,
// a running system thread or a registered notify routine in its code is 0xCE, and (with pool
// tracking) pool it never freed is 0xC4/0x62. Device objects and symbolic links left behind are
// no stop on Windows (the driver just stays in memory): they are reported in the debug output.
// Unverified drivers are left to the caller's leak notices.
#pragma once
#include <cstdint>

namespace ntbox::nt {
struct Module;
struct DRIVER_OBJECT;
}

namespace ntbox::nt::vf {

// Runs on the unloading thread inside its guarded call; raises the bugcheck it finds.
void CheckUnload(const Module& module, const DRIVER_OBJECT* driver, std::uint64_t unloadRoutine);

}  // namespace ntbox::nt::vf
