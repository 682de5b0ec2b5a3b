// libFuzzer target: bytes as a driver's ETW manifest (the WEVT_TEMPLATE resource tracefmt reads
// from a loaded image), each event then decoded against the bytes after the manifest's own size as
// its user data, its message expanded. Every input is refused with a reason or read; none may crash
// or hang the host.
#include <cstddef>
#include <cstdint>
#include <span>

#include "nt/etw/Manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const auto messages = [&](std::uint32_t id) { return ntbox::nt::etw::MessageTableString(bytes, id); };
  const auto providers = ntbox::nt::etw::ParseManifest(bytes, messages);
  if (!providers) return 0;
  const std::span<const std::uint8_t> payload = bytes.subspan(size / 2);
  for (const auto& p : *providers) {
    for (const auto& e : p.events) {
      if (const auto fields = ntbox::nt::etw::DecodeFields(e, payload)) {
        (void)ntbox::nt::etw::ExpandMessage(e.message, *fields);
      }
    }
  }
  return 0;
}
