// Event Tracing for Windows, kernel side: providers drivers register (EtwRegister, and classic WPP
// providers through EtwRegisterClassicProvider), trace sessions the machine starts and stops
// (`ntbox tracelog`, tracelog.exe's syntax) that enable providers by GUID with a level and
// keywords, firing the providers' enable callbacks, and the events written while a session
// listens, kept in the session (the newest kMaxEvents, within kMaxSessionBytes) for `ntbox tracefmt`.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nt/Types.h"
#include "support/Result.h"

namespace ntbox::nt {

struct GUID {
  ULONG Data1;
  USHORT Data2;
  USHORT Data3;
  UCHAR Data4[8];
};
static_assert(sizeof(GUID) == 16);

struct EVENT_DESCRIPTOR {
  USHORT Id;
  UCHAR Version;
  UCHAR Channel;
  UCHAR Level;
  UCHAR Opcode;
  USHORT Task;
  ULONGLONG Keyword;
};
static_assert(sizeof(EVENT_DESCRIPTOR) == 0x10);
static_assert(offsetof(EVENT_DESCRIPTOR, Keyword) == 0x8);

struct EVENT_DATA_DESCRIPTOR {
  ULONGLONG Ptr;
  ULONG Size;
  ULONG Reserved;  // Type:8 (EVENT_DATA_DESCRIPTOR_TYPE_*), Reserved1:8, Reserved2:16
};
static_assert(sizeof(EVENT_DATA_DESCRIPTOR) == 0x10);

using REGHANDLE = ULONGLONG;
using PETWENABLECALLBACK = void(NTAPI*)(const GUID* SourceId, ULONG ControlCode, UCHAR Level,
                                        ULONGLONG MatchAnyKeyword, ULONGLONG MatchAllKeyword, PVOID FilterData,
                                        PVOID CallbackContext);
// A classic (WPP) provider's callback: EnableContext is a TRACE_ENABLE_CONTEXT.
using PETW_CLASSIC_CALLBACK = void(NTAPI*)(const GUID* Guid, UCHAR ControlCode, PVOID EnableContext,
                                           PVOID CallbackContext);

struct TRACE_ENABLE_CONTEXT {
  USHORT LoggerId;
  UCHAR Level;
  UCHAR InternalFlag;
  ULONG EnableFlags;
};
static_assert(sizeof(TRACE_ENABLE_CONTEXT) == 8);

NTSTATUS NTAPI EtwRegister(const GUID* ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                           REGHANDLE* RegHandle);
NTSTATUS NTAPI EtwUnregister(REGHANDLE RegHandle);
BOOLEAN NTAPI EtwEventEnabled(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor);
BOOLEAN NTAPI EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword);
NTSTATUS NTAPI EtwWrite(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, const GUID* ActivityId,
                        ULONG UserDataCount, EVENT_DATA_DESCRIPTOR* UserData);
NTSTATUS NTAPI EtwWriteEx(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, ULONG64 Filter, ULONG Flags,
                          const GUID* ActivityId, const GUID* RelatedActivityId, ULONG UserDataCount,
                          EVENT_DATA_DESCRIPTOR* UserData);
NTSTATUS NTAPI EtwWriteTransfer(REGHANDLE RegHandle, const EVENT_DESCRIPTOR* EventDescriptor, const GUID* ActivityId,
                                const GUID* RelatedActivityId, ULONG UserDataCount, EVENT_DATA_DESCRIPTOR* UserData);
NTSTATUS NTAPI EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, const GUID* ActivityId,
                              PCWSTR String);
NTSTATUS NTAPI EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                 ULONG InformationLength);
NTSTATUS NTAPI EtwRegisterClassicProvider(const GUID* ProviderGuid, ULONG Type, PETW_CLASSIC_CALLBACK EnableCallback,
                                          PVOID CallbackContext, REGHANDLE* RegHandle);
// WPP's message call: after the message number, (pointer, size_t length) pairs ending with NULL.
NTSTATUS NTAPI WmiTraceMessage(ULONG64 LoggerHandle, ULONG MessageFlags, const GUID* MessageGuid, USHORT MessageNumber,
                               ...);
NTSTATUS NTAPI IoWMIRegistrationControl(PVOID DeviceObject, ULONG Action);

namespace etw {

struct ProviderManifest;
class TmfSet;

std::string GuidText(const GUID& guid);  // "6d9a3f8e-..." lower case, no braces
std::optional<GUID> ParseGuid(std::string_view text);  // with or without braces or a leading '#'

struct Event {
  std::uint64_t sequence = 0;
  std::int64_t systemTime = 0;  // 100 ns units since 1601
  GUID provider{};
  std::string providerName;  // from EtwSetInformation's traits, when the driver gave them
  EVENT_DESCRIPTOR descriptor{};
  ULONG processId = 0;
  std::uint64_t threadId = 0;
  std::vector<std::vector<std::uint8_t>> fields;  // the user data descriptors' bytes, in order
  bool wpp = false;                               // a WmiTraceMessage: descriptor.Id is the message number
  GUID messageGuid{};
  // The provider's manifest, when its driver carries one (Manifest.h): tracefmt decodes with it.
  std::shared_ptr<const ProviderManifest> manifest;
};

struct SessionInfo {
  std::string name;
  std::vector<GUID> providers;
  UCHAR level = 0;
  ULONGLONG anyKeyword = 0, allKeyword = 0;
  std::uint64_t events = 0, lost = 0;
  USHORT loggerId = 0;
  bool realTime = false;  // events also go to the debug output (dbgview)
};

constexpr std::size_t kMaxEvents = 100000;
constexpr std::size_t kMaxSessionBytes = 64u << 20;

// A FILETIME-style time (100 ns units since 1601) as tracefmt prints one: MM/DD/YYYY-hh:mm:ss.fffffff.
std::string TimeText(std::int64_t systemTime);

// One event as tracefmt prints it: sequence, process.thread, time, the provider (its name when the
// driver gave it), id, level, keywords, task, opcode, then each field (a number for a 1-, 2-, 4- or
// 8-byte field, text for a NUL-terminated string, else its bytes); a WPP message by its GUID and number.
// With the provider's manifest (Manifest.h) the fields go by name and the message is shown; with
// the WPP message's TMF (Tmf.h), its formatted text after the module's name.
std::string FormatEvent(const Event& event, const TmfSet* tmf = nullptr);

// The machine's side (call under the kernel lock, on an attached thread: enable callbacks run).
Result<void> StartSession(const std::string& name, UCHAR level, ULONGLONG anyKeyword, ULONGLONG allKeyword,
                          bool realTime = false);
Result<void> StopSession(const std::string& name);
Result<void> EnableProvider(const std::string& session, const GUID& provider, bool enable);
std::vector<SessionInfo> Sessions();
Result<std::vector<Event>> SessionEvents(const std::string& name);

// Registered providers whose callbacks lie in [begin, end) (a driver unloading with them registered).
std::vector<std::uint64_t> ProvidersIn(std::uint64_t begin, std::uint64_t end);

}  // namespace etw
}  // namespace ntbox::nt
