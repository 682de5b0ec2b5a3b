#include <sys/random.h>

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

namespace {

// VER_* type bits, in the order of their condition fields (3 bits each) in a condition mask.
enum : ULONG {
  kVerMinor = 0x1, kVerMajor = 0x2, kVerBuild = 0x4, kVerPlatform = 0x8, kVerSpMinor = 0x10,
  kVerSpMajor = 0x20, kVerSuite = 0x40, kVerProductType = 0x80,
};
enum : UCHAR { kEqual = 1, kGreater = 2, kGreaterEqual = 3, kLess = 4, kLessEqual = 5, kAnd = 6, kOr = 7 };

UCHAR ConditionOf(ULONGLONG mask, ULONG type) {
  const int index = __builtin_ctz(type);
  return static_cast<UCHAR>((mask >> (3 * index)) & 7);
}

// -1, 0, 1 compared under a relational condition.
bool Meets(int order, UCHAR condition) {
  switch (condition) {
    case kEqual: return order == 0;
    case kGreater: return order > 0;
    case kGreaterEqual: return order >= 0;
    case kLess: return order < 0;
    case kLessEqual: return order <= 0;
    default: return false;
  }
}

template <class T>
int Order(T actual, T wanted) {
  return actual < wanted ? -1 : actual > wanted ? 1 : 0;
}

}  // namespace

ULONGLONG NTAPI VerSetConditionMask(ULONGLONG ConditionMask, ULONG TypeMask, UCHAR Condition) {
  if (!TypeMask || !Condition) return ConditionMask;
  for (ULONG type = 1; type <= kVerProductType; type <<= 1) {
    if (!(TypeMask & type)) continue;
    const int shift = 3 * __builtin_ctz(type);
    ConditionMask = (ConditionMask & ~(ULONGLONG{7} << shift)) | (ULONGLONG{Condition & 7u} << shift);
  }
  return ConditionMask;
}

NTSTATUS NTAPI RtlVerifyVersionInfo(RTL_OSVERSIONINFOEXW* VersionInfo, ULONG TypeMask, ULONGLONG ConditionMask) {
  if (!VersionInfo || !TypeMask || !ConditionMask) return STATUS_INVALID_PARAMETER;
  RTL_OSVERSIONINFOEXW actual{};
  actual.dwOSVersionInfoSize = sizeof actual;
  (void)RtlGetVersion(reinterpret_cast<RTL_OSVERSIONINFOW*>(&actual));
  bool ok = true;
  // Major, minor and the service pack compare as one version, most significant first, under the
  // condition of the most significant one asked for.
  const ULONG versionParts = TypeMask & (kVerMajor | kVerMinor | kVerSpMajor | kVerSpMinor);
  if (versionParts) {
    const struct {
      ULONG type;
      ULONG have, want;
    } parts[] = {{kVerMajor, actual.dwMajorVersion, VersionInfo->dwMajorVersion},
                 {kVerMinor, actual.dwMinorVersion, VersionInfo->dwMinorVersion},
                 {kVerSpMajor, actual.wServicePackMajor, VersionInfo->wServicePackMajor},
                 {kVerSpMinor, actual.wServicePackMinor, VersionInfo->wServicePackMinor}};
    UCHAR condition = 0;
    int order = 0;
    for (const auto& p : parts) {
      if (!(versionParts & p.type)) continue;
      if (!condition) condition = ConditionOf(ConditionMask, p.type);
      if (order == 0) order = Order(p.have, p.want);
    }
    ok = ok && Meets(order, condition);
  }
  if (TypeMask & kVerBuild) {
    ok = ok && Meets(Order(actual.dwBuildNumber, VersionInfo->dwBuildNumber), ConditionOf(ConditionMask, kVerBuild));
  }
  if (TypeMask & kVerPlatform) {
    ok = ok && Meets(Order(actual.dwPlatformId, VersionInfo->dwPlatformId), ConditionOf(ConditionMask, kVerPlatform));
  }
  if (TypeMask & kVerProductType) {
    ok = ok && Meets(Order(actual.wProductType, VersionInfo->wProductType), ConditionOf(ConditionMask, kVerProductType));
  }
  if (TypeMask & kVerSuite) {
    const USHORT want = VersionInfo->wSuiteMask;
    const UCHAR condition = ConditionOf(ConditionMask, kVerSuite);
    ok = ok && (condition == kOr ? (actual.wSuiteMask & want) != 0 : (actual.wSuiteMask & want) == want);
  }
  return ok ? STATUS_SUCCESS : STATUS_REVISION_MISMATCH;
}

NTSTATUS NTAPI ExUuidCreate(void* Uuid) {
  if (!Uuid) return STATUS_INVALID_PARAMETER;
  std::uint8_t bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return STATUS_RETRY;
  bytes[7] = static_cast<std::uint8_t>((bytes[7] & 0x0F) | 0x40);  // Data3's version: 4 (random)
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // the RFC 4122 variant
  std::memcpy(Uuid, bytes, sizeof bytes);
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
