// The machine's registry: a tree of keys and typed values in one SQLite file. Every change is
// one transaction (WAL, synchronous=FULL), so killing the process at any moment loses or
// half-writes nothing. Paths are relative to \REGISTRY ("MACHINE\SYSTEM\..."), compared without
// case as Windows does; "CurrentControlSet" is the link to ControlSet001.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/Result.h"
#include "support/Utf16.h"

struct sqlite3;

namespace ntbox::machine {

// Value types as winnt.h numbers them.
enum RegType : std::uint32_t {
  REG_NONE = 0,
  REG_SZ = 1,
  REG_EXPAND_SZ = 2,
  REG_BINARY = 3,
  REG_DWORD = 4,
  REG_DWORD_BIG_ENDIAN = 5,
  REG_LINK = 6,
  REG_MULTI_SZ = 7,
  REG_QWORD = 11,
};
std::string_view RegTypeName(std::uint32_t type);  // "REG_DWORD"; empty when unknown
std::optional<std::uint32_t> RegTypeFromName(std::string_view name);

// A value with its data as Windows stores it (strings are UTF-16LE with their terminator).
struct RegValue {
  std::string name;  // empty: the key's default value
  std::uint32_t type = REG_NONE;
  std::vector<std::uint8_t> data;

  static RegValue Dword(std::string name, std::uint32_t v);
  static RegValue Qword(std::string name, std::uint64_t v);
  static RegValue String(std::string name, std::string_view utf8, std::uint32_t type = REG_SZ);
  static RegValue MultiString(std::string name, const std::vector<std::string>& utf8);
  std::optional<std::uint32_t> AsDword() const;
  std::optional<std::uint64_t> AsQword() const;
  std::optional<std::string> AsString() const;  // REG_SZ / REG_EXPAND_SZ as UTF-8
  std::vector<std::string> AsMultiString() const;
};

using ntbox::Utf16ToUtf8;
using ntbox::Utf8ToUtf16;

class Registry {
 public:
  static Result<std::unique_ptr<Registry>> Open(const std::string& file);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // "MACHINE\SYSTEM\CurrentControlSet\Services" → "MACHINE\SYSTEM\ControlSet001\Services",
  // separators and empty components cleaned. Keys keep the case they were created with.
  static std::string Normalize(std::string_view path);

  // Windows' limit on how deep keys nest.
  static constexpr std::size_t kMaxDepth = 512;

  bool KeyExists(std::string_view path);
  Result<void> CreateKey(std::string_view path);  // with missing parents
  // Deletes a key and everything below it; error when it does not exist, and (access denied) for
  // the root keys, the hives' roots and the control set, which Windows never lets go.
  Result<void> DeleteKey(std::string_view path);
  Result<void> SetValue(std::string_view path, const RegValue& value);  // creates the key
  Result<void> DeleteValue(std::string_view path, std::string_view name);
  std::optional<RegValue> GetValue(std::string_view path, std::string_view name);
  std::vector<RegValue> Values(std::string_view path);
  std::vector<std::string> Subkeys(std::string_view path);  // names, sorted as RegEnumKeyEx returns them
  // The stored spelling of a key path ("MACHINE\SYSTEM\ControlSet001\Services\Beep").
  std::optional<std::string> CanonicalPath(std::string_view path);

  // Runs fn inside one transaction: all of its changes land or none does.
  Result<void> Atomically(const std::function<Result<void>()>& fn);
  // A root key, a hive's root or the control set: never deleted.
  static bool IsPermanentKey(std::string_view path);

 private:
  explicit Registry(sqlite3* db) : db_(db) {}
  Result<void> Exec(const char* sql);
  std::optional<std::int64_t> FindKey(std::string_view path);
  Result<std::int64_t> EnsureKey(std::string_view path);
  Result<void> Change(const std::function<Result<void>()>& fn);

  sqlite3* db_;
  // Drivers (under the kernel lock), reg and sc (under the command lock) and the control plane
  // (under neither) share one connection: a change's transaction and its nested calls must not
  // interleave with another thread's, so every public call holds this.
  std::recursive_mutex mutex_;
  int depth_ = 0;  // nesting of Atomically/Change
};

}  // namespace ntbox::machine
