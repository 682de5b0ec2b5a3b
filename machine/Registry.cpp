#include "machine/Registry.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "support/Text.h"

namespace ntbox::machine {
namespace {

constexpr std::array<std::pair<std::uint32_t, std::string_view>, 9> kTypeNames{{
    {REG_NONE, "REG_NONE"},
    {REG_SZ, "REG_SZ"},
    {REG_EXPAND_SZ, "REG_EXPAND_SZ"},
    {REG_BINARY, "REG_BINARY"},
    {REG_DWORD, "REG_DWORD"},
    {REG_DWORD_BIG_ENDIAN, "REG_DWORD_BIG_ENDIAN"},
    {REG_LINK, "REG_LINK"},
    {REG_MULTI_SZ, "REG_MULTI_SZ"},
    {REG_QWORD, "REG_QWORD"},
}};

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : path) {
    if (c == '\\' || c == '/') {
      if (!current.empty()) parts.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(std::move(current));
  return parts;
}

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& Bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& BindBlob(int i, const std::vector<std::uint8_t>& v) {
    sqlite3_bind_blob(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  bool Step() { return stmt_ && sqlite3_step(stmt_) == SQLITE_ROW; }
  int Run() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::vector<std::uint8_t> Blob(int col) {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(stmt_, col)) : std::vector<std::uint8_t>{};
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr std::int64_t kRootKey = 1;  // \REGISTRY

}  // namespace

std::string_view RegTypeName(std::uint32_t type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return {};
}

std::optional<std::uint32_t> RegTypeFromName(std::string_view name) {
  for (const auto& [t, n] : kTypeNames) {
    if (AsciiLower(n) == AsciiLower(name)) return t;
  }
  return std::nullopt;
}

RegValue RegValue::Dword(std::string name, std::uint32_t v) {
  RegValue r{std::move(name), REG_DWORD, std::vector<std::uint8_t>(4)};
  std::memcpy(r.data.data(), &v, 4);
  return r;
}

RegValue RegValue::Qword(std::string name, std::uint64_t v) {
  RegValue r{std::move(name), REG_QWORD, std::vector<std::uint8_t>(8)};
  std::memcpy(r.data.data(), &v, 8);
  return r;
}

RegValue RegValue::String(std::string name, std::string_view utf8, std::uint32_t type) {
  std::u16string w = Utf8ToUtf16(utf8);
  w.push_back(0);
  RegValue r{std::move(name), type, std::vector<std::uint8_t>(w.size() * 2)};
  std::memcpy(r.data.data(), w.data(), r.data.size());
  return r;
}

RegValue RegValue::MultiString(std::string name, const std::vector<std::string>& utf8) {
  std::u16string w;
  for (const auto& s : utf8) {
    w += Utf8ToUtf16(s);
    w.push_back(0);
  }
  w.push_back(0);
  RegValue r{std::move(name), REG_MULTI_SZ, std::vector<std::uint8_t>(w.size() * 2)};
  std::memcpy(r.data.data(), w.data(), r.data.size());
  return r;
}

std::optional<std::uint32_t> RegValue::AsDword() const {
  if (type != REG_DWORD || data.size() != 4) return std::nullopt;
  std::uint32_t v;
  std::memcpy(&v, data.data(), 4);
  return v;
}

std::optional<std::uint64_t> RegValue::AsQword() const {
  if (type != REG_QWORD || data.size() != 8) return std::nullopt;
  std::uint64_t v;
  std::memcpy(&v, data.data(), 8);
  return v;
}

std::optional<std::string> RegValue::AsString() const {
  if (type != REG_SZ && type != REG_EXPAND_SZ) return std::nullopt;
  std::u16string w(data.size() / 2, u'\0');
  std::memcpy(w.data(), data.data(), w.size() * 2);
  if (const auto nul = w.find(u'\0'); nul != std::u16string::npos) w.resize(nul);
  return Utf16ToUtf8(w);
}

std::vector<std::string> RegValue::AsMultiString() const {
  std::vector<std::string> out;
  if (type != REG_MULTI_SZ) return out;
  std::u16string w(data.size() / 2, u'\0');
  std::memcpy(w.data(), data.data(), w.size() * 2);
  std::size_t start = 0;
  while (start < w.size()) {
    std::size_t end = w.find(u'\0', start);
    if (end == std::u16string::npos) end = w.size();
    if (end == start) break;  // the empty string that ends the list
    out.push_back(Utf16ToUtf8(std::u16string_view(w).substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

namespace {

// SQLite's own file layer, but taking a path as given: its unix layer resolves symbolic links in a
// database's path, and a server that gave root up reaches its machine directory through one
// (/proc/self/fd/N) whose target it may not walk to (under /root).
int PathAsGiven(sqlite3_vfs*, const char* name, int size, char* out) {
  if (static_cast<int>(std::strlen(name)) >= size) return SQLITE_CANTOPEN;
  std::strcpy(out, name);
  return SQLITE_OK;
}

const char* AsGivenVfs() {
  static sqlite3_vfs vfs = [] {
    sqlite3_vfs v = *sqlite3_vfs_find(nullptr);
    v.zName = "ntbox-unix";
    v.xFullPathname = PathAsGiven;
    return v;
  }();
  static const bool registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
  return registered ? vfs.zName : nullptr;
}

}  // namespace

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& file) {
  sqlite3* db = nullptr;
  // An absolute path goes as given; ":memory:" and relative ones take SQLite's usual way.
  const char* vfs = file.starts_with("/") ? AsGivenVfs() : nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      vfs) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Fail("cannot open the registry '" + file + "': " + message);
  }
  std::unique_ptr<Registry> registry(new Registry(db));
  sqlite3_busy_timeout(db, 5000);  // another ntbox process may be writing
  if (auto r = registry->Exec(
          "PRAGMA journal_mode=WAL;"
          "PRAGMA synchronous=FULL;"
          "PRAGMA foreign_keys=ON;"
          "CREATE TABLE IF NOT EXISTS keys(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES keys(id) ON "
          "DELETE CASCADE, name TEXT NOT NULL, lname TEXT NOT NULL, UNIQUE(parent, lname));"
          "CREATE TABLE IF NOT EXISTS vals(key INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE, name "
          "TEXT NOT NULL, lname TEXT NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, seq INTEGER PRIMARY "
          "KEY AUTOINCREMENT, UNIQUE(key, lname));"
          "INSERT OR IGNORE INTO keys(id, parent, name, lname) VALUES (1, NULL, '', '');");
      !r) {
    return Fail("cannot open the registry '" + file + "': " + r.error().message);
  }
  return registry;
}

Registry::~Registry() { sqlite3_close(db_); }

Result<void> Registry::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown SQLite error";
    sqlite3_free(error);
    return Fail(message);
  }
  return {};
}

std::string Registry::Normalize(std::string_view path) {
  auto parts = Split(path);
  if (parts.size() >= 3 && AsciiLower(parts[0]) == "machine" && AsciiLower(parts[1]) == "system" &&
      AsciiLower(parts[2]) == "currentcontrolset") {
    parts[2] = "ControlSet001";
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '\\';
    out += p;
  }
  return out;
}

// HKLM and HKU themselves, the hives' roots below them (SYSTEM, SOFTWARE, .DEFAULT ...) and the
// current control set: Windows refuses to delete them (they are hives, or in use).
bool Registry::IsPermanentKey(std::string_view path) {
  const auto parts = Split(Normalize(path));
  if (parts.size() <= 2) return true;
  return parts.size() == 3 && AsciiLower(parts[0]) == "machine" && AsciiLower(parts[1]) == "system" &&
         AsciiLower(parts[2]) == "controlset001";
}

std::optional<std::int64_t> Registry::FindKey(std::string_view path) {
  std::int64_t id = kRootKey;
  for (const auto& part : Split(Normalize(path))) {
    Statement s(db_, "SELECT id FROM keys WHERE parent = ?1 AND lname = ?2");
    if (!s.Bind(1, id).Bind(2, AsciiLower(part)).Step()) return std::nullopt;
    id = s.Int(0);
  }
  return id;
}

Result<std::int64_t> Registry::EnsureKey(std::string_view path) {
  std::int64_t id = kRootKey;
  const auto parts = Split(Normalize(path));
  // MACHINE or USER is \REGISTRY's own level: a key's depth counts from the hive's root key.
  if (parts.size() > kMaxDepth + 1) {
    return Fail(fmt::format("keys nest at most {} levels deep", kMaxDepth), 0, 87);
  }
  for (const auto& part : parts) {
    Statement find(db_, "SELECT id FROM keys WHERE parent = ?1 AND lname = ?2");
    if (find.Bind(1, id).Bind(2, AsciiLower(part)).Step()) {
      id = find.Int(0);
      continue;
    }
    Statement insert(db_, "INSERT INTO keys(parent, name, lname) VALUES (?1, ?2, ?3)");
    if (insert.Bind(1, id).Bind(2, part).Bind(3, AsciiLower(part)).Run() != SQLITE_DONE) {
      return Fail(std::string("registry write failed: ") + sqlite3_errmsg(db_));
    }
    id = sqlite3_last_insert_rowid(db_);
  }
  return id;
}

Result<void> Registry::Change(const std::function<Result<void>()>& fn) {
  std::lock_guard lock(mutex_);
  if (depth_ > 0) return fn();
  if (auto r = Exec("BEGIN IMMEDIATE"); !r) return r;
  ++depth_;
  auto result = fn();
  --depth_;
  if (!result) {
    (void)Exec("ROLLBACK");
    return result;
  }
  if (auto r = Exec("COMMIT"); !r) {
    (void)Exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<void> Registry::Atomically(const std::function<Result<void>()>& fn) { return Change(fn); }

bool Registry::KeyExists(std::string_view path) {
  std::lock_guard lock(mutex_);
  return FindKey(path).has_value();
}

Result<void> Registry::CreateKey(std::string_view path) {
  return Change([&]() -> Result<void> {
    auto id = EnsureKey(path);
    if (!id) return std::unexpected(id.error());
    return {};
  });
}

Result<void> Registry::DeleteKey(std::string_view path) {
  return Change([&]() -> Result<void> {
    const auto id = FindKey(path);
    if (!id) return Fail("the key does not exist", 0, 2);
    if (*id == kRootKey) return Fail("the registry root cannot be deleted", 0, 5);
    if (IsPermanentKey(path)) return Fail("a root key, a hive's root or the control set cannot be deleted", 0, 5);
    Statement s(db_, "DELETE FROM keys WHERE id = ?1");
    if (s.Bind(1, *id).Run() != SQLITE_DONE) return Fail(std::string("registry write failed: ") + sqlite3_errmsg(db_));
    return {};
  });
}

Result<void> Registry::SetValue(std::string_view path, const RegValue& value) {
  return Change([&]() -> Result<void> {
    auto id = EnsureKey(path);
    if (!id) return std::unexpected(id.error());
    Statement s(db_,
                "INSERT INTO vals(key, name, lname, type, data) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT(key, lname) DO UPDATE SET type = excluded.type, data = excluded.data");
    s.Bind(1, *id).Bind(2, value.name).Bind(3, AsciiLower(value.name)).Bind(4, value.type).BindBlob(5, value.data);
    if (s.Run() != SQLITE_DONE) return Fail(std::string("registry write failed: ") + sqlite3_errmsg(db_));
    return {};
  });
}

Result<void> Registry::DeleteValue(std::string_view path, std::string_view name) {
  return Change([&]() -> Result<void> {
    const auto id = FindKey(path);
    if (!id) return Fail("the key does not exist", 0, 2);
    Statement s(db_, "DELETE FROM vals WHERE key = ?1 AND lname = ?2");
    if (s.Bind(1, *id).Bind(2, AsciiLower(name)).Run() != SQLITE_DONE) {
      return Fail(std::string("registry write failed: ") + sqlite3_errmsg(db_));
    }
    if (sqlite3_changes(db_) == 0) return Fail("the value does not exist", 0, 2);
    return {};
  });
}

std::optional<RegValue> Registry::GetValue(std::string_view path, std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto id = FindKey(path);
  if (!id) return std::nullopt;
  Statement s(db_, "SELECT name, type, data FROM vals WHERE key = ?1 AND lname = ?2");
  if (!s.Bind(1, *id).Bind(2, AsciiLower(name)).Step()) return std::nullopt;
  return RegValue{s.Text(0), static_cast<std::uint32_t>(s.Int(1)), s.Blob(2)};
}

std::vector<RegValue> Registry::Values(std::string_view path) {
  std::lock_guard lock(mutex_);
  std::vector<RegValue> out;
  const auto id = FindKey(path);
  if (!id) return out;
  Statement s(db_, "SELECT name, type, data FROM vals WHERE key = ?1 ORDER BY seq");
  s.Bind(1, *id);
  while (s.Step()) out.push_back(RegValue{s.Text(0), static_cast<std::uint32_t>(s.Int(1)), s.Blob(2)});
  return out;
}

std::vector<std::string> Registry::Subkeys(std::string_view path) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const auto id = FindKey(path);
  if (!id) return out;
  Statement s(db_, "SELECT name FROM keys WHERE parent = ?1 ORDER BY lname");
  s.Bind(1, *id);
  while (s.Step()) out.push_back(s.Text(0));
  return out;
}

std::optional<std::string> Registry::CanonicalPath(std::string_view path) {
  std::lock_guard lock(mutex_);
  std::int64_t id = kRootKey;
  std::string out;
  for (const auto& part : Split(Normalize(path))) {
    Statement s(db_, "SELECT id, name FROM keys WHERE parent = ?1 AND lname = ?2");
    if (!s.Bind(1, id).Bind(2, AsciiLower(part)).Step()) return std::nullopt;
    id = s.Int(0);
    if (!out.empty()) out += '\\';
    out += s.Text(1);
  }
  return out;
}

}  // namespace ntbox::machine
