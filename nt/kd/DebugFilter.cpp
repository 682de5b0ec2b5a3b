#include "nt/kd/DebugFilter.h"

#include <array>

#include "support/Text.h"

namespace ntbox::nt {
namespace {

// DPFLTR_TYPE: component ids are positions in this list (DPFLTR_<NAME>_ID).
constexpr auto kComponents = std::to_array<std::string_view>({
    "SYSTEM", "SMSS", "SETUP", "NTFS", "FSTUB", "CRASHDUMP", "CDAUDIO", "CDROM", "CLASSPNP",
    "DISK", "REDBOOK", "STORPROP", "SCSIPORT", "SCSIMINIPORT", "CONFIG", "I8042PRT", "SERMOUSE",
    "LSERMOUS", "KBDHID", "MOUHID", "KBDCLASS", "MOUCLASS", "TWOTRACK", "WMILIB", "ACPI", "AMLI",
    "HALIA64", "VIDEO", "SVCHOST", "VIDEOPRT", "TCPIP", "DMSYNTH", "NTOSPNP", "FASTFAT", "SAMSS",
    "PNPMGR", "NETAPI", "SCSERVER", "SCCLIENT", "SERIAL", "SERENUM", "UHCD", "RPCPROXY", "AUTOCHK",
    "DCOMSS", "UNIMODEM", "SIS", "FLTMGR", "WMICORE", "BURNENG", "IMAPI", "SXS", "FUSION",
    "IDLETASK", "SOFTPCI", "TAPE", "MCHGR", "IDEP", "PCIIDE", "FLOPPY", "FDC", "TERMSRV",
    "W32TIME", "PREFETCHER", "RSFILTER", "FCPORT", "PCI", "DMIO", "DMCONFIG", "DMADMIN",
    "WSOCKTRANSPORT", "VSS", "PNPMEM", "PROCESSOR", "DMSERVER", "SR", "INFINIBAND", "IHVDRIVER",
    "IHVVIDEO", "IHVAUDIO", "IHVNETWORK", "IHVSTREAMING", "IHVBUS", "HPS", "RTLTHREADPOOL", "LDR",
    "TCPIP6", "ISAPNP", "SHPC", "STORPORT", "STORMINIPORT", "PRINTSPOOLER", "VSSDYNDISK",
    "VERIFIER", "VDS", "VDSBAS", "VDSDYN", "VDSDYNDR", "VDSLDR", "VDSUTIL", "DFRGIFC", "DEFAULT",
    "MM", "DFSC", "WOW64", "ALPC", "WDI", "PERFLIB", "KTM", "IOSTRESS", "HEAP", "WHEA", "USERGDI",
    "MMCSS", "TPM", "THREADORDER", "ENVIRON", "EMS", "WDT", "FVEVOL", "NDIS", "NVCTRACE", "LUAFV",
    "APPCOMPAT", "USBSTOR", "SBP2PORT", "COVERAGE", "CACHEMGR", "MOUNTMGR", "CFR", "TXF", "KSECDD",
    "FLTREGRESS", "MPIO", "MSDSM", "UDFS", "PSHED", "STORVSP", "LSASS", "SSPICLI", "CNG", "EXFAT",
    "FILETRACE", "XSAVE", "SE", "DRIVEEXTENDER",
});

}  // namespace

std::string_view DebugComponentName(ULONG component) {
  return component < kComponents.size() ? kComponents[component] : std::string_view{};
}

std::optional<ULONG> DebugComponentId(std::string_view name) {
  const std::string upper = AsciiUpper(name);
  for (ULONG i = 0; i < kComponents.size(); ++i) {
    if (kComponents[i] == upper) return i;
  }
  return std::nullopt;
}

std::size_t DebugComponentCount() { return kComponents.size(); }

void DebugFilter::SetMask(ULONG component, ULONG mask) {
  if (component == kWin2000) {
    win2000_ = mask;
  } else if (component < masks_.size()) {
    masks_[component] = mask;
  }
}

ULONG DebugFilter::Mask(ULONG component) const {
  if (component == kWin2000) return win2000_;
  return component < masks_.size() ? masks_[component] : 0;
}

bool DebugFilter::Passes(ULONG component, ULONG level) const {
  const ULONG bits = level <= 31 ? (1u << level) : level;
  if (bits & win2000_) return true;
  return component < masks_.size() && (bits & masks_[component]) != 0;
}

}  // namespace ntbox::nt
