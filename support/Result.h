// The result type of every fallible ntbox function: a value, or an Error that says why.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <utility>

namespace ntbox {

struct Error {
  std::string message;
  std::int32_t ntstatus = 0;  // the NTSTATUS Windows would return, where there is one
  std::uint32_t win32 = 0;    // the Win32 error code Windows would report (193, 577 ...), or 0
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(std::string message, std::int32_t ntstatus = 0,
                                   std::uint32_t win32 = 0) {
  return std::unexpected(Error{std::move(message), ntstatus, win32});
}

}  // namespace ntbox
