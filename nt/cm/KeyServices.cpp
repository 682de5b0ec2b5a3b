// Registry keys as objects of the object manager and the services on them. A key object holds its
// path in the store; every service re-finds the key there, so a key deleted through another handle
// (or by `ntbox reg`) reads as deleted (STATUS_KEY_DELETED) rather than as stale data. Each service
// runs between drivers' registry callbacks (cm/CmCallbacks.h) when any are registered.
#include <algorithm>
#include <expected>
#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/cm/CmCallbacks.h"
#include "nt/cm/CmExports.h"
#include "nt/cm/CmTypes.h"
#include "nt/cm/RegistryStore.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

constexpr ACCESS_MASK DELETE = 0x10000;
constexpr ULONG kMaxValueData = 16u << 20;  // a registry is no file store; Windows' hives refuse far less
constexpr std::u16string_view kRegistryRoot = u"\\REGISTRY";

struct KeyData {
  std::string path;  // in the store, as it was opened
  bool deleted = false;
};

ob::ObjectType& Keys() {
  static const bool once = [] {
    ob::KeyType().onDelete = [](void* body) {
      cm::KeyObjectDeleted(body);
      delete static_cast<KeyData*>(ob::HeaderOf(body)->hostContext);
    };
    return true;
  }();
  (void)once;
  return ob::KeyType();
}

cm::RegistryStore* Store() { return Kernel::Current().config().registry; }

ACCESS_MASK MapKeyAccess(ACCESS_MASK access) {
  ACCESS_MASK mapped = access & 0x01FFFFFF & ~0x300u;  // KEY_WOW64_* choose a view, not a right
  if (access & 0x80000000) mapped |= KEY_READ;        // GENERIC_READ
  if (access & 0x40000000) mapped |= KEY_WRITE;       // GENERIC_WRITE
  if (access & 0x20000000) mapped |= KEY_READ;        // GENERIC_EXECUTE
  if (access & 0x10000000) mapped |= KEY_ALL_ACCESS;  // GENERIC_ALL
  if (access & 0x02000000) mapped |= KEY_ALL_ACCESS;  // MAXIMUM_ALLOWED: every user is an administrator
  return mapped;
}

bool EqualNoCase(std::u16string_view a, std::u16string_view b) { return ob::UpcaseName(a) == ob::UpcaseName(b); }

// A referenced key object and where it is in the store.
class KeyRef {
 public:
  NTSTATUS Open(HANDLE handle, ACCESS_MASK access) { return ref_.Open(handle, access, &Keys()); }
  KeyData& data() { return ref_.context<KeyData>(); }
  void* object() const { return ref_.body(); }
  // The key's stored path; nullopt once it has been deleted.
  std::optional<std::string> Live() {
    if (data().deleted || !Store()) return std::nullopt;
    return Store()->FindKey(data().path);
  }

 private:
  ob::HandleReference ref_;
};

// The store path an OBJECT_ATTRIBUTES names: \REGISTRY\... or a name relative to a key handle.
NTSTATUS ResolvePath(const ob::CapturedAttributes& a, std::string& path) {
  std::u16string_view name = a.name;
  if (a.root) {
    KeyRef root;
    if (const NTSTATUS s = root.Open(a.root, 0); !NT_SUCCESS(s)) return s;
    if (!name.empty() && name.front() == u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    const auto base = root.Live();
    if (!base) return STATUS_KEY_DELETED;
    path = *base;
  } else {
    if (name.empty() || name.front() != u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    const bool inRegistry = name.size() >= kRegistryRoot.size() &&
                            EqualNoCase(name.substr(0, kRegistryRoot.size()), kRegistryRoot) &&
                            (name.size() == kRegistryRoot.size() || name[kRegistryRoot.size()] == u'\\');
    // Another object of the namespace (a device ...) is no key; a name that is nothing is absent.
    if (!inRegistry) {
      auto found = Kernel::Current().objects().Find(name);
      if (!found) return STATUS_OBJECT_NAME_NOT_FOUND;
      ob::DereferenceObject(found->body);
      return STATUS_OBJECT_TYPE_MISMATCH;
    }
    name.remove_prefix(kRegistryRoot.size());
    path.clear();
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find(u'\\', start), name.size());
    const auto component = name.substr(start, end - start);
    if (!component.empty()) {
      if (component.size() > 255) return STATUS_INVALID_PARAMETER;  // Windows' limit on a key name
      if (!path.empty()) path += '\\';
      path += Utf16ToUtf8(component);
    }
    start = end + 1;
  }
  return STATUS_SUCCESS;
}

void* NewKeyObject(std::string path) { return ob::CreateObject(Keys(), 0x10, new KeyData{std::move(path)}); }

// A create or open between its notifications. find: the key's stored path, or a failure (it may
// create the key, setting disposition).
template <class Find>
NTSTATUS OpenOrCreate(HANDLE* handle, ACCESS_MASK access, PVOID objectAttributes, bool create, ULONG options,
                      ULONG* dispositionOut, Find find) {
  if (!mm::WriteCaller(handle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(objectAttributes, a); !NT_SUCCESS(s)) return s;
  KeyRef root;
  if (a.root && cm::CallbacksRegistered()) {
    if (const NTSTATUS s = root.Open(a.root, 0); !NT_SUCCESS(s)) return s;
  }
  cm::Notification n(root.object());
  const ULONG postClass = create ? RegNtPostCreateKeyEx : RegNtPostOpenKeyEx;
  ULONG disposition = REG_OPENED_EXISTING_KEY;
  void* object = nullptr;
  NTSTATUS status = STATUS_SUCCESS;
  REG_CREATE_KEY_INFORMATION_V1 info{};
  std::u16string name;
  UNICODE_STRING nameView{};
  if (cm::CallbacksRegistered()) {
    // The routines get a kernel copy of the name (the caller's may be a program's).
    name = a.name;
    nameView = UNICODE_STRING{static_cast<USHORT>(name.size() * 2), static_cast<USHORT>(name.size() * 2), name.data()};
    info.CompleteName = &nameView;
    info.RootObject = root.object();
    info.ObjectType = &ob::KeyType();
    info.Options = options;
    info.DesiredAccess = access;
    info.Disposition = &disposition;
    info.ResultObject = &object;
    info.Version = 1;
    info.RemainingName = &nameView;
    info.Attributes = a.attributes;
    info.CheckAccessMode = ExGetPreviousMode();
    status = n.Pre(create ? RegNtPreCreateKeyEx : RegNtPreOpenKeyEx, &info,
                   offsetof(REG_CREATE_KEY_INFORMATION_V1, CallContext),
                   offsetof(REG_CREATE_KEY_INFORMATION_V1, RootObjectContext));
    if (!NT_SUCCESS(status)) return n.Post(postClass, status);
  }
  if (n.bypassed()) {
    // A routine opened the key itself: a referenced key object in *ResultObject becomes the
    // caller's handle (a redirection), with the access it granted.
    status = STATUS_SUCCESS;
    if (!object || !ob::HeaderOf(object) || ob::HeaderOf(object)->type != &ob::KeyType()) object = nullptr;
  } else {
    std::string path;
    status = ResolvePath(a, path);
    if (NT_SUCCESS(status)) {
      auto stored = find(path, disposition);
      if (stored) {
        object = NewKeyObject(std::move(*stored));
        if (!object) status = STATUS_INSUFFICIENT_RESOURCES;
      } else {
        status = stored.error();
      }
    }
  }
  if (cm::CallbacksRegistered()) status = n.Post(postClass, status, object);
  if (!NT_SUCCESS(status) || !object) {
    if (object) ob::DereferenceObject(object);
    return status;
  }
  if (dispositionOut && !mm::WriteCaller(dispositionOut, disposition)) {
    ob::DereferenceObject(object);
    return STATUS_ACCESS_VIOLATION;
  }
  const ACCESS_MASK granted = n.bypassed() && info.GrantedAccess ? info.GrantedAccess : MapKeyAccess(access);
  return ob::ReturnNewHandle(object, granted, handle, a.kernelHandle);
}

NTSTATUS OpenKey(HANDLE* handle, ACCESS_MASK access, PVOID objectAttributes, ULONG options) {
  return OpenOrCreate(handle, access, objectAttributes, false, options, nullptr,
                      [](const std::string& path, ULONG&) -> std::expected<std::string, NTSTATUS> {
                        auto stored = Store() ? Store()->FindKey(path) : std::nullopt;
                        if (!stored) return std::unexpected(STATUS_OBJECT_NAME_NOT_FOUND);
                        return *stored;
                      });
}

std::string_view LastComponent(std::string_view path) {
  const auto slash = path.rfind('\\');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Copies an information structure built in the kernel to the caller, as much as fits, with the
// size it needs: BUFFER_TOO_SMALL when not even the fixed part fits, BUFFER_OVERFLOW when only
// some of the variable part does.
NTSTATUS ReturnInformation(const std::vector<std::uint8_t>& info, std::size_t fixedSize, PVOID buffer, ULONG length,
                           ULONG* resultLength) {
  if (!mm::WriteCaller(resultLength, static_cast<ULONG>(info.size()))) return STATUS_ACCESS_VIOLATION;
  if (length < fixedSize) return STATUS_BUFFER_TOO_SMALL;
  const std::size_t n = std::min<std::size_t>(length, info.size());
  if (!mm::WriteCaller(buffer, info.data(), n)) return STATUS_ACCESS_VIOLATION;
  return n < info.size() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

template <class T>
void Put(std::vector<std::uint8_t>& out, std::size_t offset, const T& value) {
  if (out.size() < offset + sizeof(T)) out.resize(offset + sizeof(T));
  std::memcpy(out.data() + offset, &value, sizeof(T));
}

void PutName(std::vector<std::uint8_t>& out, std::size_t offset, std::u16string_view name) {
  out.resize(std::max(out.size(), offset + name.size() * 2));
  std::memcpy(out.data() + offset, name.data(), name.size() * 2);
}

// Information about the key at path (its own name is the last component) for NtQueryKey and
// NtEnumerateKey; fixed is set to the class's fixed size.
NTSTATUS DescribeKey(const std::string& path, ULONG infoClass, std::vector<std::uint8_t>& out, std::size_t& fixed) {
  const std::u16string name = Utf8ToUtf16(LastComponent(path));
  const auto nameBytes = static_cast<ULONG>(name.size() * 2);
  switch (infoClass) {
    case KeyBasicInformation:
      fixed = offsetof(KEY_BASIC_INFORMATION, Name);
      out.assign(fixed, 0);
      Put(out, offsetof(KEY_BASIC_INFORMATION, NameLength), nameBytes);
      PutName(out, fixed, name);
      return STATUS_SUCCESS;
    case KeyNodeInformation:
      fixed = offsetof(KEY_NODE_INFORMATION, Name);
      out.assign(fixed, 0);
      Put(out, offsetof(KEY_NODE_INFORMATION, ClassOffset), ULONG{0xFFFFFFFF});  // no class
      Put(out, offsetof(KEY_NODE_INFORMATION, NameLength), nameBytes);
      PutName(out, fixed, name);
      return STATUS_SUCCESS;
    case KeyNameInformation: {
      std::u16string full(kRegistryRoot);
      if (!path.empty()) full += u'\\' + Utf8ToUtf16(path);
      fixed = offsetof(KEY_NAME_INFORMATION, Name);
      out.assign(fixed, 0);
      Put(out, 0, static_cast<ULONG>(full.size() * 2));
      PutName(out, fixed, full);
      return STATUS_SUCCESS;
    }
    case KeyFullInformation:
    case KeyCachedInformation: {
      ULONG maxName = 0, maxValueName = 0, maxData = 0;
      const auto subkeys = Store()->Subkeys(path);
      for (const auto& k : subkeys) maxName = std::max(maxName, static_cast<ULONG>(Utf8ToUtf16(k).size() * 2));
      const auto values = Store()->Values(path);
      for (const auto& v : values) {
        maxValueName = std::max(maxValueName, static_cast<ULONG>(Utf8ToUtf16(v.name).size() * 2));
        maxData = std::max(maxData, static_cast<ULONG>(v.data.size()));
      }
      const auto subkeyCount = static_cast<ULONG>(subkeys.size());
      const auto valueCount = static_cast<ULONG>(values.size());
      if (infoClass == KeyFullInformation) {
        fixed = offsetof(KEY_FULL_INFORMATION, Class);
        out.assign(sizeof(KEY_FULL_INFORMATION), 0);
        out.resize(fixed);  // no class name follows
        Put(out, offsetof(KEY_FULL_INFORMATION, ClassOffset), ULONG{0xFFFFFFFF});
        Put(out, offsetof(KEY_FULL_INFORMATION, SubKeys), subkeyCount);
        Put(out, offsetof(KEY_FULL_INFORMATION, MaxNameLen), maxName);
        Put(out, offsetof(KEY_FULL_INFORMATION, Values), valueCount);
        Put(out, offsetof(KEY_FULL_INFORMATION, MaxValueNameLen), maxValueName);
        Put(out, offsetof(KEY_FULL_INFORMATION, MaxValueDataLen), maxData);
      } else {
        fixed = sizeof(KEY_CACHED_INFORMATION);
        out.assign(fixed, 0);
        Put(out, offsetof(KEY_CACHED_INFORMATION, SubKeys), subkeyCount);
        Put(out, offsetof(KEY_CACHED_INFORMATION, MaxNameLen), maxName);
        Put(out, offsetof(KEY_CACHED_INFORMATION, Values), valueCount);
        Put(out, offsetof(KEY_CACHED_INFORMATION, MaxValueNameLen), maxValueName);
        Put(out, offsetof(KEY_CACHED_INFORMATION, MaxValueDataLen), maxData);
        Put(out, offsetof(KEY_CACHED_INFORMATION, NameLength), nameBytes);
      }
      return STATUS_SUCCESS;
    }
    default:
      return STATUS_INVALID_PARAMETER;
  }
}

NTSTATUS DescribeValue(const cm::StoredValue& v, ULONG infoClass, std::vector<std::uint8_t>& out,
                          std::size_t& fixed) {
  const std::u16string name = Utf8ToUtf16(v.name);
  const auto nameBytes = static_cast<ULONG>(name.size() * 2);
  const auto dataBytes = static_cast<ULONG>(v.data.size());
  switch (infoClass) {
    case KeyValueBasicInformation:
      fixed = offsetof(KEY_VALUE_BASIC_INFORMATION, Name);
      out.assign(fixed, 0);
      Put(out, offsetof(KEY_VALUE_BASIC_INFORMATION, Type), v.type);
      Put(out, offsetof(KEY_VALUE_BASIC_INFORMATION, NameLength), nameBytes);
      PutName(out, fixed, name);
      return STATUS_SUCCESS;
    case KeyValueFullInformation:
    case KeyValueFullInformationAlign64: {
      fixed = offsetof(KEY_VALUE_FULL_INFORMATION, Name);
      const std::size_t align = infoClass == KeyValueFullInformation ? 4 : 8;
      const std::size_t dataOffset = (fixed + nameBytes + align - 1) & ~(align - 1);
      out.assign(dataOffset + dataBytes, 0);
      Put(out, offsetof(KEY_VALUE_FULL_INFORMATION, Type), v.type);
      Put(out, offsetof(KEY_VALUE_FULL_INFORMATION, DataOffset), static_cast<ULONG>(dataOffset));
      Put(out, offsetof(KEY_VALUE_FULL_INFORMATION, DataLength), dataBytes);
      Put(out, offsetof(KEY_VALUE_FULL_INFORMATION, NameLength), nameBytes);
      PutName(out, fixed, name);
      if (dataBytes) std::memcpy(out.data() + dataOffset, v.data.data(), dataBytes);
      return STATUS_SUCCESS;
    }
    case KeyValuePartialInformation:
    case KeyValuePartialInformationAlign64: {
      // The Align64 form is { Type, DataLength, Data } with the data 8-byte aligned.
      const bool align64 = infoClass == KeyValuePartialInformationAlign64;
      fixed = align64 ? 8 : offsetof(KEY_VALUE_PARTIAL_INFORMATION, Data);
      out.assign(fixed + dataBytes, 0);
      Put(out, align64 ? 0 : offsetof(KEY_VALUE_PARTIAL_INFORMATION, Type), v.type);
      Put(out, align64 ? 4 : offsetof(KEY_VALUE_PARTIAL_INFORMATION, DataLength), dataBytes);
      if (dataBytes) std::memcpy(out.data() + fixed, v.data.data(), dataBytes);
      return STATUS_SUCCESS;
    }
    default:
      return STATUS_INVALID_PARAMETER;
  }
}

NTSTATUS CaptureValueName(const UNICODE_STRING* from, std::string& name) {
  const auto u = mm::ReadCaller(from);
  if (!u) return STATUS_ACCESS_VIOLATION;
  if (u->Length % 2) return STATUS_INVALID_PARAMETER;
  std::u16string wide(u->Length / 2, u'\0');
  if (!mm::ReadCaller(wide.data(), u->Buffer, u->Length)) return STATUS_ACCESS_VIOLATION;
  name = Utf16ToUtf8(wide);
  return STATUS_SUCCESS;
}

// A service on an open key between its pre- and post-notifications (cm/CmCallbacks.h).
template <class Info, class Op>
NTSTATUS Notified(KeyRef& key, ULONG pre, ULONG post, Info& info, Op op) {
  cm::Notification n(key.object());
  if (cm::CallbacksRegistered()) {
    info.Object = key.object();
    const NTSTATUS s = n.Pre(pre, &info, offsetof(Info, CallContext), offsetof(Info, ObjectContext));
    if (!NT_SUCCESS(s) || n.bypassed()) return n.Post(post, s);
  }
  return n.Post(post, op());
}

// A captured value name as the routines get it: a kernel copy.
struct NameView {
  explicit NameView(const std::string& name) : text(Utf8ToUtf16(name)) {
    view = UNICODE_STRING{static_cast<USHORT>(text.size() * 2), static_cast<USHORT>(text.size() * 2), text.data()};
  }
  std::u16string text;
  UNICODE_STRING view;
};

}  // namespace

NTSTATUS NTAPI NtOpenKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return OpenKey(KeyHandle, DesiredAccess, ObjectAttributes, 0);
}

NTSTATUS NTAPI NtOpenKeyEx(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG OpenOptions) {
  // REG_OPTION_OPEN_LINK and backup semantics change nothing without links and ACLs.
  return OpenKey(KeyHandle, DesiredAccess, ObjectAttributes, OpenOptions);
}

NTSTATUS NTAPI NtCreateKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG TitleIndex,
                           UNICODE_STRING* Class, ULONG CreateOptions, ULONG* Disposition) {
  (void)TitleIndex;
  (void)Class;  // key classes are not kept
  if (CreateOptions & ~0xFu) return STATUS_INVALID_PARAMETER;
  if (CreateOptions & REG_OPTION_CREATE_LINK) return STATUS_NOT_IMPLEMENTED;  // no symbolic links yet
  return OpenOrCreate(
      KeyHandle, DesiredAccess, ObjectAttributes, true, CreateOptions, Disposition,
      [](const std::string& path, ULONG& disposition) -> std::expected<std::string, NTSTATUS> {
        if (!Store()) return std::unexpected(STATUS_OBJECT_NAME_NOT_FOUND);
        if (auto stored = Store()->FindKey(path)) return *stored;
        const auto slash = path.rfind('\\');
        // \REGISTRY and its hives (MACHINE, USER) hold only the keys the machine made.
        if (slash == std::string::npos || path.find('\\') == slash) return std::unexpected(STATUS_ACCESS_DENIED);
        const auto parent = Store()->FindKey(std::string_view(path).substr(0, slash));
        if (!parent) return std::unexpected(STATUS_OBJECT_NAME_NOT_FOUND);
        const std::string full = *parent + path.substr(slash);
        if (const NTSTATUS s = Store()->CreateKey(full); !NT_SUCCESS(s)) return std::unexpected(s);
        disposition = REG_CREATED_NEW_KEY;
        return full;
      });
}

NTSTATUS NTAPI NtQueryKey(HANDLE KeyHandle, ULONG KeyInformationClass, PVOID KeyInformation, ULONG Length,
                          ULONG* ResultLength) {
  KeyRef key;
  // The name needs no right; the rest needs KEY_QUERY_VALUE.
  const ACCESS_MASK needed = KeyInformationClass == KeyNameInformation ? 0 : KEY_QUERY_VALUE;
  if (const NTSTATUS s = key.Open(KeyHandle, needed); !NT_SUCCESS(s)) return s;
  REG_QUERY_KEY_INFORMATION notice{nullptr, KeyInformationClass, KeyInformation, Length, ResultLength, {}, {}, {}};
  return Notified(key, RegNtPreQueryKey, RegNtPostQueryKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    std::vector<std::uint8_t> info;
    std::size_t fixed = 0;
    if (const NTSTATUS s = DescribeKey(*path, KeyInformationClass, info, fixed); !NT_SUCCESS(s)) return s;
    return ReturnInformation(info, fixed, KeyInformation, Length, ResultLength);
  });
}

NTSTATUS NTAPI NtEnumerateKey(HANDLE KeyHandle, ULONG Index, ULONG KeyInformationClass, PVOID KeyInformation,
                              ULONG Length, ULONG* ResultLength) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, KEY_ENUMERATE_SUB_KEYS); !NT_SUCCESS(s)) return s;
  REG_ENUMERATE_KEY_INFORMATION notice{nullptr, Index, KeyInformationClass, KeyInformation, Length, ResultLength,
                                       {}, {}, {}};
  return Notified(key, RegNtPreEnumerateKey, RegNtPostEnumerateKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    if (KeyInformationClass == KeyNameInformation) return STATUS_INVALID_PARAMETER;
    const auto subkeys = Store()->Subkeys(*path);
    if (Index >= subkeys.size()) return STATUS_NO_MORE_ENTRIES;
    const std::string child = path->empty() ? subkeys[Index] : *path + '\\' + subkeys[Index];
    std::vector<std::uint8_t> info;
    std::size_t fixed = 0;
    if (const NTSTATUS s = DescribeKey(child, KeyInformationClass, info, fixed); !NT_SUCCESS(s)) return s;
    return ReturnInformation(info, fixed, KeyInformation, Length, ResultLength);
  });
}

NTSTATUS NTAPI NtQueryValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG KeyValueInformationClass,
                               PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, KEY_QUERY_VALUE); !NT_SUCCESS(s)) return s;
  std::string name;
  if (const NTSTATUS s = CaptureValueName(ValueName, name); !NT_SUCCESS(s)) return s;
  NameView captured(name);
  REG_QUERY_VALUE_KEY_INFORMATION notice{nullptr, &captured.view, KeyValueInformationClass, KeyValueInformation,
                                         Length, ResultLength, {}, {}, {}};
  return Notified(key, RegNtPreQueryValueKey, RegNtPostQueryValueKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    const auto value = Store()->GetValue(*path, name);
    if (!value) return STATUS_OBJECT_NAME_NOT_FOUND;
    std::vector<std::uint8_t> info;
    std::size_t fixed = 0;
    if (const NTSTATUS s = DescribeValue(*value, KeyValueInformationClass, info, fixed); !NT_SUCCESS(s)) return s;
    return ReturnInformation(info, fixed, KeyValueInformation, Length, ResultLength);
  });
}

NTSTATUS NTAPI NtEnumerateValueKey(HANDLE KeyHandle, ULONG Index, ULONG KeyValueInformationClass,
                                   PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, KEY_QUERY_VALUE); !NT_SUCCESS(s)) return s;
  REG_ENUMERATE_VALUE_KEY_INFORMATION notice{nullptr, Index, KeyValueInformationClass, KeyValueInformation, Length,
                                             ResultLength, {}, {}, {}};
  return Notified(key, RegNtPreEnumerateValueKey, RegNtPostEnumerateValueKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    const auto values = Store()->Values(*path);
    if (Index >= values.size()) return STATUS_NO_MORE_ENTRIES;
    std::vector<std::uint8_t> info;
    std::size_t fixed = 0;
    if (const NTSTATUS s = DescribeValue(values[Index], KeyValueInformationClass, info, fixed); !NT_SUCCESS(s)) {
      return s;
    }
    return ReturnInformation(info, fixed, KeyValueInformation, Length, ResultLength);
  });
}

NTSTATUS NTAPI NtSetValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                             ULONG DataSize) {
  (void)TitleIndex;
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, KEY_SET_VALUE); !NT_SUCCESS(s)) return s;
  cm::StoredValue value;
  if (const NTSTATUS s = CaptureValueName(ValueName, value.name); !NT_SUCCESS(s)) return s;
  if (DataSize > kMaxValueData) return STATUS_INSUFFICIENT_RESOURCES;
  value.type = Type;
  value.data.resize(DataSize);
  if (!mm::ReadCaller(value.data.data(), Data, DataSize)) return STATUS_ACCESS_VIOLATION;
  NameView captured(value.name);
  REG_SET_VALUE_KEY_INFORMATION notice{nullptr, &captured.view, TitleIndex, Type, value.data.data(), DataSize,
                                       {}, {}, {}};
  return Notified(key, RegNtPreSetValueKey, RegNtPostSetValueKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    return Store()->SetValue(*path, value);
  });
}

NTSTATUS NTAPI NtDeleteValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, KEY_SET_VALUE); !NT_SUCCESS(s)) return s;
  std::string name;
  if (const NTSTATUS s = CaptureValueName(ValueName, name); !NT_SUCCESS(s)) return s;
  NameView captured(name);
  REG_DELETE_VALUE_KEY_INFORMATION notice{nullptr, &captured.view, {}, {}, {}};
  return Notified(key, RegNtPreDeleteValueKey, RegNtPostDeleteValueKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    if (!Store()->GetValue(*path, name)) return STATUS_OBJECT_NAME_NOT_FOUND;
    return Store()->DeleteValue(*path, name);
  });
}

NTSTATUS NTAPI NtDeleteKey(HANDLE KeyHandle) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, DELETE); !NT_SUCCESS(s)) return s;
  REG_DELETE_KEY_INFORMATION notice{};
  return Notified(key, RegNtPreDeleteKey, RegNtPostDeleteKey, notice, [&]() -> NTSTATUS {
    const auto path = key.Live();
    if (!path) return STATUS_KEY_DELETED;
    if (!Store()->Subkeys(*path).empty()) return STATUS_CANNOT_DELETE;
    if (const NTSTATUS s = Store()->DeleteKey(*path); !NT_SUCCESS(s)) return s;
    key.data().deleted = true;
    return STATUS_SUCCESS;
  });
}

NTSTATUS NTAPI NtFlushKey(HANDLE KeyHandle) {
  KeyRef key;
  if (const NTSTATUS s = key.Open(KeyHandle, 0); !NT_SUCCESS(s)) return s;
  REG_DELETE_KEY_INFORMATION notice{};
  return Notified(key, RegNtPreFlushKey, RegNtPostFlushKey, notice, [&]() -> NTSTATUS {
    return key.Live() ? STATUS_SUCCESS : STATUS_KEY_DELETED;  // every change is already on disk
  });
}

std::u16string cm::KeyObjectName(void* object) {
  ob::ObjectHeader* h = ob::HeaderOf(object);
  if (!h || h->type != &ob::KeyType()) return {};
  const auto* data = static_cast<const KeyData*>(h->hostContext);
  std::u16string full(kRegistryRoot);
  if (!data->path.empty()) full += u'\\' + Utf8ToUtf16(data->path);
  return full;
}

// Drivers' entry points: the same services, called from kernel mode.
NTSTATUS NTAPI ZwCreateKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG TitleIndex,
                           UNICODE_STRING* Class, ULONG CreateOptions, ULONG* Disposition) {
  ke::KernelModeCall kernel;
  return NtCreateKey(KeyHandle, DesiredAccess, ObjectAttributes, TitleIndex, Class, CreateOptions, Disposition);
}
NTSTATUS NTAPI ZwOpenKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  ke::KernelModeCall kernel;
  return NtOpenKey(KeyHandle, DesiredAccess, ObjectAttributes);
}
NTSTATUS NTAPI ZwOpenKeyEx(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG OpenOptions) {
  ke::KernelModeCall kernel;
  return NtOpenKeyEx(KeyHandle, DesiredAccess, ObjectAttributes, OpenOptions);
}
NTSTATUS NTAPI ZwQueryKey(HANDLE KeyHandle, ULONG KeyInformationClass, PVOID KeyInformation, ULONG Length,
                          ULONG* ResultLength) {
  ke::KernelModeCall kernel;
  return NtQueryKey(KeyHandle, KeyInformationClass, KeyInformation, Length, ResultLength);
}
NTSTATUS NTAPI ZwEnumerateKey(HANDLE KeyHandle, ULONG Index, ULONG KeyInformationClass, PVOID KeyInformation,
                              ULONG Length, ULONG* ResultLength) {
  ke::KernelModeCall kernel;
  return NtEnumerateKey(KeyHandle, Index, KeyInformationClass, KeyInformation, Length, ResultLength);
}
NTSTATUS NTAPI ZwQueryValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG KeyValueInformationClass,
                               PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength) {
  ke::KernelModeCall kernel;
  return NtQueryValueKey(KeyHandle, ValueName, KeyValueInformationClass, KeyValueInformation, Length, ResultLength);
}
NTSTATUS NTAPI ZwEnumerateValueKey(HANDLE KeyHandle, ULONG Index, ULONG KeyValueInformationClass,
                                   PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength) {
  ke::KernelModeCall kernel;
  return NtEnumerateValueKey(KeyHandle, Index, KeyValueInformationClass, KeyValueInformation, Length, ResultLength);
}
NTSTATUS NTAPI ZwSetValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                             ULONG DataSize) {
  ke::KernelModeCall kernel;
  return NtSetValueKey(KeyHandle, ValueName, TitleIndex, Type, Data, DataSize);
}
NTSTATUS NTAPI ZwDeleteKey(HANDLE KeyHandle) {
  ke::KernelModeCall kernel;
  return NtDeleteKey(KeyHandle);
}
NTSTATUS NTAPI ZwDeleteValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName) {
  ke::KernelModeCall kernel;
  return NtDeleteValueKey(KeyHandle, ValueName);
}
NTSTATUS NTAPI ZwFlushKey(HANDLE KeyHandle) {
  ke::KernelModeCall kernel;
  return NtFlushKey(KeyHandle);
}

}  // namespace ntbox::nt
