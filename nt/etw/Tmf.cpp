#include "nt/etw/Tmf.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "support/Utf16.h"

namespace ntbox::nt::etw {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A printf conversion as a TMF writes it between '!'s: flags, width, precision, a length
// modifier (dropped: the item type gives the size) and the conversion character.
struct Spec {
  std::string flags;
  std::string width, precision;
  char conversion = 's';
};

std::optional<Spec> ParseSpec(std::string_view s) {
  Spec spec;
  std::size_t i = 0;
  while (i < s.size() && std::strchr("-+ #0", s[i])) spec.flags += s[i++];
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && spec.width.size() < 3) spec.width += s[i++];
  if (i < s.size() && s[i] == '.') {
    spec.precision = ".";
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && spec.precision.size() < 4) spec.precision += s[i++];
  }
  for (const char* length : {"I64", "I32", "ll", "hh", "h", "l", "L", "z", "I", "w"}) {
    if (s.substr(i).starts_with(length)) {
      i += std::strlen(length);
      break;
    }
  }
  if (i + 1 != s.size() || !std::strchr("diouxXcsSpeEfgG", s[i])) return std::nullopt;
  spec.conversion = s[i];
  return spec;
}

std::string Pad(const Spec& spec, std::string text) {
  const std::size_t width = spec.width.empty() ? 0 : std::stoul(spec.width);
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return spec.flags.find('-') != std::string::npos ? text + fill : fill + text;
}

std::string Integer(const Spec& spec, std::uint64_t raw, std::size_t size, bool isSigned) {
  char conversion = spec.conversion;
  if (conversion == 'p') return fmt::format("0x{:016X}", raw);
  if (conversion == 'c') return Pad(spec, std::string(1, static_cast<char>(raw)));
  if (!std::strchr("diouxX", conversion)) conversion = isSigned ? 'd' : 'u';
  const int shift = static_cast<int>(64 - 8 * size);
  const std::string format = "%" + spec.flags + spec.width + spec.precision + "ll" + conversion;
  char buffer[96];
  if (conversion == 'd' || conversion == 'i') {
    const long long v = isSigned ? static_cast<long long>(raw << shift) >> shift : static_cast<long long>(raw);
    std::snprintf(buffer, sizeof buffer, format.c_str(), v);
  } else {
    std::snprintf(buffer, sizeof buffer, format.c_str(), static_cast<unsigned long long>(raw));
  }
  return buffer;
}

std::uint64_t Raw(const std::vector<std::uint8_t>& field) {
  std::uint64_t v = 0;
  std::memcpy(&v, field.data(), std::min<std::size_t>(field.size(), 8));
  return v;
}

// One argument's text by its item type and spec; the bytes as hex when the type is not known.
std::string Argument(const std::string& item, const Spec& spec, const std::vector<std::uint8_t>& f) {
  struct IntegerItem {
    const char* name;
    std::size_t size;
    bool isSigned;
  };
  static constexpr IntegerItem kIntegers[] = {
      {"ItemChar", 1, true},      {"ItemUChar", 1, false},       {"ItemShort", 2, true},   {"ItemUShort", 2, false},
      {"ItemLong", 4, true},      {"ItemULong", 4, false},       {"ItemULongX", 4, false}, {"ItemLongLong", 8, true},
      {"ItemULongLong", 8, false}, {"ItemULongLongX", 8, false}, {"ItemLongLongX", 8, true}, {"ItemPtr", 8, false},
      {"ItemChar4", 4, false}};
  for (const auto& i : kIntegers) {
    if (item == i.name && f.size() >= i.size) {
      Spec s = spec;
      if (item == "ItemPtr" && !std::strchr("xX", s.conversion)) s.conversion = 'p';
      return Integer(s, Raw(f), i.size, i.isSigned);
    }
  }
  if ((item == "ItemNTSTATUS" || item == "ItemWINERROR" || item == "ItemHRESULT") && f.size() >= 4) {
    return fmt::format("0x{:08X}", static_cast<std::uint32_t>(Raw(f)));
  }
  if (item == "ItemString" || item == "ItemRString" || item == "ItemPString") {
    std::string text(f.begin(), f.end());
    if (const auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
    return Pad(spec, text);
  }
  if (item == "ItemWString" || item == "ItemPWString") {
    std::u16string text;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      const char16_t c = static_cast<char16_t>(f[i] | (f[i + 1] << 8));
      if (c == 0) break;
      text += c;
    }
    return Pad(spec, Utf16ToUtf8(text));
  }
  if (item == "ItemGuid" && f.size() >= 16) {
    GUID g;
    std::memcpy(&g, f.data(), sizeof g);
    return GuidText(g);
  }
  if (item == "ItemDouble" && f.size() >= 8) {
    double d;
    std::memcpy(&d, f.data(), 8);
    return fmt::format("{}", d);
  }
  if (item == "ItemIPAddr" && f.size() >= 4) return fmt::format("{}.{}.{}.{}", f[0], f[1], f[2], f[3]);
  if (item == "ItemPort" && f.size() >= 2) return std::to_string((f[0] << 8) | f[1]);
  std::string hex;
  for (const auto b : f) hex += fmt::format("{:02x}", b);
  return "[" + hex + "]";
}

}  // namespace

Result<void> TmfSet::Add(std::string_view text, std::string_view origin) {
  std::string guid, module;
  TmfMessage* open = nullptr;  // the message whose { } item list is being read
  bool inItems = false;
  std::size_t lineNumber = 0;
  auto fail = [&](const std::string& what) { return Fail(fmt::format("{}:{}: {}", origin, lineNumber, what)); };
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++lineNumber;
    if (line.empty() || line.starts_with("//")) continue;
    if (inItems) {
      if (line == "}") {
        inItems = false;
        open = nullptr;
        continue;
      }
      // "expression, ItemType -- 10": the index after "--", the type the last ", Item…" before it.
      const std::size_t dashes = line.rfind("--");
      const std::size_t type = line.rfind(", Item", dashes);
      if (dashes == std::string_view::npos || type == std::string_view::npos) return fail("an argument line is malformed");
      std::string item(Trim(line.substr(type + 2, dashes - type - 2)));
      if (const auto paren = item.find('('); paren != std::string::npos) item.resize(paren);  // ItemListLong(A,B)
      open->items.push_back(std::move(item));
      continue;
    }
    if (line == "{") {
      if (!open) return fail("'{' without a #typev line before it");
      inItems = true;
      continue;
    }
    if (line.starts_with("#typev")) {
      if (guid.empty()) return fail("#typev before a message GUID line");
      // #typev NAME NUMBER "FORMAT" // comments (FUNC=…)
      std::string_view rest = Trim(line.substr(6));
      const std::size_t nameEnd = rest.find(' ');
      if (nameEnd == std::string_view::npos) return fail("#typev needs a name, a number and a format");
      const std::string location(rest.substr(0, nameEnd));
      rest = Trim(rest.substr(nameEnd));
      std::size_t used = 0;
      unsigned long number = 0;
      try {
        number = std::stoul(std::string(rest), &used, 10);
      } catch (const std::exception&) {
        return fail("#typev's message number is missing");
      }
      if (number > 0xFFFF) return fail("#typev's message number is above 65535");
      rest = Trim(rest.substr(used));
      if (rest.empty() || rest.front() != '"') return fail("#typev's format is not quoted");
      std::string format;
      std::size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) {
          const char c = rest[++i];
          format += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
          format += rest[i];
        }
      }
      if (i == rest.size()) return fail("#typev's format has no closing quote");
      if (format.starts_with("%0")) format.erase(0, 2);
      TmfMessage m{module, location, {}, std::move(format), {}};
      if (const std::size_t func = rest.find("FUNC=", i); func != std::string_view::npos) {
        const std::string_view f = rest.substr(func + 5);
        m.function = std::string(f.substr(0, f.find_first_of(" \t")));
      }
      open = &(messages_[{guid, static_cast<USHORT>(number)}] = std::move(m));
      continue;
    }
    // A message GUID line: "GUID MODULE // SRC=…".
    const std::size_t space = line.find_first_of(" \t");
    const auto parsed = ParseGuid(line.substr(0, space));
    if (!parsed) return fail("expected a message GUID line, #typev or a comment");
    guid = GuidText(*parsed);
    module = space == std::string_view::npos ? "" : std::string(Trim(line.substr(space)));
    if (const std::size_t comment = module.find("//"); comment != std::string::npos) module = std::string(Trim(module.substr(0, comment)));
    open = nullptr;
  }
  if (inItems) return fail("the last argument list has no closing '}'");
  return {};
}

const TmfMessage* TmfSet::Find(const GUID& guid, USHORT number) const {
  const auto it = messages_.find({GuidText(guid), number});
  return it == messages_.end() ? nullptr : &it->second;
}

std::string FormatWppMessage(const TmfMessage& m, const Event& e) {
  std::string out;
  const std::string& f = m.format;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 == f.size()) {
      out += f[i];
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(f[i + 1]))) {
      out += f[i + 1] == '%' ? "%" : f.substr(i, 2);  // %% is a percent; anything else stays as written
      ++i;
      continue;
    }
    std::size_t j = i + 1, n = 0;
    while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j])) && n < 10000) n = n * 10 + (f[j++] - '0');
    Spec spec;
    if (j < f.size() && f[j] == '!') {
      const std::size_t close = f.find('!', j + 1);
      if (close != std::string::npos) {
        if (const auto parsed = ParseSpec(std::string_view(f).substr(j + 1, close - j - 1))) spec = *parsed;
        j = close + 1;
      }
    }
    if (n >= 10) {
      const std::size_t arg = n - 10;
      if (arg < e.fields.size()) {
        out += Argument(arg < m.items.size() ? m.items[arg] : "", spec, e.fields[arg]);
      } else {
        out += "<missing>";
      }
    } else {
      switch (n) {
        case 1: out += m.module; break;
        case 2: out += m.location; break;
        case 3: out += Integer(spec, e.threadId, 8, false); break;
        case 4: out += TimeText(e.systemTime); break;
        case 7: out += Integer(spec, e.sequence, 8, false); break;
        case 8: out += Integer(spec, e.processId, 4, false); break;
        case 9: out += "0"; break;
        default: break;  // user and kernel times: not kept
      }
    }
    i = j - 1;
  }
  return out;
}

}  // namespace ntbox::nt::etw
