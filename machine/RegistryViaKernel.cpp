#include "machine/RegistryViaKernel.h"

#include <string>

#include "nt/Status.h"
#include "nt/cm/CmExports.h"
#include "nt/cm/CmTypes.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "support/Utf16.h"

namespace ntbox::machine::via_kernel {
namespace {

using nt::NTSTATUS;

constexpr nt::ACCESS_MASK kKeyAllAccess = 0xF003F;
constexpr nt::ULONG kObjKernelHandle = 0x200, kObjCaseInsensitive = 0x40;

// A key handle the services gave, closed with the scope.
class Key {
 public:
  ~Key() {
    if (handle_) (void)nt::ZwClose(handle_);
  }
  // Opens (or, with create, creates) \REGISTRY\<path>.
  NTSTATUS Open(std::string_view path, bool create) {
    std::u16string name = u"\\REGISTRY\\" + Utf8ToUtf16(path);
    nt::UNICODE_STRING text{static_cast<nt::USHORT>(name.size() * 2), static_cast<nt::USHORT>(name.size() * 2),
                            name.data()};
    nt::OBJECT_ATTRIBUTES oa{sizeof oa, nullptr, &text, kObjKernelHandle | kObjCaseInsensitive, nullptr, nullptr};
    return create ? nt::ZwCreateKey(&handle_, kKeyAllAccess, &oa, 0, nullptr, 0, nullptr)
                  : nt::ZwOpenKey(&handle_, kKeyAllAccess, &oa);
  }
  nt::HANDLE handle() const { return handle_; }

 private:
  nt::HANDLE handle_ = nullptr;
};

struct Name {
  explicit Name(std::string_view utf8) : text(Utf8ToUtf16(utf8)) {
    view = nt::UNICODE_STRING{static_cast<nt::USHORT>(text.size() * 2), static_cast<nt::USHORT>(text.size() * 2),
                              text.data()};
  }
  std::u16string text;
  nt::UNICODE_STRING view;
};

}  // namespace

NTSTATUS CreateKey(std::string_view path) {
  // One level at a time, as RegCreateKeyEx does for the parents it lacks.
  std::size_t end = 0;
  for (;;) {
    end = path.find('\\', end + 1);
    const std::string_view prefix = path.substr(0, end);
    // The hive itself (MACHINE, USER) is no key to create.
    if (prefix.find('\\') != std::string_view::npos) {
      Key key;
      if (const NTSTATUS s = key.Open(prefix, true); !nt::NT_SUCCESS(s)) return s;
    }
    if (end == std::string_view::npos) return nt::STATUS_SUCCESS;
  }
}

NTSTATUS SetValue(std::string_view path, const RegValue& value) {
  if (const NTSTATUS s = CreateKey(path); !nt::NT_SUCCESS(s)) return s;
  Key key;
  if (const NTSTATUS s = key.Open(path, false); !nt::NT_SUCCESS(s)) return s;
  Name name(value.name);
  return nt::ZwSetValueKey(key.handle(), &name.view, 0, value.type, const_cast<std::uint8_t*>(value.data.data()),
                           static_cast<nt::ULONG>(value.data.size()));
}

NTSTATUS DeleteValue(std::string_view path, std::string_view name) {
  Key key;
  if (const NTSTATUS s = key.Open(path, false); !nt::NT_SUCCESS(s)) return s;
  Name n(name);
  return nt::ZwDeleteValueKey(key.handle(), &n.view);
}

NTSTATUS DeleteAllValues(std::string_view path) {
  Key key;
  if (const NTSTATUS s = key.Open(path, false); !nt::NT_SUCCESS(s)) return s;
  // Always the first: each deletion moves the rest up.
  for (;;) {
    alignas(8) std::uint8_t buffer[0x400];
    nt::ULONG length = 0;
    NTSTATUS s = nt::ZwEnumerateValueKey(key.handle(), 0, nt::KeyValueBasicInformation, buffer, sizeof buffer, &length);
    if (s == nt::STATUS_NO_MORE_ENTRIES) return nt::STATUS_SUCCESS;
    if (!nt::NT_SUCCESS(s)) return s;
    const auto* info = reinterpret_cast<const nt::KEY_VALUE_BASIC_INFORMATION*>(buffer);
    nt::UNICODE_STRING name{static_cast<nt::USHORT>(info->NameLength), static_cast<nt::USHORT>(info->NameLength),
                            const_cast<nt::WCHAR*>(info->Name)};
    if (s = nt::ZwDeleteValueKey(key.handle(), &name); !nt::NT_SUCCESS(s)) return s;
  }
}

NTSTATUS DeleteKey(Registry& registry, std::string_view path) {
  // Nothing below a key that cannot go goes either (reg.exe refuses HKLM\SYSTEM as a whole).
  if (Registry::IsPermanentKey(path)) return nt::STATUS_CANNOT_DELETE;
  for (const auto& child : registry.Subkeys(path)) {
    if (const NTSTATUS s = DeleteKey(registry, std::string(path) + "\\" + child); !nt::NT_SUCCESS(s)) return s;
  }
  Key key;
  if (const NTSTATUS s = key.Open(path, false); !nt::NT_SUCCESS(s)) return s;
  return nt::ZwDeleteKey(key.handle());
}

}  // namespace ntbox::machine::via_kernel
