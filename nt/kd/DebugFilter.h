// The kernel's debug print filter: one mask per DPFLTR component plus the system-wide WIN2000
// mask. DbgPrintEx(Component, Level): a Level of 0–31 is a bit number, a larger Level is a mask;
// the message reaches a debugger when that mask meets the WIN2000 mask or the component's mask.
// DbgPrint and KdPrint are DbgPrintEx(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL). Masks come from
// HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Debug Print Filter at boot.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt {

// "IHVDRIVER" for 77; empty when out of range.
std::string_view DebugComponentName(ULONG component);
std::optional<ULONG> DebugComponentId(std::string_view name);  // case-insensitive
std::size_t DebugComponentCount();

class DebugFilter {
 public:
  static constexpr ULONG kWin2000 = 0xFFFFFFFE;  // pseudo-id of the system-wide mask
  void SetMask(ULONG component, ULONG mask);
  ULONG Mask(ULONG component) const;
  bool Passes(ULONG component, ULONG level) const;

 private:
  ULONG win2000_ = 1;  // errors (level 0) pass by default, as on Windows
  std::array<ULONG, 160> masks_{};
};

}  // namespace ntbox::nt
