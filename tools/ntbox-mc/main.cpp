// ntbox-mc MANIFEST.man -o DIR: the instrumentation manifest compiler a driver project needs for
// manifest-based ETW, as mc.exe is on Windows (mingw-w64 has windmc for message files, nothing for
// manifests). From the manifest it writes, named after it:
//   NAME.wevt   the binary manifest, the WEVT_TEMPLATE resource (CRIM → WEVT → LEVL, TASK, OPCO,
//               KEYW, TTBL/TEMP, EVNT; the layout libfwevt documents)
//   NAME.msg    the message table (RT_MESSAGETABLE) with the manifest's strings
//   NAME.rc     the two as resources, for windres
//   NAME.h      the provider's GUID, an EVENT_DESCRIPTOR per event and, as mc -km does, an
//               EventWrite<symbol> routine per event taking the template's fields
// ntbox's tracefmt reads the first two from a loaded driver to decode its events.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "nt/etw/Etw.h"
#include "support/Utf16.h"
#include "tools/ntbox-mc/Xml.h"

namespace ntbox::mc {
namespace {

struct Field {
  std::string name;
  std::uint8_t inType = 0, outType = 0;
  std::uint16_t length = 0;
};
struct Template {
  std::string tid;
  std::vector<Field> fields;
};
struct Named {
  std::string name;
  std::uint64_t value = 0;
  std::optional<std::uint32_t> message;
};
struct Event {
  std::string symbol;
  std::uint16_t value = 0;
  std::uint8_t version = 0, level = 0, opcode = 0;
  std::uint16_t task = 0;
  std::uint64_t keywords = 0;
  int tmpl = -1;
  std::optional<std::uint32_t> message;
};
struct Provider {
  std::string name, symbol;
  nt::GUID guid{};
  std::optional<std::uint32_t> message;
  std::vector<Named> levels, tasks, opcodes, keywords;
  std::vector<Template> templates;
  std::vector<Event> events;
};

const std::map<std::string, std::uint8_t> kInTypes = {
    {"win:UnicodeString", 1}, {"win:AnsiString", 2}, {"win:Int8", 3},     {"win:UInt8", 4},     {"win:Int16", 5},
    {"win:UInt16", 6},        {"win:Int32", 7},      {"win:UInt32", 8},   {"win:Int64", 9},     {"win:UInt64", 10},
    {"win:Float", 11},        {"win:Double", 12},    {"win:Boolean", 13}, {"win:Binary", 14},   {"win:GUID", 15},
    {"win:Pointer", 16},      {"win:FILETIME", 17},  {"win:SYSTEMTIME", 18}, {"win:SID", 19},   {"win:HexInt32", 20},
    {"win:HexInt64", 21}};
const std::map<std::string, std::uint8_t> kOutTypes = {
    {"xs:string", 1},       {"xs:dateTime", 2},     {"xs:byte", 3},          {"xs:unsignedByte", 4},
    {"xs:short", 5},        {"xs:unsignedShort", 6}, {"xs:int", 7},          {"xs:unsignedInt", 8},
    {"xs:long", 9},         {"xs:unsignedLong", 10}, {"xs:float", 11},       {"xs:double", 12},
    {"xs:boolean", 13},     {"xs:GUID", 14},        {"xs:hexBinary", 15},    {"win:HexInt8", 16},
    {"win:HexInt16", 17},   {"win:HexInt32", 18},   {"win:HexInt64", 19},    {"win:PID", 20},
    {"win:TID", 21},        {"win:Port", 22},       {"win:IPv4", 23},        {"win:IPv6", 24},
    {"win:SocketAddress", 25}, {"win:CIMDateTime", 26}, {"win:ETWTIME", 27}, {"win:Xml", 28},
    {"win:ErrorCode", 29},  {"win:Win32Error", 30}, {"win:NTSTATUS", 31},    {"win:HResult", 32}};
// winmeta.xml's levels and opcodes, which a manifest names without defining.
const std::vector<Named> kLevels = {{"win:LogAlways", 0, {}}, {"win:Critical", 1, {}}, {"win:Error", 2, {}},
                                    {"win:Warning", 3, {}},   {"win:Informational", 4, {}}, {"win:Verbose", 5, {}}};
const std::vector<Named> kOpcodes = {{"win:Info", 0, {}},     {"win:Start", 1, {}},   {"win:Stop", 2, {}},
                                     {"win:DC_Start", 3, {}}, {"win:DC_Stop", 4, {}}, {"win:Extension", 5, {}},
                                     {"win:Reply", 6, {}},    {"win:Resume", 7, {}},  {"win:Suspend", 8, {}},
                                     {"win:Send", 9, {}},     {"win:Receive", 240, {}}};

class Compiler {
 public:
  Result<std::vector<Provider>> Compile(const Element& root) {
    // Strings first: attributes refer to them as $(string.ID).
    if (const Element* loc = root.Child("localization")) {
      for (const Element* res : loc->Children("resources")) {
        if (const Element* table = res->Child("stringTable")) {
          for (const Element* s : table->Children("string")) {
            if (s->Attribute("id") && s->Attribute("value")) strings_[*s->Attribute("id")] = *s->Attribute("value");
          }
        }
        break;  // the first culture's
      }
    }
    const Element* instrumentation = root.Child("instrumentation");
    const Element* events = instrumentation ? instrumentation->Child("events") : nullptr;
    if (!events) return Fail("no <instrumentation><events> element");
    std::vector<Provider> out;
    for (const Element* p : events->Children("provider")) {
      auto provider = ReadProvider(*p);
      if (!provider) return std::unexpected(provider.error());
      out.push_back(std::move(*provider));
    }
    if (out.empty()) return Fail("the manifest defines no provider");
    return out;
  }

  // Message ids in order, with their text, for the message table.
  const std::map<std::uint32_t, std::string>& messages() const { return messages_; }

 private:
  Result<std::string> Required(const Element& e, const char* attribute) {
    if (const std::string* v = e.Attribute(attribute)) return *v;
    return Fail(fmt::format("line {}: <{}> needs {}=", e.line, e.name, attribute));
  }

  Result<std::uint64_t> Number(const Element& e, const std::string& text) {
    try {
      std::size_t used = 0;
      const std::uint64_t v = std::stoull(text, &used, 0);
      if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    return Fail(fmt::format("line {}: '{}' is not a number", e.line, text));
  }

  // A message attribute: $(string.ID) becomes a message-table entry.
  Result<std::optional<std::uint32_t>> Message(const Element& e) {
    const std::string* m = e.Attribute("message");
    if (!m) return std::optional<std::uint32_t>{};
    if (m->rfind("$(string.", 0) != 0 || m->back() != ')') {
      return Fail(fmt::format("line {}: a message is a $(string.ID) reference, not '{}'", e.line, *m));
    }
    const std::string id = m->substr(9, m->size() - 10);
    const auto it = strings_.find(id);
    if (it == strings_.end()) return Fail(fmt::format("line {}: no string '{}' in the stringTable", e.line, id));
    const std::uint32_t number = nextMessage_++;
    messages_[number] = it->second;
    return std::optional<std::uint32_t>{number};
  }

  Result<void> ReadNamed(const Element* list, const char* tag, const char* valueAttribute, std::vector<Named>& out) {
    if (!list) return {};
    for (const Element* e : list->Children(tag)) {
      auto name = Required(*e, "name");
      auto value = Required(*e, valueAttribute);
      if (!name) return std::unexpected(name.error());
      if (!value) return std::unexpected(value.error());
      auto number = Number(*e, *value);
      auto message = Message(*e);
      if (!number) return std::unexpected(number.error());
      if (!message) return std::unexpected(message.error());
      out.push_back({*name, *number, *message});
    }
    return {};
  }

  Result<std::uint64_t> Lookup(const Element& e, const std::vector<Named>& defined, const std::vector<Named>& standard,
                               const std::string& name, const char* what) {
    for (const auto* list : {&defined, &standard}) {
      for (const auto& n : *list) {
        if (n.name == name) return n.value;
      }
    }
    return Fail(fmt::format("line {}: no {} named '{}'", e.line, what, name));
  }

  Result<Provider> ReadProvider(const Element& p) {
    Provider out;
    auto name = Required(p, "name");
    auto guid = Required(p, "guid");
    if (!name) return std::unexpected(name.error());
    if (!guid) return std::unexpected(guid.error());
    out.name = *name;
    const auto parsed = nt::etw::ParseGuid(*guid);
    if (!parsed) return Fail(fmt::format("line {}: '{}' is not a GUID", p.line, *guid));
    out.guid = *parsed;
    out.symbol = p.Attribute("symbol") ? *p.Attribute("symbol") : "";
    auto message = Message(p);
    if (!message) return std::unexpected(message.error());
    out.message = *message;
    if (!out.message) {  // the provider's name is what tracefmt shows: keep it in the table
      out.message = nextMessage_++;
      messages_[*out.message] = out.name;
    }
    for (auto [list, tag, attribute, into] :
         {std::tuple{"levels", "level", "value", &out.levels}, std::tuple{"tasks", "task", "value", &out.tasks},
          std::tuple{"opcodes", "opcode", "value", &out.opcodes}, std::tuple{"keywords", "keyword", "mask", &out.keywords}}) {
      if (auto r = ReadNamed(p.Child(list), tag, attribute, *into); !r) return std::unexpected(r.error());
    }
    if (const Element* templates = p.Child("templates")) {
      for (const Element* t : templates->Children("template")) {
        auto tid = Required(*t, "tid");
        if (!tid) return std::unexpected(tid.error());
        Template tmpl{*tid, {}};
        for (const Element* d : t->Children("data")) {
          auto fieldName = Required(*d, "name");
          auto inType = Required(*d, "inType");
          if (!fieldName) return std::unexpected(fieldName.error());
          if (!inType) return std::unexpected(inType.error());
          Field f{*fieldName, 0, 0, 0};
          const auto in = kInTypes.find(*inType);
          if (in == kInTypes.end()) return Fail(fmt::format("line {}: unknown inType '{}'", d->line, *inType));
          f.inType = in->second;
          if (const std::string* o = d->Attribute("outType")) {
            const auto outType = kOutTypes.find(*o);
            if (outType == kOutTypes.end()) return Fail(fmt::format("line {}: unknown outType '{}'", d->line, *o));
            f.outType = outType->second;
          }
          if (const std::string* l = d->Attribute("length")) {
            auto n = Number(*d, *l);
            if (!n || *n > 0xFFFF) return Fail(fmt::format("line {}: length is a number of at most 65535", d->line));
            f.length = static_cast<std::uint16_t>(*n);
          }
          if (f.inType == 14 && f.length == 0) {
            return Fail(fmt::format("line {}: a win:Binary field needs a length", d->line));
          }
          tmpl.fields.push_back(std::move(f));
        }
        out.templates.push_back(std::move(tmpl));
      }
    }
    const Element* events = p.Child("events");
    for (const Element* e : events ? events->Children("event") : std::vector<const Element*>{}) {
      Event ev;
      std::uint64_t level = 0, task = 0, opcode = 0;
      auto value = Required(*e, "value");
      if (!value) return std::unexpected(value.error());
      auto n = Number(*e, *value);
      if (!n || *n > 0xFFFF) return Fail(fmt::format("line {}: an event's value is a number of at most 65535", e->line));
      ev.value = static_cast<std::uint16_t>(*n);
      ev.symbol = e->Attribute("symbol") ? *e->Attribute("symbol") : fmt::format("{}_EVENT_{}", out.symbol, ev.value);
      if (const std::string* v = e->Attribute("version")) {
        auto version = Number(*e, *v);
        if (!version || *version > 0xFF) return Fail(fmt::format("line {}: version is a number below 256", e->line));
        ev.version = static_cast<std::uint8_t>(*version);
      }
      // Level, task and opcode by name, from the provider's definitions or winmeta.xml's.
      const std::vector<Named> none;
      for (auto [attribute, defined, standard, into] :
           {std::tuple{"level", &out.levels, &kLevels, &level}, std::tuple{"task", &out.tasks, &none, &task},
            std::tuple{"opcode", &out.opcodes, &kOpcodes, &opcode}}) {
        if (const std::string* name = e->Attribute(attribute)) {
          auto value = Lookup(*e, *defined, *standard, *name, attribute);
          if (!value) return std::unexpected(value.error());
          *into = *value;
        }
      }
      ev.level = static_cast<std::uint8_t>(level);
      ev.task = static_cast<std::uint16_t>(task);
      ev.opcode = static_cast<std::uint8_t>(opcode);
      if (const std::string* k = e->Attribute("keywords")) {
        std::istringstream names(*k);
        for (std::string keyword; names >> keyword;) {
          auto mask = Lookup(*e, out.keywords, {}, keyword, "keyword");
          if (!mask) return std::unexpected(mask.error());
          ev.keywords |= *mask;
        }
      }
      if (const std::string* t = e->Attribute("template")) {
        for (std::size_t i = 0; i < out.templates.size(); ++i) {
          if (out.templates[i].tid == *t) ev.tmpl = static_cast<int>(i);
        }
        if (ev.tmpl < 0) return Fail(fmt::format("line {}: no template '{}'", e->line, *t));
      }
      auto message = Message(*e);
      if (!message) return std::unexpected(message.error());
      ev.message = *message;
      out.events.push_back(std::move(ev));
    }
    // Levels the events use from winmeta.xml go into LEVL too, so tracefmt names them.
    for (const auto& standard : kLevels) {
      const bool used = std::any_of(out.events.begin(), out.events.end(), [&](const Event& ev) { return ev.level == standard.value; });
      const bool defined = std::any_of(out.levels.begin(), out.levels.end(), [&](const Named& n) { return n.value == standard.value; });
      if (used && !defined) out.levels.push_back(standard);
    }
    for (const auto& standard : kOpcodes) {
      const bool used = std::any_of(out.events.begin(), out.events.end(), [&](const Event& ev) { return ev.opcode == standard.value; });
      const bool defined = std::any_of(out.opcodes.begin(), out.opcodes.end(), [&](const Named& n) { return n.value == standard.value; });
      if (used && !defined) out.opcodes.push_back(standard);
    }
    return out;
  }

  std::map<std::string, std::string> strings_;
  std::map<std::uint32_t, std::string> messages_;
  std::uint32_t nextMessage_ = 0x10000001;  // ids are the manifest's own: any unique numbers do
};

// Little-endian bytes with offsets patched after the fact.
class Writer {
 public:
  std::size_t size() const { return bytes_.size(); }
  void U8(std::uint8_t v) { bytes_.push_back(v); }
  void U16(std::uint16_t v) { Raw(&v, 2); }
  void U32(std::uint32_t v) { Raw(&v, 4); }
  void U64(std::uint64_t v) { Raw(&v, 8); }
  void Tag(const char (&sig)[5]) { Raw(sig, 4); }
  void Raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void Align(std::size_t n) {
    while (bytes_.size() % n) bytes_.push_back(0);
  }
  void Patch32(std::size_t at, std::uint32_t v) { std::memcpy(bytes_.data() + at, &v, 4); }
  std::uint32_t Here() const { return static_cast<std::uint32_t>(bytes_.size()); }
  // A counted UTF-16 name: its size (itself and the padding to 8 bytes included), text, NUL.
  void Name(const std::string& text) {
    const std::u16string wide = Utf8ToUtf16(text);
    const std::size_t at = size();
    U32(0);
    for (const char16_t c : wide) U16(c);
    U16(0);
    Align(8);
    Patch32(at, static_cast<std::uint32_t>(size() - at));
  }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

constexpr std::uint32_t kNoMessage = 0xFFFFFFFFu;

// LEVL, OPCO (12-byte definitions), TASK (28), KEYW (16): the header, definitions, then names.
std::uint32_t WriteNamed(Writer& w, const char (&sig)[5], const std::vector<Named>& list) {
  const std::uint32_t at = w.Here();
  w.Tag(sig);
  w.U32(0);
  w.U32(static_cast<std::uint32_t>(list.size()));
  std::vector<std::size_t> nameSlots;
  for (const auto& n : list) {
    if (std::strcmp(sig, "KEYW") == 0) {
      w.U64(n.value);
      w.U32(n.message.value_or(kNoMessage));
    } else {
      w.U32(static_cast<std::uint32_t>(n.value));
      w.U32(n.message.value_or(kNoMessage));
      if (std::strcmp(sig, "TASK") == 0) {
        const std::uint8_t noGuid[16] = {};
        w.Raw(noGuid, 16);
      }
    }
    nameSlots.push_back(w.size());
    w.U32(0);
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    w.Patch32(nameSlots[i], w.Here());
    w.Name(list[i].name);
  }
  w.Patch32(at + 4, w.Here() - at);
  return at;
}

std::vector<std::uint8_t> WriteManifest(const std::vector<Provider>& providers) {
  Writer w;
  w.Tag("CRIM");
  w.U32(0);
  w.U16(3);
  w.U16(1);
  w.U32(static_cast<std::uint32_t>(providers.size()));
  std::vector<std::size_t> providerSlots;
  for (const auto& p : providers) {
    w.Raw(&p.guid, 16);
    providerSlots.push_back(w.size());
    w.U32(0);
  }
  for (std::size_t i = 0; i < providers.size(); ++i) {
    const Provider& p = providers[i];
    w.Align(8);
    const std::uint32_t wevt = w.Here();
    w.Patch32(providerSlots[i], wevt);
    constexpr std::uint32_t kElements = 6;
    w.Tag("WEVT");
    w.U32(0);
    w.U32(p.message.value_or(kNoMessage));
    w.U32(kElements);
    w.U32(0);
    const std::size_t descriptors = w.size();
    for (std::uint32_t e = 0; e < kElements; ++e) {
      w.U32(0);
      w.U32(0);
    }
    std::vector<std::uint32_t> elements;
    elements.push_back(WriteNamed(w, "LEVL", p.levels));
    elements.push_back(WriteNamed(w, "TASK", p.tasks));
    elements.push_back(WriteNamed(w, "OPCO", p.opcodes));
    elements.push_back(WriteNamed(w, "KEYW", p.keywords));
    // The templates: each TEMP holds its header and an empty binary XML fragment (the EOF token);
    // its item descriptors and names follow it.
    const std::uint32_t ttbl = w.Here();
    elements.push_back(ttbl);
    w.Tag("TTBL");
    w.U32(0);
    w.U32(static_cast<std::uint32_t>(p.templates.size()));
    std::vector<std::uint32_t> templateAt;
    for (const auto& t : p.templates) {
      const std::uint32_t temp = w.Here();
      templateAt.push_back(temp);
      w.Tag("TEMP");
      w.U32(0);
      w.U32(static_cast<std::uint32_t>(t.fields.size()));
      w.U32(static_cast<std::uint32_t>(t.fields.size()));
      const std::size_t itemsSlot = w.size();
      w.U32(0);
      w.U32(1);
      const std::uint8_t noGuid[16] = {};
      w.Raw(noGuid, 16);
      w.U8(0x00);  // BinXML end of fragment
      w.Align(4);
      w.Patch32(itemsSlot, t.fields.empty() ? 0 : w.Here());
      std::vector<std::size_t> nameSlots;
      for (const auto& f : t.fields) {
        w.U32(0);
        w.U8(f.inType);
        w.U8(f.outType);
        w.U16(0);
        w.U32(0);
        w.U16(1);  // count
        w.U16(f.length);
        nameSlots.push_back(w.size());
        w.U32(0);
      }
      for (std::size_t k = 0; k < t.fields.size(); ++k) {
        w.Patch32(nameSlots[k], w.Here());
        w.Name(t.fields[k].name);
      }
      w.Patch32(temp + 4, w.Here() - temp);
    }
    w.Patch32(ttbl + 4, w.Here() - ttbl);
    const std::uint32_t evnt = w.Here();
    elements.push_back(evnt);
    w.Tag("EVNT");
    w.U32(0);
    w.U32(static_cast<std::uint32_t>(p.events.size()));
    w.U32(0);
    for (const auto& e : p.events) {
      w.U16(e.value);
      w.U8(e.version);
      w.U8(0);  // channel
      w.U8(e.level);
      w.U8(e.opcode);
      w.U16(e.task);
      w.U64(e.keywords);
      w.U32(e.message.value_or(kNoMessage));
      w.U32(e.tmpl >= 0 ? templateAt[static_cast<std::size_t>(e.tmpl)] : 0);
      for (int k = 0; k < 6; ++k) w.U32(0);  // opcode, level, task definitions; unknowns
    }
    w.Patch32(evnt + 4, w.Here() - evnt);
    for (std::size_t e = 0; e < elements.size(); ++e) w.Patch32(descriptors + 8 * e, elements[e]);
    w.Patch32(wevt + 4, w.Here() - wevt);
  }
  w.Patch32(4, w.Here());
  return w.bytes();
}

// MESSAGE_RESOURCE_DATA: one block per message (ids need not be contiguous), Unicode entries.
std::vector<std::uint8_t> WriteMessageTable(const std::map<std::uint32_t, std::string>& messages) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(messages.size()));
  std::vector<std::size_t> slots;
  for (const auto& [id, text] : messages) {
    w.U32(id);
    w.U32(id);
    slots.push_back(w.size());
    w.U32(0);
  }
  std::size_t i = 0;
  for (const auto& [id, text] : messages) {
    w.Patch32(slots[i++], w.Here());
    const std::u16string wide = Utf8ToUtf16(text + "\r\n");
    std::size_t length = 4 + 2 * (wide.size() + 1);
    length = (length + 3) & ~std::size_t{3};
    w.U16(static_cast<std::uint16_t>(length));
    w.U16(1);  // MESSAGE_RESOURCE_UNICODE
    for (const char16_t c : wide) w.U16(c);
    w.U16(0);
    w.Align(4);
  }
  return w.bytes();
}

// The C type and data descriptor an EventWrite routine uses for a field; nullopt for the types it
// does not take as arguments (the routine is then left out).
struct Argument {
  std::string type, descriptor;
};
std::optional<Argument> ArgumentFor(const Field& f, const std::string& name) {
  const std::string size = fmt::format("sizeof({})", name);
  switch (f.inType) {
    case 1:
      return Argument{"PCWSTR", fmt::format("{0} ? {0} : L\"NULL\", {0} ? (ULONG)((wcslen({0}) + 1) * sizeof(WCHAR)) : sizeof(L\"NULL\")", name)};
    case 2:
      return Argument{"PCSTR", fmt::format("{0} ? {0} : \"NULL\", {0} ? (ULONG)(strlen({0}) + 1) : sizeof(\"NULL\")", name)};
    case 3: return Argument{"CHAR", "&" + name + ", " + size};
    case 4: return Argument{"UCHAR", "&" + name + ", " + size};
    case 5: return Argument{"SHORT", "&" + name + ", " + size};
    case 6: return Argument{"USHORT", "&" + name + ", " + size};
    case 7: return Argument{"LONG", "&" + name + ", " + size};
    case 8: case 20: return Argument{"ULONG", "&" + name + ", " + size};
    case 9: return Argument{"LONG64", "&" + name + ", " + size};
    case 10: case 21: return Argument{"ULONG64", "&" + name + ", " + size};
    case 11: return Argument{"float", "&" + name + ", " + size};
    case 12: return Argument{"double", "&" + name + ", " + size};
    case 13: return Argument{"ULONG", "&" + name + ", " + size};  // win:Boolean is 32 bits
    case 14: return Argument{"const void*", fmt::format("{}, {}", name, f.length)};
    case 15: return Argument{"LPCGUID", name + ", sizeof(GUID)"};
    case 16: return Argument{"const void*", "&" + name + ", sizeof(PVOID)"};
    case 17: return Argument{"const LARGE_INTEGER*", name + ", sizeof(LARGE_INTEGER)"};
    default: return std::nullopt;
  }
}

std::string Identifier(const std::string& text) {
  std::string out;
  for (const char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

std::string WriteHeader(const std::vector<Provider>& providers, const std::string& source) {
  std::string h = fmt::format(
      "/* Generated by ntbox-mc from {}: do not edit. Include it after <ntddk.h> (or <wdm.h>). */\n"
      "#pragma once\n\n", source);
  for (const auto& p : providers) {
    const std::string symbol = p.symbol.empty() ? Identifier(p.name) : p.symbol;
    const auto& g = p.guid;
    h += fmt::format("/* Provider \"{}\" {{{}}} */\n", p.name, nt::etw::GuidText(g));
    h += fmt::format(
        "static const GUID {} = {{0x{:08x}, 0x{:04x}, 0x{:04x}, {{0x{:02x}, 0x{:02x}, 0x{:02x}, 0x{:02x}, 0x{:02x}, "
        "0x{:02x}, 0x{:02x}, 0x{:02x}}}}};\n\n",
        symbol, g.Data1, g.Data2, g.Data3, g.Data4[0], g.Data4[1], g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5],
        g.Data4[6], g.Data4[7]);
    for (const auto& e : p.events) {
      h += fmt::format("static const EVENT_DESCRIPTOR {} = {{{}, {}, 0, {}, {}, {}, 0x{:x}ULL}};\n", e.symbol, e.value,
                       e.version, e.level, e.opcode, e.task, e.keywords);
      const std::vector<Field> none;
      const auto& fields = e.tmpl >= 0 ? p.templates[static_cast<std::size_t>(e.tmpl)].fields : none;
      std::string parameters = "REGHANDLE RegHandle", descriptors;
      bool supported = true;
      for (std::size_t i = 0; i < fields.size() && supported; ++i) {
        const std::string name = "_" + Identifier(fields[i].name);
        const auto a = ArgumentFor(fields[i], name);
        if (!a) {
          supported = false;
          break;
        }
        parameters += fmt::format(", {} {}", a->type, name);
        descriptors += fmt::format("  EventDataDescCreate(&d[{}], {});\n", i, a->descriptor);
      }
      if (!supported) continue;
      h += fmt::format("static __inline NTSTATUS EventWrite{}({}) {{\n", e.symbol, parameters);
      if (fields.empty()) {
        h += fmt::format("  return EtwWrite(RegHandle, &{}, NULL, 0, NULL);\n}}\n\n", e.symbol);
      } else {
        h += fmt::format("  EVENT_DATA_DESCRIPTOR d[{}];\n{}  return EtwWrite(RegHandle, &{}, NULL, {}, d);\n}}\n\n",
                         fields.size(), descriptors, e.symbol, fields.size());
      }
    }
  }
  return h;
}

bool WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

int Run(int argc, char** argv) {
  std::string input, dir = ".";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::puts("usage: ntbox-mc MANIFEST.man [-o DIR]\n"
                "Compiles an instrumentation manifest into NAME.wevt (WEVT_TEMPLATE), NAME.msg (the message\n"
                "table), NAME.rc (both as resources, for windres) and NAME.h (GUID, EVENT_DESCRIPTORs and\n"
                "EventWrite routines), NAME being the manifest's file name without its extension.");
      return 0;
    } else if (input.empty() && !a.empty() && a[0] != '-') {
      input = a;
    } else {
      std::fprintf(stderr, "ntbox-mc: unexpected argument '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (input.empty()) {
    std::fprintf(stderr, "ntbox-mc: no manifest given (see --help)\n");
    return 2;
  }
  std::ifstream in(input, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ntbox-mc: cannot read %s: %s\n", input.c_str(), std::strerror(errno));
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto root = ParseXml(text.str());
  if (!root) {
    std::fprintf(stderr, "ntbox-mc: %s: %s\n", input.c_str(), root.error().message.c_str());
    return 1;
  }
  Compiler compiler;
  auto providers = compiler.Compile(**root);
  if (!providers) {
    std::fprintf(stderr, "ntbox-mc: %s: %s\n", input.c_str(), providers.error().message.c_str());
    return 1;
  }
  std::error_code created;
  std::filesystem::create_directories(dir, created);
  const std::filesystem::path base = std::filesystem::path(dir) / std::filesystem::path(input).stem();
  const auto manifest = WriteManifest(*providers);
  const auto table = WriteMessageTable(compiler.messages());
  const std::filesystem::path wevt = base.string() + ".wevt", msg = base.string() + ".msg";
  const std::string rc = fmt::format("1 WEVT_TEMPLATE \"{}\"\n1 MESSAGETABLE \"{}\"\n",
                                     std::filesystem::absolute(wevt).string(), std::filesystem::absolute(msg).string());
  const bool ok = WriteFile(wevt, std::string(manifest.begin(), manifest.end())) &&
                  WriteFile(msg, std::string(table.begin(), table.end())) && WriteFile(base.string() + ".rc", rc) &&
                  WriteFile(base.string() + ".h", WriteHeader(*providers, std::filesystem::path(input).filename().string()));
  if (!ok) {
    std::fprintf(stderr, "ntbox-mc: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ntbox::mc

int main(int argc, char** argv) { return ntbox::mc::Run(argc, argv); }
