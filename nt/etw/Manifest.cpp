#include "nt/etw/Manifest.h"

#include <fmt/format.h>

#include <cstring>

#include "pe/PeResources.h"
#include "support/Utf16.h"

namespace ntbox::nt::etw {
namespace {

// Every offset in the blob is relative to its start; each read is checked against its size.
class Blob {
 public:
  explicit Blob(std::span<const std::uint8_t> data) : data_(data) {}

  template <class T>
  std::optional<T> Read(std::uint64_t at) const {
    if (at + sizeof(T) > data_.size()) return std::nullopt;
    T value;
    std::memcpy(&value, data_.data() + at, sizeof(T));
    return value;
  }
  bool Signature(std::uint64_t at, const char (&sig)[5]) const {
    return at + 4 <= data_.size() && std::memcmp(data_.data() + at, sig, 4) == 0;
  }
  // Whether count entries of size bytes fit from at.
  bool Fits(std::uint64_t at, std::uint64_t count, std::uint64_t size) const {
    return count <= data_.size() && at + count * size <= data_.size();
  }
  // A counted name: a 32-bit size (itself included), then UTF-16 up to a NUL.
  std::string Name(std::uint32_t at) const {
    const auto size = Read<std::uint32_t>(at);
    if (!size || *size < 4 || !Fits(at, 1, *size)) return {};
    std::u16string text;
    for (std::uint32_t i = 4; i + 2 <= *size; i += 2) {
      const auto c = Read<char16_t>(at + i);
      if (!c || *c == 0) break;
      text += *c;
    }
    return Utf16ToUtf8(text);
  }

 private:
  std::span<const std::uint8_t> data_;
};

constexpr std::uint32_t kNoMessage = 0xFFFFFFFFu;
constexpr std::size_t kEventSize = 48, kItemSize = 20;

std::string MessageOr(const MessageLookup& messages, std::uint32_t id) {
  if (id == kNoMessage || !messages) return {};
  return messages(id).value_or("");
}

// TASK, OPCO and LEVL: count, then fixed-size definitions with an id first and a name offset.
void ReadNames(const Blob& b, std::uint32_t at, std::size_t entrySize, std::size_t nameAt,
               std::map<std::uint32_t, std::string>& out) {
  const auto count = b.Read<std::uint32_t>(at + 8);
  if (!count || !b.Fits(at + 12, *count, entrySize)) return;
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::uint64_t d = at + 12 + std::uint64_t{i} * entrySize;
    const auto id = b.Read<std::uint32_t>(d);
    const auto name = b.Read<std::uint32_t>(d + nameAt);
    if (id && name) out[*id] = b.Name(*name);
  }
}

Result<std::vector<ManifestField>> ReadTemplate(const Blob& b, std::uint32_t at) {
  if (!b.Signature(at, "TEMP")) return Fail(fmt::format("no template at 0x{:x}", at));
  const auto count = b.Read<std::uint32_t>(at + 8);
  const auto items = b.Read<std::uint32_t>(at + 16);
  std::vector<ManifestField> fields;
  if (!count || !items) return Fail(fmt::format("the template at 0x{:x} is cut short", at));
  if (*count == 0) return fields;
  if (!b.Fits(*items, *count, kItemSize)) return Fail(fmt::format("the template at 0x{:x} has items past the end", at));
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::uint64_t d = *items + std::uint64_t{i} * kItemSize;
    ManifestField f;
    f.inType = *b.Read<std::uint8_t>(d + 4);
    f.outType = *b.Read<std::uint8_t>(d + 5);
    f.length = *b.Read<std::uint16_t>(d + 14);
    f.name = b.Name(*b.Read<std::uint32_t>(d + 16));
    fields.push_back(std::move(f));
  }
  return fields;
}

Result<void> ReadEvents(const Blob& b, std::uint32_t at, const MessageLookup& messages, ProviderManifest& p) {
  const auto count = b.Read<std::uint32_t>(at + 8);
  if (!count || !b.Fits(at + 16, *count, kEventSize)) return Fail(fmt::format("the events at 0x{:x} run past the end", at));
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::uint64_t d = at + 16 + std::uint64_t{i} * kEventSize;
    ManifestEvent e;
    e.id = *b.Read<std::uint16_t>(d);
    e.version = *b.Read<std::uint8_t>(d + 2);
    e.level = *b.Read<std::uint8_t>(d + 4);
    e.opcode = *b.Read<std::uint8_t>(d + 5);
    e.task = *b.Read<std::uint16_t>(d + 6);
    e.keywords = *b.Read<std::uint64_t>(d + 8);
    e.message = MessageOr(messages, *b.Read<std::uint32_t>(d + 16));
    if (const std::uint32_t tmpl = *b.Read<std::uint32_t>(d + 20); tmpl != 0) {
      auto fields = ReadTemplate(b, tmpl);
      if (!fields) return Fail(fmt::format("event {}: {}", e.id, fields.error().message));
      e.fields = std::move(*fields);
    }
    p.events.push_back(std::move(e));
  }
  return {};
}

Result<ProviderManifest> ReadProvider(const Blob& b, const GUID& guid, std::uint32_t at, const MessageLookup& messages) {
  if (!b.Signature(at, "WEVT")) return Fail(fmt::format("no WEVT provider at 0x{:x}", at));
  ProviderManifest p;
  p.guid = guid;
  const auto message = b.Read<std::uint32_t>(at + 8);
  const auto count = b.Read<std::uint32_t>(at + 12);
  if (!message || !count || !b.Fits(at + 20, *count, 8)) return Fail(fmt::format("the provider at 0x{:x} is cut short", at));
  p.name = MessageOr(messages, *message);
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::uint32_t element = *b.Read<std::uint32_t>(at + 20 + 8ull * i);
    if (b.Signature(element, "EVNT")) {
      if (auto r = ReadEvents(b, element, messages, p); !r) return std::unexpected(r.error());
    } else if (b.Signature(element, "TASK")) {
      ReadNames(b, element, 28, 24, p.tasks);
    } else if (b.Signature(element, "OPCO")) {
      ReadNames(b, element, 12, 8, p.opcodes);
    } else if (b.Signature(element, "LEVL")) {
      ReadNames(b, element, 12, 8, p.levels);
    } else if (b.Signature(element, "KEYW")) {
      const auto n = b.Read<std::uint32_t>(element + 8);
      if (!n || !b.Fits(element + 12, *n, 16)) continue;
      for (std::uint32_t k = 0; k < *n; ++k) {
        const std::uint64_t d = element + 12 + 16ull * k;
        p.keywords[*b.Read<std::uint64_t>(d)] = b.Name(*b.Read<std::uint32_t>(d + 12));
      }
    }  // channels, maps and the template table itself are not needed to decode
  }
  return p;
}

}  // namespace

const ManifestEvent* ProviderManifest::Find(USHORT id, UCHAR version) const {
  for (const auto& e : events) {
    if (e.id == id && e.version == version) return &e;
  }
  return nullptr;
}

std::optional<std::string> MessageTableString(std::span<const std::uint8_t> table, std::uint32_t id) {
  const Blob b(table);
  const auto blocks = b.Read<std::uint32_t>(0);
  if (!blocks || !b.Fits(4, *blocks, 12)) return std::nullopt;
  for (std::uint32_t i = 0; i < *blocks; ++i) {
    const std::uint64_t d = 4 + 12ull * i;
    const std::uint32_t low = *b.Read<std::uint32_t>(d), high = *b.Read<std::uint32_t>(d + 4);
    if (id < low || id > high) continue;
    // Entries follow one another: a 16-bit length (the header's 4 bytes included), flags, text.
    std::uint64_t at = *b.Read<std::uint32_t>(d + 8);
    for (std::uint32_t n = low; n < id; ++n) {
      const auto length = b.Read<std::uint16_t>(at);
      if (!length || *length < 4) return std::nullopt;
      at += *length;
    }
    const auto length = b.Read<std::uint16_t>(at);
    const auto flags = b.Read<std::uint16_t>(at + 2);
    if (!length || !flags || *length < 4 || !b.Fits(at, 1, *length)) return std::nullopt;
    std::string text;
    if (*flags & 1) {  // MESSAGE_RESOURCE_UNICODE
      std::u16string wide;
      for (std::uint64_t k = 4; k + 2 <= *length; k += 2) {
        const char16_t c = *b.Read<char16_t>(at + k);
        if (c == 0) break;
        wide += c;
      }
      text = Utf16ToUtf8(wide);
    } else {
      for (std::uint64_t k = 4; k < *length; ++k) {
        const char c = static_cast<char>(*b.Read<std::uint8_t>(at + k));
        if (c == 0) break;
        text += c;
      }
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }
  return std::nullopt;
}

Result<std::vector<ProviderManifest>> ParseManifest(std::span<const std::uint8_t> data, const MessageLookup& messages) {
  Blob whole(data);
  if (!whole.Signature(0, "CRIM")) return Fail("not an event manifest (no CRIM signature)");
  const auto size = whole.Read<std::uint32_t>(4);
  const auto count = whole.Read<std::uint32_t>(12);
  if (!size || !count || *size > data.size() || *size < 16) return Fail("the manifest's size is wrong");
  const Blob b(data.first(*size));
  if (!b.Fits(16, *count, 20)) return Fail("the manifest's providers run past its end");
  std::vector<ProviderManifest> out;
  for (std::uint32_t i = 0; i < *count; ++i) {
    const auto guid = b.Read<GUID>(16 + 20ull * i);
    const auto at = b.Read<std::uint32_t>(16 + 20ull * i + 16);
    auto p = ReadProvider(b, *guid, *at, messages);
    if (!p) return std::unexpected(p.error());
    out.push_back(std::move(*p));
  }
  return out;
}

std::shared_ptr<const ProviderManifest> ManifestOf(const pe::PeImage& image, const GUID& provider) {
  const auto blob = pe::FindResource(image, std::u16string(u"WEVT_TEMPLATE"), std::uint16_t{1});
  if (!blob) return nullptr;
  const auto table = pe::FindResource(image, pe::kResourceMessageTable, std::uint16_t{1});
  const MessageLookup messages = [&](std::uint32_t id) -> std::optional<std::string> {
    return table ? MessageTableString(*table, id) : std::nullopt;
  };
  auto providers = ParseManifest(*blob, messages);
  if (!providers) return nullptr;
  for (auto& p : *providers) {
    if (std::memcmp(&p.guid, &provider, sizeof provider) == 0) return std::make_shared<ProviderManifest>(std::move(p));
  }
  return nullptr;
}

namespace {

template <class T>
T Take(std::span<const std::uint8_t>& data) {
  T value;
  std::memcpy(&value, data.data(), sizeof(T));
  data = data.subspan(sizeof(T));
  return value;
}

std::string Hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (const auto b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// An integer field's text: its out-type decides hex, an error code's width or an address.
std::string IntegerText(std::uint64_t raw, std::size_t size, bool isSigned, std::uint8_t out) {
  switch (out) {
    case kOutHexInt8: case kOutHexInt16: case kOutHexInt32: case kOutHexInt64:
      return fmt::format("0x{:X}", raw);
    case kOutWin32Error: case kOutNtStatus: case kOutHResult:
      return fmt::format("0x{:08X}", raw);
    case kOutPort:
      return std::to_string(((raw & 0xFF) << 8) | ((raw >> 8) & 0xFF));  // network byte order
    case kOutIpv4:
      return fmt::format("{}.{}.{}.{}", raw & 0xFF, (raw >> 8) & 0xFF, (raw >> 16) & 0xFF, (raw >> 24) & 0xFF);
    default:
      break;
  }
  if (!isSigned) return std::to_string(raw);
  const int shift = static_cast<int>(64 - 8 * size);
  return std::to_string(static_cast<std::int64_t>(raw << shift) >> shift);
}

// One field from the front of data (consumed); nullopt when data is too short for it.
std::optional<std::string> TakeField(const ManifestField& f, std::span<const std::uint8_t>& data) {
  auto fixed = [&](std::size_t size) { return data.size() >= size; };
  auto integer = [&](std::size_t size, bool isSigned) -> std::optional<std::string> {
    if (!fixed(size)) return std::nullopt;
    std::uint64_t raw = 0;
    std::memcpy(&raw, data.data(), size);
    data = data.subspan(size);
    return IntegerText(raw, size, isSigned, f.outType);
  };
  switch (f.inType) {
    case kInUnicodeString: {
      std::u16string text;
      const std::size_t limit = f.length ? f.length : SIZE_MAX;
      while (data.size() >= 2 && text.size() < limit) {
        const auto c = Take<char16_t>(data);
        if (c == 0 && !f.length) break;
        text += c;
      }
      while (!text.empty() && text.back() == 0) text.pop_back();
      return Utf16ToUtf8(text);
    }
    case kInAnsiString: {
      std::string text;
      const std::size_t limit = f.length ? f.length : SIZE_MAX;
      while (!data.empty() && text.size() < limit) {
        const auto c = static_cast<char>(Take<std::uint8_t>(data));
        if (c == 0 && !f.length) break;
        text += c;
      }
      while (!text.empty() && text.back() == 0) text.pop_back();
      return text;
    }
    case kInInt8: return integer(1, true);
    case kInUInt8: return integer(1, false);
    case kInInt16: return integer(2, true);
    case kInUInt16: return integer(2, false);
    case kInInt32: return integer(4, true);
    case kInUInt32: return integer(4, false);
    case kInInt64: return integer(8, true);
    case kInUInt64: return integer(8, false);
    case kInHexInt32:
      if (!fixed(4)) return std::nullopt;
      return fmt::format("0x{:X}", Take<std::uint32_t>(data));
    case kInHexInt64:
      if (!fixed(8)) return std::nullopt;
      return fmt::format("0x{:X}", Take<std::uint64_t>(data));
    case kInFloat:
      if (!fixed(4)) return std::nullopt;
      return fmt::format("{}", Take<float>(data));
    case kInDouble:
      if (!fixed(8)) return std::nullopt;
      return fmt::format("{}", Take<double>(data));
    case kInBoolean:
      if (!fixed(4)) return std::nullopt;
      return Take<std::uint32_t>(data) ? "true" : "false";
    case kInPointer:
      if (!fixed(8)) return std::nullopt;
      return fmt::format("0x{:016X}", Take<std::uint64_t>(data));
    case kInGuid:
      if (!fixed(16)) return std::nullopt;
      return "{" + GuidText(Take<GUID>(data)) + "}";
    case kInFileTime:
      if (!fixed(8)) return std::nullopt;
      return TimeText(Take<std::int64_t>(data));
    case kInSystemTime: {
      if (!fixed(16)) return std::nullopt;
      std::uint16_t t[8];
      std::memcpy(t, data.data(), sizeof t);
      data = data.subspan(16);
      return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}", t[0], t[1], t[3], t[4], t[5], t[6], t[7]);
    }
    case kInSid: {
      if (!fixed(8)) return std::nullopt;
      const std::size_t size = 8 + 4u * data[1];
      if (!fixed(size)) return std::nullopt;
      std::uint64_t authority = 0;
      for (int i = 2; i < 8; ++i) authority = authority << 8 | data[i];
      std::string text = fmt::format("S-{}-{}", data[0], authority);
      for (std::size_t i = 8; i < size; i += 4) {
        std::uint32_t sub;
        std::memcpy(&sub, data.data() + i, 4);
        text += fmt::format("-{}", sub);
      }
      data = data.subspan(size);
      return text;
    }
    case kInBinary: {
      const std::size_t size = f.length ? f.length : data.size();
      if (!fixed(size)) return std::nullopt;
      const std::string text = Hex(data.first(size));
      data = data.subspan(size);
      return text;
    }
    default:
      return std::nullopt;  // a type ntbox does not know: the rest stays undecoded
  }
}

}  // namespace

std::optional<std::vector<DecodedField>> DecodeFields(const ManifestEvent& event, std::span<const std::uint8_t> data) {
  std::vector<DecodedField> out;
  for (const auto& f : event.fields) {
    auto value = TakeField(f, data);
    if (!value) return std::nullopt;
    out.push_back({f.name, std::move(*value)});
  }
  return out;
}

std::string ExpandMessage(const std::string& message, const std::vector<DecodedField>& fields) {
  std::string out;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '%' || i + 1 == message.size()) {
      out += message[i];
      continue;
    }
    const char next = message[i + 1];
    if (next == 'n') {
      out += '\n';
      ++i;
    } else if (next >= '1' && next <= '9') {
      std::size_t n = 0, j = i + 1;
      while (j < message.size() && message[j] >= '0' && message[j] <= '9' && n < 1000) n = n * 10 + (message[j++] - '0');
      out += n >= 1 && n <= fields.size() ? fields[n - 1].value : message.substr(i, j - i);
      // A printf-style format after the number (%1!d!) is the field's own: its value is already text.
      if (j < message.size() && message[j] == '!') {
        const std::size_t end = message.find('!', j + 1);
        if (end != std::string::npos) j = end + 1;
      }
      i = j - 1;
    } else {
      out += next;  // %% and %! stand for the character itself
      ++i;
    }
  }
  return out;
}

}  // namespace ntbox::nt::etw
