// Text conversion between the program's code pages and UTF-16: the ANSI code page is Latin-1
// (as the kernel's; a character it lacks becomes '?'), CP_UTF8 is UTF-8.
#pragma once
#include <string>

#include "user/Win32Types.h"

namespace ntbox::user {

constexpr UINT CP_UTF8 = 65001;

// length < 0: up to and including the terminating NUL.
std::u16string Decode(UINT codePage, const char* s, int length);
std::string Encode(UINT codePage, const char16_t* s, int length);
// A NUL-terminated wide string in the ANSI code page (nullptr: empty).
std::string Narrow(const char16_t* s);

}  // namespace ntbox::user
