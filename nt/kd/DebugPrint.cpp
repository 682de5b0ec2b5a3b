#include "nt/kd/DebugPrint.h"
#include "nt/kd/Debugger.h"

#include <algorithm>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/mm/Probe.h"
#include "nt/rtl/Printf.h"
#include "nt/support/Symbolize.h"

namespace ntbox::nt {
namespace {

ULONG Emit(PCSTR prefix, ULONG component, ULONG level, PCSTR format, char* arguments) {
  rtl::MsVaList args(arguments);
  std::string text = prefix ? prefix : "";
  text += rtl::FormatA(format, args);
  if (text.size() > kDbgPrintMaxLength) text.resize(kDbgPrintMaxLength);
  Kernel::Current().DebugOutput(component, level, std::move(text));
  return STATUS_SUCCESS;
}

}  // namespace

int NTAPI WineDbgWrite(PCSTR String, ULONG Length) {
  constexpr ULONG kMaxLine = 4096;
  std::string text(std::min(Length, kMaxLine), '\0');
  if (!mm::ReadCaller(text.data(), String, text.size())) return 0;
  Kernel::Current().DebugOutput(kNtboxComponent, 0, "wine: " + text);
  return static_cast<int>(Length);
}

ULONG NTAPI DbgPrint(PCSTR Format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, Format);
  const ULONG status = Emit(nullptr, kDpfltrDefaultId, kDpfltrInfoLevel, Format, args);
  __builtin_ms_va_end(args);
  return status;
}

ULONG NTAPI DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, Format);
  const ULONG status = Emit(nullptr, ComponentId, Level, Format, args);
  __builtin_ms_va_end(args);
  return status;
}

ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, char* Arguments) {
  return Emit(nullptr, ComponentId, Level, Format, Arguments);
}

ULONG NTAPI vDbgPrintExWithPrefix(PCSTR Prefix, ULONG ComponentId, ULONG Level, PCSTR Format,
                                  char* Arguments) {
  return Emit(Prefix, ComponentId, Level, Format, Arguments);
}

void ReportBreakpoint(std::uint64_t address, ULONG status) {
  std::string text = fmt::format("Break instruction exception - code {:08x} (first chance) at {}",
                                 static_cast<std::uint32_t>(STATUS_BREAKPOINT), Symbolize(address));
  if (status) text += fmt::format(" (status {:#x})", status);
  text += "; no debugger is attached, execution continues\n";
  Kernel::Current().DebugOutput(kNtboxComponent, 0, std::move(text));
}

// With a debugger attached, a real int 3 here: it stops in nt!DbgBreakPoint, as on Windows.
void NTAPI DbgBreakPoint() {
  if (kd::Attached()) {
    asm volatile("int3");
    return;
  }
  ReportBreakpoint(reinterpret_cast<std::uint64_t>(__builtin_return_address(0)), 0);
}

void NTAPI DbgBreakPointWithStatus(ULONG Status) {
  if (kd::Attached()) {
    asm volatile("int3");
    return;
  }
  ReportBreakpoint(reinterpret_cast<std::uint64_t>(__builtin_return_address(0)), Status);
}

}  // namespace ntbox::nt
