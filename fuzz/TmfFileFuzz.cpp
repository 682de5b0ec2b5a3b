// libFuzzer target: bytes as a WPP trace message format file (tracefmt -tmf), each message then
// formatted against an event whose arguments are slices of the same bytes. Every input is refused
// with a reason or read; none may crash or hang the host.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <string_view>

#include "nt/etw/Tmf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ntbox::nt::etw::TmfSet set;
  if (!set.Add(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.tmf")) return 0;
  ntbox::nt::etw::Event event;
  event.wpp = true;
  for (std::size_t at = 0; at < size && event.fields.size() < 8; at += 5) {
    event.fields.emplace_back(data + at, data + std::min(size, at + 1 + at % 9));
  }
  // Every message the file defined, found again by its GUID line and number.
  for (std::uint16_t number = 0; number < 64; ++number) {
    if (const auto* m = set.Find(event.messageGuid, number)) (void)ntbox::nt::etw::FormatWppMessage(*m, event);
  }
  return 0;
}
