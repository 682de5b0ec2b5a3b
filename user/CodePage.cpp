#include "user/CodePage.h"

#include <cstring>

namespace ntbox::user {

std::u16string Decode(UINT codePage, const char* s, int length) {
  std::u16string out;
  const std::size_t n = length < 0 ? std::strlen(s) + 1 : static_cast<std::size_t>(length);
  for (std::size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (codePage != CP_UTF8 || c < 0x80) {
      out += static_cast<char16_t>(c);
      ++i;
      continue;
    }
    const int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    std::uint32_t cp = c & (0x3F >> extra);
    std::size_t j = 1;
    for (; j <= static_cast<std::size_t>(extra) && i + j < n; ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3F);
    i += j;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += extra ? static_cast<char16_t>(cp) : u'\xFFFD';
    }
  }
  return out;
}
std::string Encode(UINT codePage, const char16_t* s, int length) {
  std::string out;
  const std::size_t n = length < 0 ? std::char_traits<char16_t>::length(s) + 1 : static_cast<std::size_t>(length);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t cp = s[i];
    if (codePage != CP_UTF8) {
      out += cp < 0x100 ? static_cast<char>(cp) : '?';
      continue;
    }
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < n) cp = 0x10000 + ((cp - 0xD800) << 10) + (s[++i] - 0xDC00);
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    else if (cp < 0x10000) out += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    else out += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
  }
  return out;
}

std::string Narrow(const char16_t* s) {
  return s ? Encode(0, s, static_cast<int>(std::char_traits<char16_t>::length(s))) : std::string();
}

}  // namespace ntbox::user
