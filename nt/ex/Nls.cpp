// The NLS services: the locale, case-mapping, code-page, sorting and normalization tables ntdll
// maps (Wine's .nls files, which use Windows' formats), each a read-only view in the caller's
// process; the system and user locale are en-US.
#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/ExExports.h"
#include "nt/mm/Probe.h"
#include "nt/mm/UserSpace.h"

namespace ntbox::nt {
namespace {

constexpr ULONG kEnUs = 0x0409;

NTSTATUS MapTable(const std::string& name, PVOID* Pointer, std::uint64_t& size) {
  const std::string& dir = Kernel::Current().config().nlsDirectory;
  if (dir.empty()) return STATUS_OBJECT_NAME_NOT_FOUND;
  std::uint64_t base = 0;
  if (const NTSTATUS s = mm::MapHostFileView(dir + "/" + name, base, size); !NT_SUCCESS(s)) return s;
  if (!mm::WriteCaller(Pointer, reinterpret_cast<PVOID>(base))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI NtInitializeNlsFiles(PVOID* BaseAddress, ULONG* DefaultLocaleId, LARGE_INTEGER* DefaultCasingTableSize) {
  if (!mm::WriteCaller(DefaultLocaleId, kEnUs)) return STATUS_ACCESS_VIOLATION;
  std::uint64_t size = 0;
  if (const NTSTATUS s = MapTable("locale.nls", BaseAddress, size); !NT_SUCCESS(s)) return s;
  if (DefaultCasingTableSize) {
    LARGE_INTEGER v{};
    v.QuadPart = static_cast<LONGLONG>(size);
    if (!mm::WriteCaller(DefaultCasingTableSize, v)) return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtGetNlsSectionPtr(ULONG SectionType, ULONG SectionData, PVOID ContextData, PVOID* SectionPointer,
                                  SIZE_T* SectionSize) {
  (void)ContextData;
  std::string name;
  switch (SectionType) {
    case 9: name = "sortdefault"; break;
    case 10: name = "l_intl"; break;
    case 11: name = fmt::format("c_{:03}", SectionData); break;
    case 12:
      switch (SectionData) {
        case 1: name = "normnfc"; break;
        case 2: name = "normnfd"; break;
        case 5: name = "normnfkc"; break;
        case 6: name = "normnfkd"; break;
        case 13: name = "normidna"; break;
        default: return STATUS_OBJECT_NAME_NOT_FOUND;
      }
      break;
    default: return STATUS_INVALID_PARAMETER;
  }
  std::uint64_t size = 0;
  if (const NTSTATUS s = MapTable(name + ".nls", SectionPointer, size); !NT_SUCCESS(s)) return s;
  if (SectionSize && !mm::WriteCaller(SectionSize, static_cast<SIZE_T>(size))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtQueryDefaultLocale(BOOLEAN UserProfile, ULONG* DefaultLocaleId) {
  (void)UserProfile;
  return mm::WriteCaller(DefaultLocaleId, kEnUs) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtQueryDefaultUILanguage(USHORT* DefaultUILanguageId) {
  return mm::WriteCaller(DefaultUILanguageId, static_cast<USHORT>(kEnUs)) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtQueryInstallUILanguage(USHORT* InstallUILanguageId) {
  return mm::WriteCaller(InstallUILanguageId, static_cast<USHORT>(kEnUs)) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

}  // namespace ntbox::nt
