// Driver Verifier's configuration, as verifier.exe sets it (the registry's Memory Management key,
// applied at boot). ntbox verifies every driver with the standard checks unless told otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ntbox::nt::vf {

// verifier.exe's flag bits.
namespace flags {
constexpr std::uint32_t kSpecialPool = 0x1;
constexpr std::uint32_t kIrqlChecking = 0x2;
constexpr std::uint32_t kPoolTracking = 0x8;
constexpr std::uint32_t kIoVerification = 0x10;
constexpr std::uint32_t kDeadlockDetection = 0x20;
constexpr std::uint32_t kDmaChecking = 0x80;
constexpr std::uint32_t kSecurityChecks = 0x100;
constexpr std::uint32_t kMiscellaneousChecks = 0x800;
constexpr std::uint32_t kDdiCompliance = 0x20000;
constexpr std::uint32_t kStandard = 0x209BB;  // verifier /standard
}  // namespace flags

struct VerifierConfig {
  std::uint32_t flags = flags::kStandard;  // 0: off
  bool allDrivers = true;                  // VerifyDrivers = "*"
  std::vector<std::string> drivers;        // image file names ("x.sys") otherwise

  bool Verifies(std::string_view fileName) const;
  bool On(std::string_view fileName, std::uint32_t flag) const { return (flags & flag) && Verifies(fileName); }
};

// Whether the verifier watches the driver whose code is at address with flag on (the return
// address of an export's caller: the checks that Windows makes only under the verifier).
bool Watches(std::uint64_t address, std::uint32_t flag);

}  // namespace ntbox::nt::vf
