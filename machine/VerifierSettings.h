// Driver Verifier's settings as verifier.exe stores them: VerifyDriverLevel (the flags) and
// VerifyDrivers ("*" or file names separated by spaces) under Session Manager\Memory Management.
// They apply at boot. A new machine gets /standard for every driver; /reset deletes the values,
// which turns the verifier off, as on Windows.
#pragma once
#include "machine/Registry.h"
#include "nt/vf/Verifier.h"
#include "support/Result.h"

namespace ntbox::machine {

inline constexpr char kMemoryManagementKey[] =
    "MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Memory Management";

// Writes the default settings when the key has never existed (a machine's first boot).
Result<void> SeedVerifierSettings(Registry& registry);
nt::vf::VerifierConfig ReadVerifierSettings(Registry& registry);
Result<void> WriteVerifierSettings(Registry& registry, const nt::vf::VerifierConfig& config);
Result<void> ResetVerifierSettings(Registry& registry);

}  // namespace ntbox::machine
