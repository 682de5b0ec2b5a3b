// Altitudes, as the object and registry callbacks (and filter drivers) are ordered by: a decimal
// number as text ("380000", "321000.5"); a higher one is called first before an operation.
#pragma once
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace ntbox::nt {

inline std::optional<long double> ParseAltitude(std::u16string_view text) {
  std::string ascii;
  for (const char16_t c : text) {
    if ((c < u'0' || c > u'9') && c != u'.') return std::nullopt;
    ascii += static_cast<char>(c);
  }
  if (ascii.empty() || ascii == "." || std::count(ascii.begin(), ascii.end(), '.') > 1) return std::nullopt;
  return std::stold(ascii);
}

}  // namespace ntbox::nt
