#include "user/wine/SystemCalls.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "pe/PeTables.h"

namespace ntbox::user::wine {
namespace {

// The thunk around its number (bytes 4-7): mov r10, rcx; mov eax, imm32 | test byte [0x7ffe0308], 1;
// jne +3; syscall; ret; jmp +1; ret; call [0x7ffe1000]; ret.
constexpr std::array<std::uint8_t, 4> kHead = {0x4c, 0x8b, 0xd1, 0xb8};
constexpr std::array<std::uint8_t, 24> kTail = {0xf6, 0x04, 0x25, 0x08, 0x03, 0xfe, 0x7f, 0x01,
                                                0x75, 0x03, 0x0f, 0x05, 0xc3, 0xeb, 0x01, 0xc3,
                                                0xff, 0x14, 0x25, 0x00, 0x10, 0xfe, 0x7f, 0xc3};
constexpr std::size_t kThunkSize = kHead.size() + 4 + kTail.size();

}  // namespace

Result<SystemCallNumbering> SystemCallNumbering::Read(const pe::PeImage& ntdll) {
  auto exports = pe::ReadExports(ntdll);
  if (!exports) return std::unexpected(exports.error());
  SystemCallNumbering out;
  std::optional<std::uint32_t> table;
  for (const pe::ExportEntry& e : *exports) {
    if (e.forwarder) continue;
    if (e.name == "__wine_syscall_dispatcher") table = e.rva;
    const auto code = pe::BytesAtRva(ntdll, e.rva, kThunkSize);
    if (!code || !std::equal(kHead.begin(), kHead.end(), code->begin()) ||
        !std::equal(kTail.begin(), kTail.end(), code->begin() + 8)) {
      continue;
    }
    std::uint32_t number;
    std::memcpy(&number, code->data() + 4, 4);
    if (number >= 0x1000) return Fail(fmt::format("ntdll's {} has the system-call number {:#x}", e.name, number));
    if (out.names_.size() <= number) out.names_.resize(number + 1);
    std::string& name = out.names_[number];
    // Zw and Nt name one thunk: keep the Nt spelling.
    if (name.empty() || (name.starts_with("Zw") && e.name.starts_with("Nt"))) name = e.name;
  }
  if (out.names_.empty()) return Fail("ntdll.dll has no system-call thunk of the shape Wine 8.0 builds");
  for (std::size_t n = 0; n < out.names_.size(); ++n) {
    if (out.names_[n].empty()) return Fail(fmt::format("ntdll.dll has no thunk for system call {:#x}", n));
  }
  if (!table) return Fail("ntdll.dll does not export __wine_syscall_dispatcher");
  const auto count = pe::BytesAtRva(ntdll, *table + 8, 2);
  if (!count) return Fail("ntdll's __wine_syscall_dispatcher is outside its data");
  std::uint16_t n;
  std::memcpy(&n, count->data(), 2);
  if (n != out.names_.size()) {
    return Fail(fmt::format("ntdll.dll has {} system-call thunks but describes {} services", out.names_.size(), n));
  }
  const auto bytes = pe::BytesAtRva(ntdll, *table + 10, n);
  if (!bytes) return Fail("ntdll's table of argument sizes is outside its data");
  out.argumentBytes_.assign(bytes->begin(), bytes->end());
  return out;
}

std::optional<std::uint32_t> SystemCallNumbering::NumberOf(std::string_view name) const {
  std::string nt(name);
  if (nt.starts_with("Zw")) nt.replace(0, 2, "Nt");
  const auto it = std::find(names_.begin(), names_.end(), nt);
  if (it == names_.end()) return std::nullopt;
  return static_cast<std::uint32_t>(it - names_.begin());
}

}  // namespace ntbox::user::wine
