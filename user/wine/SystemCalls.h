// The system-call numbering of the ntdll.dll programs run on (Wine 8.0's PE build). Every system
// service there is a thunk, `mov r10, rcx; mov eax, N; test byte [0x7ffe0308], 1; jne 1f; syscall;
// ret; 1: call [0x7ffe1000]; ret`, and winebuild numbers them in the order of their names, which
// changes between Wine versions: the numbers are read from the thunks by export name at load, so a
// different ntdll is caught (a thunk of unknown shape, numbers that do not match the table of
// argument sizes) rather than misnumbered.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::user::wine {

class SystemCallNumbering {
 public:
  // From ntdll's file: its thunks (by export name) and `__wine_syscall_dispatcher`, the data
  // export `{ void* dispatcher; USHORT count; BYTE argumentBytes[count]; }`.
  static Result<SystemCallNumbering> Read(const pe::PeImage& ntdll);

  std::size_t count() const { return names_.size(); }
  // The service's name ("NtClose"; the Nt spelling where ntdll exports both) by number.
  const std::string& NameOf(std::uint32_t number) const { return names_.at(number); }
  std::optional<std::uint32_t> NumberOf(std::string_view name) const;
  // How many bytes of arguments the service takes (8 per argument, the first four included).
  std::uint32_t ArgumentBytes(std::uint32_t number) const { return argumentBytes_.at(number); }

 private:
  std::vector<std::string> names_;
  std::vector<std::uint8_t> argumentBytes_;
};

}  // namespace ntbox::user::wine
