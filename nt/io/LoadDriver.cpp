// NtLoadDriver/NtUnloadDriver (drivers' ZwLoadDriver/ZwUnloadDriver): a driver service named by
// its registry key is started or stopped by the machine's service control manager, the same code
// `sc start` and the service API run, with DriverEntry or DriverUnload on the caller's thread.
#include <string>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/se/SecurityDescriptor.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

// The service's name from \Registry\Machine\System\CurrentControlSet\Services\<name> (or a
// numbered control set), or empty when the key is no service's.
std::string ServiceName(const UNICODE_STRING* key) {
  const auto u = mm::ReadCaller(key);
  if (!u || u->Length % 2 || !u->Buffer) return {};
  std::u16string text(u->Length / 2, u'\0');
  if (!mm::ReadCaller(text.data(), u->Buffer, u->Length)) return {};
  const std::u16string upper = ob::UpcaseName(text);
  for (const std::u16string_view prefix : {u"\\REGISTRY\\MACHINE\\SYSTEM\\CURRENTCONTROLSET\\SERVICES\\",
                                          u"\\REGISTRY\\MACHINE\\SYSTEM\\CONTROLSET001\\SERVICES\\"}) {
    if (upper.size() > prefix.size() && upper.starts_with(prefix)) {
      const std::u16string name = text.substr(prefix.size());
      if (name.find(u'\\') != std::u16string::npos) return {};
      return Utf16ToUtf8(name);
    }
  }
  return {};
}

NTSTATUS Control(const UNICODE_STRING* key, bool load) {
  // A program needs SeLoadDriverPrivilege enabled (AdjustTokenPrivileges), as on Windows.
  if (ExGetPreviousMode() == UserMode && !se::PrivilegeEnabled(se::SE_LOAD_DRIVER_PRIVILEGE)) {
    return STATUS_PRIVILEGE_NOT_HELD;
  }
  const std::string name = ServiceName(key);
  if (name.empty()) return STATUS_OBJECT_NAME_NOT_FOUND;
  const auto& control = Kernel::Current().config().serviceControl;
  if (!control) return STATUS_OBJECT_NAME_NOT_FOUND;
  return control(name, load);
}

}  // namespace

NTSTATUS NTAPI NtLoadDriver(UNICODE_STRING* DriverServiceName) { return Control(DriverServiceName, true); }

NTSTATUS NTAPI NtUnloadDriver(UNICODE_STRING* DriverServiceName) { return Control(DriverServiceName, false); }

}  // namespace ntbox::nt
