// ioctl: one DeviceIoControl from the machine's native client, for the shell:
//   ntbox ioctl '\\.\IoctlTest' 0x9C40240C --in 48656c6c6f00 --out-size 64
// Prints the IO_STATUS_BLOCK and the output as a hex dump.
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/commands/Command.h"
#include "nt/Status.h"
#include "nt/rtl/Win32Error.h"

namespace ntbox::machine {
namespace {

std::optional<std::uint32_t> ParseNumber(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    base = 16;
  }
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::vector<std::uint8_t>> ParseHex(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c == ' ' || c == ':' || c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits.push_back(c);
  }
  if (digits.size() % 2) return std::nullopt;
  std::vector<std::uint8_t> out(digits.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::from_chars(digits.data() + 2 * i, digits.data() + 2 * i + 2, out[i], 16);
  }
  return out;
}

std::string HexDump(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  for (std::size_t row = 0; row < bytes.size(); row += 16) {
    out += fmt::format("{:04x} ", row);
    std::string text;
    for (std::size_t i = row; i < row + 16; ++i) {
      if (i < bytes.size()) {
        out += fmt::format(" {:02x}", bytes[i]);
        text.push_back(bytes[i] >= 0x20 && bytes[i] < 0x7F ? static_cast<char>(bytes[i]) : '.');
      } else {
        out += "   ";
      }
    }
    out += "  " + text + "\n";
  }
  return out;
}

constexpr char kUsage[] = "usage: ntbox ioctl DEVICE CODE [--in HEX|@FILE] [--out-size N] [--json]\n";

}  // namespace

// args: device, code, input hex ("" for none), output size.
int RunIoctl(CommandContext& ctx, const std::vector<std::string>& args) {
  if (args.size() != 4) {
    ctx.err(kUsage);
    return kCommandUsage;
  }
  const auto code = ParseNumber(args[1]);
  const auto input = ParseHex(args[2]);
  const auto outSize = ParseNumber(args[3]);
  if (!code || !input || !outSize) {
    ctx.err(!code ? "ntbox ioctl: CODE must be a number (0x9C402410 or 2621449232)\n"
            : !input ? "ntbox ioctl: --in must be hex bytes (48656c6c6f or 48:65:6c)\n"
                     : "ntbox ioctl: --out-size must be a number\n");
    return kCommandUsage;
  }
  auto handle = ctx.machine.OpenDevice(args[0]);
  if (!handle) {
    if (ctx.machine.crashReport()) {
      ctx.err(handle.error().message);
      return kCommandBugCheck;
    }
    ctx.err(fmt::format("CreateFile {} FAILED {}:\n\n{}\n", args[0], handle.error().win32,
                        nt::Win32ErrorMessage(handle.error().win32)));
    return kCommandFailed;
  }
  std::vector<std::uint8_t> output;
  auto r = ctx.machine.DeviceIoControl(*handle, *code, *input, output, *outSize);
  if (!r) {
    ctx.err(r.error().message);
    return ctx.machine.crashReport() ? kCommandBugCheck : kCommandFailed;
  }
  (void)ctx.machine.CloseHandle(*handle);
  const auto name = nt::NtStatusName(r->status);
  if (ctx.json) {
    // The output as hex, as --in takes it.
    std::string hex;
    for (const std::uint8_t b : output) hex += fmt::format("{:02x}", b);
    ctx.out(nlohmann::json{{"status", static_cast<std::uint32_t>(r->status)},
                           {"statusName", std::string(name)},
                           {"information", r->information},
                           {"win32", r->win32},
                           {"output", hex}}
                .dump() +
            "\n");
    return r->win32 ? kCommandFailed : kCommandOk;
  }
  ctx.out(fmt::format("IoStatus.Status       0x{:08X}{}\nIoStatus.Information  {}\n",
                      static_cast<std::uint32_t>(r->status), name.empty() ? "" : " (" + std::string(name) + ")",
                      r->information));
  if (!output.empty()) ctx.out(fmt::format("Output ({} bytes):\n{}", output.size(), HexDump(output)));
  if (r->win32) {
    ctx.err(fmt::format("DeviceIoControl FAILED {}:\n\n{}\n", r->win32, nt::Win32ErrorMessage(r->win32)));
    return kCommandFailed;
  }
  return kCommandOk;
}

}  // namespace ntbox::machine
