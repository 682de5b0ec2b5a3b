// `ntbox reg`'s changes while the machine runs: made through the kernel's registry services (as
// reg.exe's go through advapi32 to NtSetValueKey), so drivers' registry callbacks hear them and may
// refuse them. Paths are the machine registry's ("MACHINE\SOFTWARE\Vendor"). Each returns the
// NTSTATUS the services gave; call under the kernel lock from an attached thread.
#pragma once
#include <string_view>

#include "machine/Registry.h"
#include "nt/Types.h"

namespace ntbox::machine::via_kernel {

nt::NTSTATUS CreateKey(std::string_view path);  // with the parents it lacks
nt::NTSTATUS SetValue(std::string_view path, const RegValue& value);  // creates the key
nt::NTSTATUS DeleteValue(std::string_view path, std::string_view name);
nt::NTSTATUS DeleteAllValues(std::string_view path);
// The key and everything below it, deepest first (the services delete one empty key at a time).
nt::NTSTATUS DeleteKey(Registry& registry, std::string_view path);

}  // namespace ntbox::machine::via_kernel
