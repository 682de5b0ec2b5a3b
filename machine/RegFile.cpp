#include "machine/RegFile.h"

#include <charconv>

#include <cstring>

#include <fmt/format.h>

#include "nt/se/SeExports.h"
#include "support/Text.h"

namespace ntbox::machine {
namespace {

// Root names reg.exe accepts: {short, long, registry path}.
struct Root {
  std::string_view shortName, longName, path;
};
constexpr Root kRoots[] = {
    {"HKLM", "HKEY_LOCAL_MACHINE", "MACHINE"},
    {"HKU", "HKEY_USERS", "USER"},
    {"HKCU", "HKEY_CURRENT_USER", nt::se::kUserKey},  // the user programs run as
};

const Root* FindRoot(std::string_view keyName) {
  const std::string root = AsciiUpper(keyName.substr(0, keyName.find('\\')));
  for (const Root& r : kRoots) {
    if (root == r.shortName || root == r.longName) return &r;
  }
  return nullptr;
}

std::string DecodeText(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE) {
    std::u16string w((bytes.size() - 2) / 2, u'\0');
    std::memcpy(w.data(), bytes.data() + 2, w.size() * 2);
    return Utf16ToUtf8(w);
  }
  std::size_t skip = (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) ? 3 : 0;
  return std::string(bytes.begin() + static_cast<std::ptrdiff_t>(skip), bytes.end());
}

// "..." with \\ and \" escapes; returns the text and advances pos past the closing quote.
std::optional<std::string> Quoted(std::string_view s, std::size_t& pos) {
  if (pos >= s.size() || s[pos] != '"') return std::nullopt;
  std::string out;
  for (++pos; pos < s.size(); ++pos) {
    if (s[pos] == '\\' && pos + 1 < s.size()) {
      out += s[++pos];
    } else if (s[pos] == '"') {
      ++pos;
      return out;
    } else {
      out += s[pos];
    }
  }
  return std::nullopt;
}

std::optional<std::vector<std::uint8_t>> HexBytes(std::string_view s) {
  std::vector<std::uint8_t> out;
  std::string digits;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!digits.empty()) {
        if (digits.size() > 2) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(std::stoul(digits, nullptr, 16)));
        digits.clear();
      }
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits += c;
  }
  if (!digits.empty()) {
    if (digits.size() > 2) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(std::stoul(digits, nullptr, 16)));
  }
  return out;
}

std::string EscapeString(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

std::string HexList(std::string prefix, const std::vector<std::uint8_t>& data) {
  // Wrapped as regedit does: lines of at most 80 columns continued with a backslash.
  std::string out = prefix;
  std::size_t column = prefix.size();
  for (std::size_t i = 0; i < data.size(); ++i) {
    std::string item = fmt::format("{:02x}", data[i]);
    if (i + 1 < data.size()) item += ',';
    if (column + item.size() > 78 && i + 1 < data.size()) {
      out += "\\\r\n  ";
      column = 2;
    }
    out += item;
    column += item.size();
  }
  return out;
}

}  // namespace

std::optional<std::string> RegistryPathFromKeyName(std::string_view keyName) {
  const Root* root = FindRoot(keyName);
  if (!root) return std::nullopt;
  const auto slash = keyName.find('\\');
  const std::string rest = slash == std::string_view::npos ? "" : std::string(keyName.substr(slash + 1));
  return Registry::Normalize(std::string(root->path) + "\\" + rest);
}

std::string LongKeyName(std::string_view keyName) {
  std::string key(keyName);
  while (!key.empty() && key.back() == '\\') key.pop_back();
  const Root* root = FindRoot(key);
  const auto slash = key.find('\\');
  if (!root) return key;
  return std::string(root->longName) + (slash == std::string::npos ? "" : key.substr(slash));
}

std::string FormatRegFileValue(const RegValue& v) {
  std::string name = v.name.empty() ? "@" : "\"" + EscapeString(v.name) + "\"";
  if (v.type == REG_SZ) return name + "=\"" + EscapeString(v.AsString().value_or("")) + "\"";
  if (v.type == REG_DWORD && v.data.size() == 4) return name + fmt::format("=dword:{:08x}", *v.AsDword());
  std::string prefix = name + "=";
  prefix += v.type == REG_BINARY ? "hex:" : fmt::format("hex({:x}):", v.type);
  return HexList(prefix, v.data);
}

Result<std::vector<RegFileOp>> ParseRegFile(const std::vector<std::uint8_t>& bytes) {
  const std::string text = DecodeText(bytes);
  std::vector<RegFileOp> ops;
  std::optional<std::string> currentKey;
  bool deletingKey = false;
  bool header = false;
  std::size_t lineNo = 0;
  std::size_t pos = 0;
  auto bad = [&](std::size_t line, std::string why) {
    return std::unexpected(Error{fmt::format("line {}: {}", line, why), 0, 87});
  };
  while (pos < text.size()) {
    // One logical line: physical lines joined where a line ends with a backslash (hex lists).
    std::string line;
    const std::size_t firstLine = lineNo + 1;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string physical = text.substr(pos, end - pos);
      pos = end + 1;
      ++lineNo;
      if (!physical.empty() && physical.back() == '\r') physical.pop_back();
      const bool continues =
          !physical.empty() && physical.back() == '\\' && (line + physical).find("=hex") != std::string::npos;
      if (continues) {
        physical.pop_back();
        line += physical;
        continue;
      }
      line += physical;
      break;
    }
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    if (l.empty() || l.front() == ';') continue;
    if (!header) {
      if (l != "Windows Registry Editor Version 5.00" && l != "REGEDIT4") {
        return bad(firstLine, "not a .reg file: the first line must be \"Windows Registry Editor Version 5.00\"");
      }
      header = true;
      continue;
    }
    if (l.front() == '[') {
      if (l.back() != ']') return bad(firstLine, "a key line must end with ']'");
      std::string_view name = l.substr(1, l.size() - 2);
      deletingKey = !name.empty() && name.front() == '-';
      if (deletingKey) name.remove_prefix(1);
      const auto path = RegistryPathFromKeyName(name);
      if (!path || name.empty()) return bad(firstLine, "unknown root key in [" + std::string(name) + "]");
      currentKey = *path;
      ops.push_back({deletingKey ? RegFileOp::kDeleteKey : RegFileOp::kCreateKey, *path, {}});
      continue;
    }
    if (!currentKey) return bad(firstLine, "a value before any [key] line");
    if (deletingKey) return bad(firstLine, "a value under a key that is being deleted ([-...])");
    std::size_t at = 0;
    std::string name;
    if (l.front() == '@') {
      at = 1;
    } else {
      auto quoted = Quoted(l, at);
      if (!quoted) return bad(firstLine, "expected \"name\"=value or @=value");
      name = std::move(*quoted);
    }
    if (at >= l.size() || l[at] != '=') return bad(firstLine, "expected '=' after the value name");
    std::string_view data = l.substr(at + 1);
    if (data == "-") {
      ops.push_back({RegFileOp::kDeleteValue, *currentKey, RegValue{name, REG_NONE, {}}});
      continue;
    }
    RegValue value;
    if (!data.empty() && data.front() == '"') {
      std::size_t q = 0;
      auto s = Quoted(data, q);
      if (!s || q != data.size()) return bad(firstLine, "unterminated string value");
      value = RegValue::String(name, *s);
    } else if (data.starts_with("dword:")) {
      const std::string_view digits = data.substr(6);
      if (digits.empty() || digits.size() > 8 ||
          digits.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
        return bad(firstLine, "dword: needs up to 8 hex digits");
      }
      value = RegValue::Dword(name, static_cast<std::uint32_t>(std::stoul(std::string(digits), nullptr, 16)));
    } else if (data.starts_with("hex")) {
      std::uint32_t type = REG_BINARY;
      std::string_view rest = data.substr(3);
      if (!rest.empty() && rest.front() == '(') {
        const auto close = rest.find(')');
        if (close == std::string_view::npos || close == 1) return bad(firstLine, "hex(type) is malformed");
        const std::string_view t = rest.substr(1, close - 1);
        // A value type is a DWORD: at most 8 hex digits (more overflowed the parse once).
        if (t.size() > 8 || std::from_chars(t.data(), t.data() + t.size(), type, 16).ptr != t.data() + t.size()) {
          return bad(firstLine, "hex(type) is malformed");
        }
        rest.remove_prefix(close + 1);
      }
      if (rest.empty() || rest.front() != ':') return bad(firstLine, "expected ':' after hex");
      auto bytesValue = HexBytes(rest.substr(1));
      if (!bytesValue) return bad(firstLine, "hex data must be comma-separated bytes (00-ff)");
      value = RegValue{name, type, std::move(*bytesValue)};
    } else {
      return bad(firstLine, "unknown value format '" + std::string(data.substr(0, 20)) + "'");
    }
    ops.push_back({RegFileOp::kSetValue, *currentKey, std::move(value)});
  }
  if (!header) return bad(1, "empty file: no \"Windows Registry Editor Version 5.00\" line");
  return ops;
}

Result<void> ApplyRegFile(Registry& registry, const std::vector<RegFileOp>& ops) {
  return registry.Atomically([&]() -> Result<void> {
    for (const auto& op : ops) {
      Result<void> r;
      switch (op.kind) {
        case RegFileOp::kCreateKey:
          r = registry.CreateKey(op.key);
          break;
        case RegFileOp::kDeleteKey:
          if (registry.KeyExists(op.key)) r = registry.DeleteKey(op.key);
          break;
        case RegFileOp::kSetValue:
          r = registry.SetValue(op.key, op.value);
          break;
        case RegFileOp::kDeleteValue:
          if (registry.GetValue(op.key, op.value.name)) r = registry.DeleteValue(op.key, op.value.name);
          break;
      }
      if (!r) return r;
    }
    return {};
  });
}

namespace {

void ExportKey(Registry& registry, const std::string& path, const std::string& keyName, std::string& out) {
  out += "[" + keyName + "]\r\n";
  for (const auto& v : registry.Values(path)) out += FormatRegFileValue(v) + "\r\n";
  out += "\r\n";
  for (const auto& sub : registry.Subkeys(path)) ExportKey(registry, path + "\\" + sub, keyName + "\\" + sub, out);
}

}  // namespace

std::vector<std::uint8_t> ExportRegFile(Registry& registry, const std::string& path, const std::string& keyName) {
  std::string text = "Windows Registry Editor Version 5.00\r\n\r\n";
  ExportKey(registry, path, keyName, text);
  const std::u16string w = Utf8ToUtf16(text);
  std::vector<std::uint8_t> out{0xFF, 0xFE};
  out.resize(2 + w.size() * 2);
  std::memcpy(out.data() + 2, w.data(), w.size() * 2);
  return out;
}

}  // namespace ntbox::machine
