#include "nt/etw/Etw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>

#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/etw/Manifest.h"
#include "nt/etw/Tmf.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ps/Process.h"
#include "pe/PeLoader.h"

namespace ntbox::nt {
namespace {

constexpr ULONG EVENT_CONTROL_CODE_DISABLE_PROVIDER = 0, EVENT_CONTROL_CODE_ENABLE_PROVIDER = 1;
constexpr UCHAR WMI_ENABLE_EVENTS = 4, WMI_DISABLE_EVENTS = 5;
constexpr ULONG EventProviderSetTraits = 2;
constexpr std::size_t kMaxEventBytes = 0xFFCA;  // what one ETW event may carry
constexpr std::size_t kMaxProviders = 4096;     // registrations a machine holds (a driver registering in a loop)

struct Provider {
  GUID guid;
  PETWENABLECALLBACK callback = nullptr;
  PETW_CLASSIC_CALLBACK classic = nullptr;
  PVOID context = nullptr;
  std::string name;
  std::shared_ptr<const etw::ProviderManifest> manifest;  // its driver's, when the image carries one
};

struct Session {
  std::string name;
  USHORT loggerId;
  UCHAR level;
  ULONGLONG any, all;
  std::vector<GUID> guids;
  std::deque<etw::Event> events;
  std::uint64_t total = 0, lost = 0;
  bool realTime = false;
  std::size_t bytes = 0;  // the kept events' fields

  bool Listens(const GUID& g) const {
    return std::any_of(guids.begin(), guids.end(), [&](const GUID& x) { return std::memcmp(&x, &g, sizeof g) == 0; });
  }
  // Windows' rule: level 0 in the event or the session passes; keywords pass when the event has
  // none, the session asks for none, or they match any of its and all of its "all" ones.
  bool Passes(UCHAR eventLevel, ULONGLONG keyword) const {
    if (level != 0 && eventLevel != 0 && eventLevel > level) return false;
    if (keyword == 0 || any == 0) return true;
    return (keyword & any) != 0 && (keyword & all) == all;
  }
};

// Under the kernel lock.
std::vector<std::unique_ptr<Provider>> g_providers;
std::vector<std::unique_ptr<Session>> g_sessions;
std::uint64_t g_sequence = 0;
USHORT g_nextLogger = 1;

Provider* ProviderOf(REGHANDLE handle) {
  for (const auto& p : g_providers) {
    if (reinterpret_cast<REGHANDLE>(p.get()) == handle) return p.get();
  }
  return nullptr;
}

Session* SessionNamed(const std::string& name) {
  for (const auto& s : g_sessions) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

void Notify(const Provider& p, const Session& s, bool enable) {
  if (p.callback) {
    cpu::CallDriver(p.callback, &p.guid, enable ? EVENT_CONTROL_CODE_ENABLE_PROVIDER : EVENT_CONTROL_CODE_DISABLE_PROVIDER,
                    enable ? s.level : UCHAR{0}, enable ? s.any : 0ull, enable ? s.all : 0ull, nullptr, p.context);
  } else if (p.classic) {
    TRACE_ENABLE_CONTEXT context{s.loggerId, enable ? s.level : UCHAR{0}, 0, enable ? static_cast<ULONG>(s.any) : 0};
    cpu::CallDriver(p.classic, &p.guid, enable ? WMI_ENABLE_EVENTS : WMI_DISABLE_EVENTS, &context, p.context);
  }
}

// Every provider of guid hears a session enable or disable it.
void NotifyAll(const GUID& guid, const Session& s, bool enable) {
  std::vector<const Provider*> hearing;
  for (const auto& p : g_providers) {
    if (std::memcmp(&p->guid, &guid, sizeof guid) == 0) hearing.push_back(p.get());
  }
  for (const Provider* p : hearing) Notify(*p, s, enable);
}

etw::Event NewEvent(const GUID& provider, const std::string& name) {
  etw::Event e;
  e.sequence = ++g_sequence;
  LARGE_INTEGER now{};
  KeQuerySystemTimePrecise(&now);
  e.systemTime = now.QuadPart;
  e.provider = provider;
  e.providerName = name;
  ke::KernelThread* t = ke::CurrentThread();
  e.processId = ps::CurrentProcess().id();
  e.threadId = t ? t->id : 0;
  return e;
}

std::size_t BytesOf(const etw::Event& e) {
  std::size_t n = sizeof e;
  for (const auto& f : e.fields) n += f.size();
  return n;
}

void Keep(Session& s, const etw::Event& e) {
  ++s.total;
  // A real-time session (tracelog -rt) shows each event where DebugView shows debug output.
  if (s.realTime) Kernel::Current().DebugOutput(kNtboxComponent, 0, "[ETW " + s.name + "] " + etw::FormatEvent(e) + "\n");
  // A session keeps the newest events within its count and size (a driver writing without end
  // cannot take the host's memory); the oldest go first and count as lost.
  const std::size_t size = BytesOf(e);
  while (!s.events.empty() && (s.events.size() >= etw::kMaxEvents || s.bytes + size > etw::kMaxSessionBytes)) {
    s.bytes -= BytesOf(s.events.front());
    s.events.pop_front();
    ++s.lost;
  }
  s.events.push_back(e);
  s.bytes += size;
}

// The user data, copied; a descriptor pointing at nothing readable fails the write.
NTSTATUS Capture(ULONG count, const EVENT_DATA_DESCRIPTOR* data, std::vector<std::vector<std::uint8_t>>& fields) {
  std::size_t total = 0;
  for (ULONG i = 0; i < count; ++i) {
    EVENT_DATA_DESCRIPTOR d{};
    if (!cpu::SafeCopy(&d, data + i, sizeof d)) return STATUS_INVALID_PARAMETER;
    total += d.Size;
    if (total > kMaxEventBytes) return STATUS_BUFFER_OVERFLOW;
    std::vector<std::uint8_t> bytes(d.Size);
    if (d.Size && !cpu::SafeCopy(bytes.data(), reinterpret_cast<const void*>(d.Ptr), d.Size)) {
      return STATUS_INVALID_PARAMETER;
    }
    fields.push_back(std::move(bytes));
  }
  return STATUS_SUCCESS;
}

NTSTATUS Write(REGHANDLE handle, const EVENT_DESCRIPTOR* descriptor, ULONG count, EVENT_DATA_DESCRIPTOR* data) {
  const Provider* p = ProviderOf(handle);
  if (!p || !descriptor) return STATUS_INVALID_HANDLE;
  std::vector<Session*> listening;
  for (const auto& s : g_sessions) {
    if (s->Listens(p->guid) && s->Passes(descriptor->Level, descriptor->Keyword)) listening.push_back(s.get());
  }
  if (listening.empty()) return STATUS_SUCCESS;  // nobody listens: nothing is written
  etw::Event e = NewEvent(p->guid, p->name);
  e.descriptor = *descriptor;
  e.manifest = p->manifest;
  if (const NTSTATUS s = Capture(count, data, e.fields); !NT_SUCCESS(s)) return s;
  for (Session* s : listening) Keep(*s, e);
  return STATUS_SUCCESS;
}

// A new provider's handle. A session already listening enables it while it registers, as on Windows.
REGHANDLE Add(Provider provider) {
  auto p = std::make_unique<Provider>(std::move(provider));
  const Provider& registered = *p;
  g_providers.push_back(std::move(p));
  for (const auto& s : g_sessions) {
    if (s->Listens(registered.guid)) Notify(registered, *s, true);
  }
  return reinterpret_cast<REGHANDLE>(&registered);
}

}  // namespace

NTSTATUS NTAPI EtwRegister(const GUID* ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                           REGHANDLE* RegHandle) {
  if (!ProviderId || !RegHandle) return STATUS_INVALID_PARAMETER;
  if (g_providers.size() >= kMaxProviders) return STATUS_INSUFFICIENT_RESOURCES;
  // The manifest comes with the calling driver's image, as Windows finds it through the provider's
  // registered resource file.
  const auto caller = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
  const Module* module = Kernel::Current().ModuleAt(caller);
  auto manifest = module && module->image ? etw::ManifestOf(module->image->pe(), *ProviderId) : nullptr;
  *RegHandle = Add(Provider{*ProviderId, EnableCallback, nullptr, CallbackContext, {}, std::move(manifest)});
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI EtwRegisterClassicProvider(const GUID* ProviderGuid, ULONG Type, PETW_CLASSIC_CALLBACK EnableCallback,
                                          PVOID CallbackContext, REGHANDLE* RegHandle) {
  (void)Type;
  if (!ProviderGuid || !RegHandle) return STATUS_INVALID_PARAMETER;
  if (g_providers.size() >= kMaxProviders) return STATUS_INSUFFICIENT_RESOURCES;
  *RegHandle = Add(Provider{*ProviderGuid, nullptr, EnableCallback, CallbackContext, {}});
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI EtwUnregister(REGHANDLE RegHandle) {
  const auto it = std::find_if(g_providers.begin(), g_providers.end(),
                               [&](const auto& p) { return reinterpret_cast<REGHANDLE>(p.get()) == RegHandle; });
  if (it == g_providers.end()) return STATUS_INVALID_HANDLE;
  g_providers.erase(it);
  return STATUS_SUCCESS;
}

BOOLEAN NTAPI EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword) {
  const Provider* p = ProviderOf(RegHandle);
  if (!p) return FALSE;
  for (const auto& s : g_sessions) {
    if (s->Listens(p->guid) && s->Passes(Level, Keyword)) return TRUE;
  }
  return FALSE;
}

BOOLEAN NTAPI EtwEventEnabled(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor) {
  return EventDescriptor ? EtwProviderEnabled(RegHandle, EventDescriptor->Level, EventDescriptor->Keyword) : FALSE;
}

NTSTATUS NTAPI EtwWrite(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, const GUID* ActivityId,
                        ULONG UserDataCount, EVENT_DATA_DESCRIPTOR* UserData) {
  (void)ActivityId;
  return Write(RegHandle, EventDescriptor, UserDataCount, UserData);
}

NTSTATUS NTAPI EtwWriteEx(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, ULONG64 Filter, ULONG Flags,
                          const GUID* ActivityId, const GUID* RelatedActivityId, ULONG UserDataCount,
                          EVENT_DATA_DESCRIPTOR* UserData) {
  (void)Filter;
  (void)Flags;
  (void)ActivityId;
  (void)RelatedActivityId;
  return Write(RegHandle, EventDescriptor, UserDataCount, UserData);
}

NTSTATUS NTAPI EtwWriteTransfer(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, const GUID* ActivityId,
                                const GUID* RelatedActivityId, ULONG UserDataCount, EVENT_DATA_DESCRIPTOR* UserData) {
  (void)ActivityId;
  (void)RelatedActivityId;
  return Write(RegHandle, EventDescriptor, UserDataCount, UserData);
}

NTSTATUS NTAPI EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, const GUID* ActivityId,
                              PCWSTR String) {
  (void)ActivityId;
  if (!String) return STATUS_INVALID_PARAMETER;
  std::size_t length = 0;
  while (length < kMaxEventBytes / 2) {
    char16_t c = 0;
    if (!cpu::SafeCopy(&c, String + length, sizeof c)) return STATUS_INVALID_PARAMETER;
    if (c == 0) break;
    ++length;
  }
  EVENT_DESCRIPTOR descriptor{};
  descriptor.Level = Level;
  descriptor.Keyword = Keyword;
  EVENT_DATA_DESCRIPTOR data{reinterpret_cast<ULONGLONG>(String), static_cast<ULONG>((length + 1) * 2), 0};
  return Write(RegHandle, &descriptor, 1, &data);
}

NTSTATUS NTAPI EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                 ULONG InformationLength) {
  Provider* p = ProviderOf(RegHandle);
  if (!p) return STATUS_INVALID_HANDLE;
  if (InformationClass == EventProviderSetTraits && EventInformation && InformationLength >= 3) {
    // Traits: a USHORT size, then the provider's name as UTF-8, NUL-terminated.
    std::vector<char> traits(InformationLength);
    if (!cpu::SafeCopy(traits.data(), EventInformation, InformationLength)) return STATUS_INVALID_PARAMETER;
    const char* name = traits.data() + 2;
    p->name.assign(name, strnlen(name, InformationLength - 2));
  }
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI WmiTraceMessage(ULONG64 LoggerHandle, ULONG MessageFlags, const GUID* MessageGuid, USHORT MessageNumber,
                               ...) {
  (void)MessageFlags;
  const auto loggerId = static_cast<USHORT>(LoggerHandle & 0xFFFF);
  Session* session = nullptr;
  for (const auto& s : g_sessions) {
    if (s->loggerId == loggerId) session = s.get();
  }
  if (!session || !MessageGuid) return STATUS_INVALID_HANDLE;
  etw::Event e = NewEvent(*MessageGuid, {});
  e.wpp = true;
  e.messageGuid = *MessageGuid;
  e.descriptor.Id = MessageNumber;
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, MessageNumber);
  std::size_t total = 0;
  NTSTATUS status = STATUS_SUCCESS;
  for (;;) {
    const void* p = __builtin_va_arg(args, const void*);
    if (!p) break;
    const auto length = __builtin_va_arg(args, SIZE_T);
    total += length;
    if (total > kMaxEventBytes) {
      status = STATUS_BUFFER_OVERFLOW;
      break;
    }
    std::vector<std::uint8_t> bytes(length);
    if (length && !cpu::SafeCopy(bytes.data(), p, length)) {
      status = STATUS_INVALID_PARAMETER;
      break;
    }
    e.fields.push_back(std::move(bytes));
  }
  __builtin_ms_va_end(args);
  if (NT_SUCCESS(status)) Keep(*session, e);
  return status;
}

// WPP's WMI registration: ntbox's sessions reach classic providers through
// EtwRegisterClassicProvider, so the WMI request is accepted with nothing more to do.
NTSTATUS NTAPI IoWMIRegistrationControl(PVOID DeviceObject, ULONG Action) {
  (void)DeviceObject;
  (void)Action;
  return STATUS_SUCCESS;
}

namespace etw {

namespace {

// A field as tracefmt shows an argument without the driver's format: a number when it has a
// number's size (1, 2, 4 or 8 bytes), text when it is a NUL-terminated string, else its bytes.
std::string FieldText(const std::vector<std::uint8_t>& f) {
  if (f.size() == 1 || f.size() == 2 || f.size() == 4 || f.size() == 8) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < f.size(); ++i) v |= static_cast<std::uint64_t>(f[i]) << (8 * i);
    return f.size() == 8 ? fmt::format("0x{:016X}", v) : std::to_string(v);
  }
  auto printable = [](std::uint32_t c) { return c >= 0x20 && c < 0x7F; };
  if (f.size() >= 4 && f.size() % 2 == 0 && f[f.size() - 1] == 0 && f[f.size() - 2] == 0) {
    std::string text;
    bool ok = true;
    for (std::size_t i = 0; i + 2 < f.size() && ok; i += 2) {
      const std::uint32_t c = f[i] | (f[i + 1] << 8);
      ok = printable(c);
      text += static_cast<char>(c);
    }
    if (ok) return "\"" + text + "\"";
  }
  if (f.size() >= 2 && f.back() == 0) {
    const std::string text(f.begin(), f.end() - 1);
    if (std::all_of(text.begin(), text.end(), [&](char c) { return printable(static_cast<unsigned char>(c)); })) {
      return "\"" + text + "\"";
    }
  }
  std::string hex;
  for (const auto b : f) hex += fmt::format("{:02x}", b);
  return "[" + hex + "]";
}


}  // namespace

std::string TimeText(std::int64_t systemTime) {
  constexpr std::int64_t kUnixEpoch = 116444736000000000;  // 1970 in 100 ns units since 1601
  const std::int64_t unix100ns = systemTime - kUnixEpoch;
  const std::time_t seconds = static_cast<std::time_t>(unix100ns / 10000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:02}/{:02}/{:04}-{:02}:{:02}:{:02}.{:07}", tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, unix100ns % 10000000);
}

namespace {

// An event its provider's manifest describes: names for the task, opcode and fields, the message
// with the fields put in; nullopt when the manifest lacks the event or the data does not fit it.
std::optional<std::string> DecodedText(const Event& e, const ProviderManifest& m) {
  const ManifestEvent* event = m.Find(e.descriptor.Id, e.descriptor.Version);
  if (!event) return std::nullopt;
  std::vector<std::uint8_t> data;
  for (const auto& f : e.fields) data.insert(data.end(), f.begin(), f.end());
  const auto fields = DecodeFields(*event, data);
  if (!fields) return std::nullopt;
  auto named = [](const std::map<std::uint32_t, std::string>& names, std::uint32_t id) {
    const auto it = names.find(id);
    return it != names.end() && !it->second.empty() ? it->second : std::to_string(id);
  };
  std::string out = fmt::format("Task {} Opcode {}", named(m.tasks, e.descriptor.Task), named(m.opcodes, e.descriptor.Opcode));
  for (std::size_t i = 0; i < fields->size(); ++i) {
    const bool text = event->fields[i].inType == kInUnicodeString || event->fields[i].inType == kInAnsiString;
    const auto& [name, value] = (*fields)[i];
    out += text ? fmt::format(" {}=\"{}\"", name, value) : fmt::format(" {}={}", name, value);
  }
  if (!event->message.empty()) out += " \"" + ExpandMessage(event->message, *fields) + "\"";
  return out;
}

}  // namespace

std::string FormatEvent(const Event& e, const TmfSet* tmf) {
  std::string out = fmt::format("[{}]{:04X}.{:04X}::{} ", e.sequence, e.processId, e.threadId, TimeText(e.systemTime));
  if (const TmfMessage* m = e.wpp && tmf ? tmf->Find(e.messageGuid, e.descriptor.Id) : nullptr) {
    return out + fmt::format("[{}]{}", m->module, FormatWppMessage(*m, e));  // tracefmt's default prefix
  }
  if (e.wpp) {
    out += fmt::format("[WPP {} #{}]", GuidText(e.messageGuid), e.descriptor.Id);
  } else {
    std::string provider = e.providerName.empty() ? GuidText(e.provider) : e.providerName;
    if (e.manifest && !e.manifest->name.empty()) provider = e.manifest->name;
    out += fmt::format("[{}] Id {} Level {} Keyword 0x{:X} ", provider, e.descriptor.Id, e.descriptor.Level,
                       e.descriptor.Keyword);
    if (const auto decoded = e.manifest ? DecodedText(e, *e.manifest) : std::nullopt) return out + *decoded;
    out += fmt::format("Task {} Opcode {}", e.descriptor.Task, e.descriptor.Opcode);
  }
  for (const auto& f : e.fields) out += " " + FieldText(f);
  return out;
}

std::string GuidText(const GUID& g) {
  return fmt::format("{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", g.Data1, g.Data2,
                     g.Data3, g.Data4[0], g.Data4[1], g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6],
                     g.Data4[7]);
}

std::optional<GUID> ParseGuid(std::string_view text) {
  if (!text.empty() && text.front() == '#') text.remove_prefix(1);
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') text = text.substr(1, 36);
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') return std::nullopt;
  auto hex = [&](std::size_t at, std::size_t digits, std::uint64_t& out) {
    out = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      const char c = text[at + i];
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return false;
      out = out * 16 + static_cast<std::uint64_t>(v);
    }
    return true;
  };
  GUID g{};
  std::uint64_t v = 0;
  if (!hex(0, 8, v)) return std::nullopt;
  g.Data1 = static_cast<ULONG>(v);
  if (!hex(9, 4, v)) return std::nullopt;
  g.Data2 = static_cast<USHORT>(v);
  if (!hex(14, 4, v)) return std::nullopt;
  g.Data3 = static_cast<USHORT>(v);
  const std::size_t at[8] = {19, 21, 24, 26, 28, 30, 32, 34};
  for (int i = 0; i < 8; ++i) {
    if (!hex(at[i], 2, v)) return std::nullopt;
    g.Data4[i] = static_cast<UCHAR>(v);
  }
  return g;
}

Result<void> StartSession(const std::string& name, UCHAR level, ULONGLONG anyKeyword, ULONGLONG allKeyword,
                          bool realTime) {
  if (name.empty()) return Fail("a session needs a name", 0, 87);
  if (SessionNamed(name)) return Fail("Cannot create a file when that file already exists.", 0, 183);
  auto s = std::make_unique<Session>(Session{name, g_nextLogger++, level, anyKeyword, allKeyword, {}, {}, 0, 0, realTime});
  g_sessions.push_back(std::move(s));
  return {};
}

Result<void> EnableProvider(const std::string& session, const GUID& provider, bool enable) {
  Session* s = SessionNamed(session);
  if (!s) return Fail("The instance name passed was not recognized as valid by a WMI data provider.", 0, 4201);
  if (enable) {
    if (!s->Listens(provider)) s->guids.push_back(provider);
  } else {
    std::erase_if(s->guids, [&](const GUID& g) { return std::memcmp(&g, &provider, sizeof g) == 0; });
  }
  NotifyAll(provider, *s, enable);
  return {};
}

Result<void> StopSession(const std::string& name) {
  Session* s = SessionNamed(name);
  if (!s) return Fail("The instance name passed was not recognized as valid by a WMI data provider.", 0, 4201);
  // Providers hear the session go; its events go with it.
  const std::vector<GUID> guids = s->guids;
  s->guids.clear();
  for (const GUID& g : guids) NotifyAll(g, *s, false);
  std::erase_if(g_sessions, [&](const auto& x) { return x.get() == s; });
  return {};
}

std::vector<SessionInfo> Sessions() {
  std::vector<SessionInfo> out;
  for (const auto& s : g_sessions) {
    out.push_back(SessionInfo{s->name, s->guids, s->level, s->any, s->all, s->total, s->lost, s->loggerId, s->realTime});
  }
  return out;
}

Result<std::vector<Event>> SessionEvents(const std::string& name) {
  Session* s = SessionNamed(name);
  if (!s) return Fail("The instance name passed was not recognized as valid by a WMI data provider.", 0, 4201);
  return std::vector<Event>(s->events.begin(), s->events.end());
}

std::vector<std::uint64_t> ProvidersIn(std::uint64_t begin, std::uint64_t end) {
  std::vector<std::uint64_t> out;
  for (const auto& p : g_providers) {
    for (const auto a : {reinterpret_cast<std::uint64_t>(p->callback), reinterpret_cast<std::uint64_t>(p->classic)}) {
      if (a >= begin && a < end) out.push_back(a);
    }
  }
  return out;
}

}  // namespace etw
}  // namespace ntbox::nt
