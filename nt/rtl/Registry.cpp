#include "nt/rtl/Registry.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu/HostState.h"
#include "nt/Status.h"
#include "nt/cm/CmExports.h"
#include "nt/cm/CmTypes.h"
#include "nt/ex/PoolExports.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"

namespace ntbox::nt {
namespace {

// The keys RelativeTo names (RTL_REGISTRY_USER: the default user's, as for a system thread).
constexpr const char16_t* kBases[RTL_REGISTRY_MAXIMUM] = {
    u"",
    u"\\Registry\\Machine\\System\\CurrentControlSet\\Services",
    u"\\Registry\\Machine\\System\\CurrentControlSet\\Control",
    u"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion",
    u"\\Registry\\Machine\\Hardware\\DeviceMap",
    u"\\Registry\\User\\.Default",
};

std::u16string Text(PCWSTR s) {
  std::u16string out;
  for (std::size_t i = 0; s && s[i] && i < 0x8000; ++i) out += s[i];
  return out;
}

UNICODE_STRING View(const std::u16string& s) {
  UNICODE_STRING u{};
  u.Length = static_cast<USHORT>(s.size() * 2);
  u.MaximumLength = u.Length;
  u.Buffer = const_cast<WCHAR*>(s.data());
  return u;
}

// A key handle for RelativeTo and Path, closed on destruction unless it was the caller's own.
class Key {
 public:
  NTSTATUS Open(ULONG relativeTo, PCWSTR path, bool create, ACCESS_MASK access = KEY_ALL_ACCESS) {
    if (relativeTo & RTL_REGISTRY_HANDLE) {
      handle_ = const_cast<WCHAR*>(path);
      owned_ = false;
      return STATUS_SUCCESS;
    }
    const ULONG base = relativeTo & ~RTL_REGISTRY_OPTIONAL;
    if (base >= RTL_REGISTRY_MAXIMUM) return STATUS_INVALID_PARAMETER;
    std::u16string name = kBases[base];
    const std::u16string rest = Text(path);
    if (!name.empty() && !rest.empty() && rest.front() != u'\\') name += u'\\';
    name += rest;
    return OpenAt(nullptr, name, create, access);
  }
  NTSTATUS OpenAt(HANDLE root, const std::u16string& name, bool create, ACCESS_MASK access = KEY_ALL_ACCESS) {
    UNICODE_STRING u = View(name);
    OBJECT_ATTRIBUTES a{sizeof(OBJECT_ATTRIBUTES), root, &u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, nullptr, nullptr};
    owned_ = true;
    return create ? ZwCreateKey(&handle_, access, &a, 0, nullptr, 0, nullptr) : ZwOpenKey(&handle_, access, &a);
  }
  ~Key() {
    if (owned_ && handle_) ZwClose(handle_);
  }
  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  HANDLE get() const { return handle_; }

 private:
  HANDLE handle_ = nullptr;
  bool owned_ = false;
};

struct Value {
  std::u16string name;
  ULONG type = REG_NONE;
  std::vector<std::uint8_t> data;
};

// Asks query(buffer, length, &needed) again with a larger buffer until the answer fits.
template <class Query>
NTSTATUS Grown(std::vector<std::uint8_t>& buffer, Query query) {
  for (;;) {
    ULONG needed = 0;
    const NTSTATUS s = query(buffer.data(), static_cast<ULONG>(buffer.size()), &needed);
    if (s != STATUS_BUFFER_OVERFLOW && s != STATUS_BUFFER_TOO_SMALL) return s;
    buffer.resize(std::max<std::size_t>(needed, buffer.size() * 2));
  }
}

// One value by name; STATUS_OBJECT_NAME_NOT_FOUND when it is absent.
NTSTATUS ReadValue(HANDLE key, const std::u16string& name, Value& out) {
  std::vector<std::uint8_t> buffer(256);
  UNICODE_STRING u = View(name);
  const NTSTATUS s = Grown(buffer, [&](PVOID b, ULONG length, ULONG* needed) {
    return ZwQueryValueKey(key, &u, KeyValuePartialInformation, b, length, needed);
  });
  if (!NT_SUCCESS(s)) return s;
  const auto* info = reinterpret_cast<const KEY_VALUE_PARTIAL_INFORMATION*>(buffer.data());
  out.name = name;
  out.type = info->Type;
  out.data.assign(info->Data, info->Data + info->DataLength);
  return STATUS_SUCCESS;
}

// The index-th value of key; STATUS_NO_MORE_ENTRIES past the last.
NTSTATUS EnumerateValue(HANDLE key, ULONG index, Value& out) {
  std::vector<std::uint8_t> buffer(512);
  const NTSTATUS s = Grown(buffer, [&](PVOID b, ULONG length, ULONG* needed) {
    return ZwEnumerateValueKey(key, index, KeyValueFullInformation, b, length, needed);
  });
  if (!NT_SUCCESS(s)) return s;
  const auto* info = reinterpret_cast<const KEY_VALUE_FULL_INFORMATION*>(buffer.data());
  out.name.assign(info->Name, info->NameLength / 2);
  out.type = info->Type;
  out.data.assign(buffer.data() + info->DataOffset, buffer.data() + info->DataOffset + info->DataLength);
  return STATUS_SUCCESS;
}

// The pool tag of strings RtlQueryRegistryValues allocates ("RtRg" in !poolused).
constexpr ULONG kTag = ('g' << 24) | ('R' << 16) | ('t' << 8) | 'R';

bool IsString(ULONG type) { return type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ; }

// %NAME% replaced from the environment block ("NAME=VALUE\0...\0\0"), or for none the system's
// variables; a name that is not set stays as it is.
std::u16string Expand(const std::u16string& text, PVOID environment) {
  auto lookup = [&](const std::u16string& name) -> std::optional<std::u16string> {
    auto upper = [](std::u16string s) {
      for (auto& c : s) c = (c >= u'a' && c <= u'z') ? static_cast<char16_t>(c - 32) : c;
      return s;
    };
    if (environment) {
      for (const auto* p = static_cast<const char16_t*>(environment); *p;) {
        const std::u16string entry = Text(p);
        const auto eq = entry.find(u'=');
        if (eq != std::u16string::npos && upper(entry.substr(0, eq)) == upper(name)) return entry.substr(eq + 1);
        p += entry.size() + 1;
      }
      return std::nullopt;
    }
    const std::u16string key = upper(name);
    if (key == u"SYSTEMROOT" || key == u"WINDIR") return u"C:\\Windows";
    if (key == u"SYSTEMDRIVE") return u"C:";
    return std::nullopt;
  };
  std::u16string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto close = text[i] == u'%' ? text.find(u'%', i + 1) : std::u16string::npos;
    if (close != std::u16string::npos) {
      if (auto value = lookup(text.substr(i + 1, close - i - 1))) {
        out += *value;
        i = close + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::vector<std::uint8_t> StringData(const std::u16string& s) {
  std::vector<std::uint8_t> data((s.size() + 1) * 2, 0);
  std::memcpy(data.data(), s.data(), s.size() * 2);
  return data;
}

std::u16string DataText(const std::vector<std::uint8_t>& data) {
  std::u16string s(data.size() / 2, u'\0');
  std::memcpy(s.data(), data.data(), s.size() * 2);
  if (const auto nul = s.find(u'\0'); nul != std::u16string::npos) s.resize(nul);
  return s;
}

class Query {
 public:
  Query(PVOID context, PVOID environment) : context_(context), environment_(environment) {}

  // One value for one table entry: type-checked, expanded, then stored (DIRECT) or given to the
  // entry's routine (a REG_MULTI_SZ one string at a time).
  NTSTATUS Deliver(const RTL_QUERY_REGISTRY_TABLE& e, Value v) {
    if ((e.Flags & RTL_QUERY_REGISTRY_DIRECT) && (e.Flags & RTL_QUERY_REGISTRY_TYPECHECK)) {
      const ULONG expected = e.DefaultType >> RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
      if (expected != REG_NONE && v.type != expected) return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (!(e.Flags & RTL_QUERY_REGISTRY_NOEXPAND)) {
      if (v.type == REG_EXPAND_SZ) {
        v.data = StringData(Expand(DataText(v.data), environment_));
        v.type = REG_SZ;
      } else if (v.type == REG_MULTI_SZ && !(e.Flags & RTL_QUERY_REGISTRY_DIRECT)) {
        // Each string of the list on its own, as REG_SZ.
        for (std::size_t at = 0; at + 1 < v.data.size();) {
          std::vector<std::uint8_t> rest(v.data.begin() + static_cast<long>(at), v.data.end());
          const std::u16string one = DataText(rest);
          if (one.empty()) break;
          if (const NTSTATUS s = Deliver(e, Value{v.name, REG_SZ, StringData(one)}); !NT_SUCCESS(s)) return s;
          at += (one.size() + 1) * 2;
        }
        return STATUS_SUCCESS;
      }
    }
    if (e.Flags & RTL_QUERY_REGISTRY_DIRECT) return Store(e, v);
    std::u16string name = v.name;
    name.push_back(u'\0');
    const auto length = static_cast<ULONG>(v.data.size());
    return cpu::CallDriver(e.QueryRoutine, v.name.empty() && v.type == REG_NONE ? nullptr : name.data(), v.type,
                           v.data.empty() ? nullptr : v.data.data(), length, context_, e.EntryContext);
  }

  // DIRECT: a string into the UNICODE_STRING EntryContext points to (allocated when its buffer is
  // NULL), up to four bytes into the ULONG there, anything longer into the buffer whose first LONG
  // is its size (negative: data only; positive: length, type, then data).
  NTSTATUS Store(const RTL_QUERY_REGISTRY_TABLE& e, const Value& v) {
    if (!e.EntryContext) return STATUS_INVALID_PARAMETER;
    if (IsString(v.type) && !(e.Flags & RTL_QUERY_REGISTRY_NOSTRING)) {
      auto* out = static_cast<UNICODE_STRING*>(e.EntryContext);
      std::vector<std::uint8_t> data = v.data;
      if (data.size() < 2 || data[data.size() - 1] != 0 || data[data.size() - 2] != 0) data.insert(data.end(), {0, 0});
      if (data.size() > 0xFFFE) return STATUS_BUFFER_TOO_SMALL;
      const auto length = static_cast<USHORT>(data.size() - 2);  // without the terminating NUL
      if (!out->Buffer) {
        out->Buffer = static_cast<WCHAR*>(ExAllocatePoolWithTag(PagedPool, data.size(), kTag));
        if (!out->Buffer) return STATUS_INSUFFICIENT_RESOURCES;
        out->MaximumLength = static_cast<USHORT>(data.size());
      } else if (out->MaximumLength < data.size()) {
        return STATUS_BUFFER_TOO_SMALL;
      }
      std::memcpy(out->Buffer, data.data(), data.size());
      out->Length = length;
      return STATUS_SUCCESS;
    }
    if (v.data.size() <= sizeof(ULONG)) {
      std::memcpy(e.EntryContext, v.data.data(), v.data.size());
      return STATUS_SUCCESS;
    }
    LONG size = 0;
    std::memcpy(&size, e.EntryContext, sizeof size);
    auto* bytes = static_cast<std::uint8_t*>(e.EntryContext);
    if (size < 0) {
      if (static_cast<std::uint64_t>(-static_cast<std::int64_t>(size)) < v.data.size()) return STATUS_BUFFER_TOO_SMALL;
      std::memcpy(bytes, v.data.data(), v.data.size());
      return STATUS_SUCCESS;
    }
    if (static_cast<std::uint64_t>(size) < v.data.size() + 8) return STATUS_BUFFER_TOO_SMALL;
    const auto length = static_cast<ULONG>(v.data.size());
    std::memcpy(bytes, &length, 4);
    std::memcpy(bytes + 4, &v.type, 4);
    std::memcpy(bytes + 8, v.data.data(), v.data.size());
    return STATUS_SUCCESS;
  }

  // A named value absent: REQUIRED fails, else the entry's default is delivered (if it has one).
  NTSTATUS Default(const RTL_QUERY_REGISTRY_TABLE& e, const std::u16string& name) {
    if (e.Flags & RTL_QUERY_REGISTRY_REQUIRED) return STATUS_OBJECT_NAME_NOT_FOUND;
    const ULONG type = (e.Flags & RTL_QUERY_REGISTRY_TYPECHECK) ? (e.DefaultType & 0xFFFFFF) : e.DefaultType;
    if (type == REG_NONE) return STATUS_SUCCESS;
    Value v{name, type, {}};
    std::size_t length = e.DefaultLength;
    const auto* data = static_cast<const std::uint8_t*>(e.DefaultData);
    if (length == 0 && data && IsString(type)) {
      // Its length from the data: one NUL ends a string, two a list.
      const auto* w = static_cast<const char16_t*>(e.DefaultData);
      std::size_t n = 0;
      while (w[n] || (type == REG_MULTI_SZ && w[n + 1])) ++n;
      length = (n + (type == REG_MULTI_SZ ? 2 : 1)) * 2;
    }
    if (data) v.data.assign(data, data + length);
    // Default data goes through the same path (a type check against its own type passes).
    RTL_QUERY_REGISTRY_TABLE entry = e;
    entry.Flags &= ~RTL_QUERY_REGISTRY_TYPECHECK;
    return Deliver(entry, std::move(v));
  }

 private:
  PVOID context_;
  PVOID environment_;
};

}  // namespace

NTSTATUS NTAPI RtlQueryRegistryValues(ULONG RelativeTo, PCWSTR Path, RTL_QUERY_REGISTRY_TABLE* QueryTable,
                                      PVOID Context, PVOID Environment) {
  if (!QueryTable) return STATUS_INVALID_PARAMETER;
  Key top;
  if (const NTSTATUS s = top.Open(RelativeTo, Path, false); !NT_SUCCESS(s)) {
    // An optional key that is absent: nothing to query.
    return (RelativeTo & RTL_REGISTRY_OPTIONAL) && s == STATUS_OBJECT_NAME_NOT_FOUND ? STATUS_SUCCESS : s;
  }
  Query query(Context, Environment);
  std::unique_ptr<Key> sub;  // the SUBKEY entries' key, while one is current
  HANDLE current = top.get();
  // The table ends at an entry with neither a routine nor SUBKEY or DIRECT.
  for (RTL_QUERY_REGISTRY_TABLE* e = QueryTable;
       e->QueryRoutine || (e->Flags & (RTL_QUERY_REGISTRY_SUBKEY | RTL_QUERY_REGISTRY_DIRECT)); ++e) {
    if (e->Flags & (RTL_QUERY_REGISTRY_SUBKEY | RTL_QUERY_REGISTRY_TOPKEY)) {
      sub.reset();
      current = top.get();
      if (e->Flags & RTL_QUERY_REGISTRY_SUBKEY) {
        sub = std::make_unique<Key>();
        if (const NTSTATUS s = sub->OpenAt(top.get(), Text(e->Name), false); !NT_SUCCESS(s)) return s;
        current = sub->get();
      }
      // With a routine of its own, the entry then covers every value of its key (below).
      if (!e->QueryRoutine || (e->Flags & RTL_QUERY_REGISTRY_DIRECT)) continue;
    } else if (e->Name) {
      const std::u16string name = Text(e->Name);
      Value v;
      NTSTATUS s = ReadValue(current, name, v);
      if (s == STATUS_OBJECT_NAME_NOT_FOUND) {
        s = query.Default(*e, name);
      } else if (NT_SUCCESS(s)) {
        s = query.Deliver(*e, std::move(v));
        if (NT_SUCCESS(s) && (e->Flags & RTL_QUERY_REGISTRY_DELETE)) {
          UNICODE_STRING u = View(name);
          (void)ZwDeleteValueKey(current, &u);
        }
      }
      if (!NT_SUCCESS(s)) return s;
      continue;
    }
    if (e->Flags & RTL_QUERY_REGISTRY_NOVALUE) {
      // The routine once, with no value.
      if (const NTSTATUS s = query.Deliver(*e, Value{}); !NT_SUCCESS(s)) return s;
      continue;
    }
    // No name: every value of the key.
    for (ULONG index = 0;; ++index) {
      Value v;
      NTSTATUS s = EnumerateValue(current, index, v);
      if (s == STATUS_NO_MORE_ENTRIES) break;
      if (NT_SUCCESS(s)) s = query.Deliver(*e, std::move(v));
      if (!NT_SUCCESS(s)) return s;
    }
  }
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlQueryRegistryValuesEx(ULONG RelativeTo, PCWSTR Path, RTL_QUERY_REGISTRY_TABLE* QueryTable,
                                        PVOID Context, PVOID Environment) {
  return RtlQueryRegistryValues(RelativeTo, Path, QueryTable, Context, Environment);
}

NTSTATUS NTAPI RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName, ULONG ValueType,
                                     PVOID ValueData, ULONG ValueLength) {
  Key key;
  if (const NTSTATUS s = key.Open(RelativeTo, Path, true, KEY_SET_VALUE); !NT_SUCCESS(s)) return s;
  const std::u16string name = Text(ValueName);
  UNICODE_STRING u = View(name);
  return ZwSetValueKey(key.get(), &u, 0, ValueType, ValueData, ValueLength);
}

NTSTATUS NTAPI RtlDeleteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName) {
  Key key;
  if (const NTSTATUS s = key.Open(RelativeTo, Path, false, KEY_SET_VALUE); !NT_SUCCESS(s)) return s;
  const std::u16string name = Text(ValueName);
  UNICODE_STRING u = View(name);
  return ZwDeleteValueKey(key.get(), &u);
}

NTSTATUS NTAPI RtlCheckRegistryKey(ULONG RelativeTo, PWSTR Path) {
  Key key;
  return key.Open(RelativeTo, Path, false, KEY_READ);
}

NTSTATUS NTAPI RtlCreateRegistryKey(ULONG RelativeTo, PWSTR Path) {
  Key key;
  return key.Open(RelativeTo, Path, true, KEY_ALL_ACCESS);
}

}  // namespace ntbox::nt
