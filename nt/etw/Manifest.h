// A provider's instrumentation manifest as a driver carries it: the WEVT_TEMPLATE resource (the
// binary form mc.exe, or ntbox-mc, compiles a .man into), with the message table that holds its
// strings. tracefmt decodes an event's user data with it, field by field, as TDH does on Windows.
// The binary layout follows libfwevt's "Windows Event manifest binary format" (CRIM → WEVT
// provider → its elements: EVNT events, TTBL/TEMP templates, TASK, OPCO, KEYW, LEVL).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nt/etw/Etw.h"
#include "support/Result.h"

namespace ntbox::pe {
class PeImage;
}

namespace ntbox::nt::etw {

// In-types and out-types as winmeta.xml numbers them (TDH_INTYPE_*, TDH_OUTTYPE_*).
enum InType : std::uint8_t {
  kInUnicodeString = 1, kInAnsiString, kInInt8, kInUInt8, kInInt16, kInUInt16, kInInt32, kInUInt32, kInInt64,
  kInUInt64, kInFloat, kInDouble, kInBoolean, kInBinary, kInGuid, kInPointer, kInFileTime, kInSystemTime, kInSid,
  kInHexInt32, kInHexInt64,
};
enum OutType : std::uint8_t {
  kOutHexInt8 = 16, kOutHexInt16, kOutHexInt32, kOutHexInt64, kOutPid, kOutTid, kOutPort, kOutIpv4,
  kOutWin32Error = 30, kOutNtStatus, kOutHResult,
};

struct ManifestField {
  std::string name;
  std::uint8_t inType = 0;
  std::uint8_t outType = 0;
  std::uint16_t length = 0;  // a fixed length (bytes of binary, characters of a string), else 0
};

struct ManifestEvent {
  USHORT id = 0;
  UCHAR version = 0;
  UCHAR level = 0;
  UCHAR opcode = 0;
  USHORT task = 0;
  ULONGLONG keywords = 0;
  std::string message;               // from the message table, with %1… for the fields; may be empty
  std::vector<ManifestField> fields;  // the template's, in order; empty without a template
};

struct ProviderManifest {
  GUID guid{};
  std::string name;  // the provider's message, when it has one
  std::vector<ManifestEvent> events;
  std::map<std::uint32_t, std::string> tasks, opcodes, levels;
  std::map<std::uint64_t, std::string> keywords;

  const ManifestEvent* Find(USHORT id, UCHAR version) const;
};

// A message table's string (RT_MESSAGETABLE), trailing line ends removed.
using MessageLookup = std::function<std::optional<std::string>(std::uint32_t id)>;
std::optional<std::string> MessageTableString(std::span<const std::uint8_t> table, std::uint32_t id);

// Every provider of a WEVT_TEMPLATE blob; an error saying where a malformed one is wrong.
Result<std::vector<ProviderManifest>> ParseManifest(std::span<const std::uint8_t> crim, const MessageLookup& messages);

// The manifest image carries for provider, or nullptr (none, or malformed: then events stay undecoded).
std::shared_ptr<const ProviderManifest> ManifestOf(const pe::PeImage& image, const GUID& provider);

struct DecodedField {
  std::string name;
  std::string value;
};
// The user data read field by field as the event's template says; nullopt when the data does not
// fit it (fewer bytes than the fields need), so the caller shows the bytes instead.
std::optional<std::vector<DecodedField>> DecodeFields(const ManifestEvent& event, std::span<const std::uint8_t> data);
// The event's message with %1… replaced by the fields' values (%% is a percent, %n a line end).
std::string ExpandMessage(const std::string& message, const std::vector<DecodedField>& fields);

}  // namespace ntbox::nt::etw
