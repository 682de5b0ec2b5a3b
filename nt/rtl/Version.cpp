#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/rtl/RtlExports.h"

namespace ntbox::nt {
namespace {
constexpr ULONG kPlatformWin32Nt = 2;          // VER_PLATFORM_WIN32_NT
constexpr USHORT kSuiteSingleUserTs = 0x0100;  // VER_SUITE_SINGLEUSERTS, as on a desktop
constexpr UCHAR kNtWorkstation = 1;            // VER_NT_WORKSTATION
}  // namespace

NTSTATUS NTAPI RtlGetVersion(RTL_OSVERSIONINFOW* VersionInformation) {
  const ULONG size = VersionInformation->dwOSVersionInfoSize;
  if (size != sizeof(RTL_OSVERSIONINFOW) && size != sizeof(RTL_OSVERSIONINFOEXW)) {
    return STATUS_INVALID_PARAMETER;
  }
  const OsVersion& v = Kernel::Current().config().version;
  VersionInformation->dwMajorVersion = v.major;
  VersionInformation->dwMinorVersion = v.minor;
  VersionInformation->dwBuildNumber = v.build;
  VersionInformation->dwPlatformId = kPlatformWin32Nt;
  std::memset(VersionInformation->szCSDVersion, 0, sizeof VersionInformation->szCSDVersion);
  if (size == sizeof(RTL_OSVERSIONINFOEXW)) {
    auto* ex = reinterpret_cast<RTL_OSVERSIONINFOEXW*>(VersionInformation);
    ex->wServicePackMajor = 0;
    ex->wServicePackMinor = 0;
    ex->wSuiteMask = kSuiteSingleUserTs;
    ex->wProductType = kNtWorkstation;
    ex->wReserved = 0;
  }
  return STATUS_SUCCESS;
}

BOOLEAN NTAPI PsGetVersion(ULONG* MajorVersion, ULONG* MinorVersion, ULONG* BuildNumber,
                           UNICODE_STRING* CSDVersion) {
  const OsVersion& v = Kernel::Current().config().version;
  if (MajorVersion) *MajorVersion = v.major;
  if (MinorVersion) *MinorVersion = v.minor;
  if (BuildNumber) *BuildNumber = v.build;
  if (CSDVersion) CSDVersion->Length = 0;  // no service pack string on Windows 10
  return FALSE;                            // a free (retail) build, not a checked one
}

void NTAPI RtlAssert(PVOID FailedAssertion, PVOID FileName, ULONG LineNumber, char* Message) {
  // Policy as for breakpoints: with no debugger attached, report and continue.
  std::string text = "\n*** Assertion failed: ";
  if (Message) text += Message;
  text += static_cast<const char*>(FailedAssertion ? FailedAssertion : "");
  text += "\n***   Source File: ";
  text += static_cast<const char*>(FileName ? FileName : "");
  text += ", line " + std::to_string(LineNumber) + "\n\n";
  Kernel::Current().DebugOutput(0, 0, std::move(text));
}

}  // namespace ntbox::nt
