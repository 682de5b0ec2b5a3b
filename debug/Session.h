// What the debugger's commands share: the symbols, the output, where u and d go on from, and the
// machine's memory as the debugger reads it (a fault is an unreadable byte, never a crash).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "debug/Symbols.h"
#include "support/Result.h"

namespace ntbox::debug {

class Session {
 public:
  using Output = std::function<void(std::string_view)>;
  explicit Session(Output out) : out_(std::move(out)) {}

  Symbols& symbols() { return symbols_; }
  void Print(std::string_view text) { out_(text); }
  template <class... A>
  void Printf(fmt::format_string<A...> format, A&&... args) {
    out_(fmt::format(format, std::forward<A>(args)...));
  }

  // A MASM expression; the error is WinDbg's text.
  Result<std::uint64_t> Evaluate(std::string_view expression);
  // Bytes at address, page by page up to the first that cannot be read; how many were read.
  std::size_t Read(std::uint64_t address, std::span<std::uint8_t> out);
  std::optional<std::uint64_t> ReadPointer(std::uint64_t address);
  bool Write(std::uint64_t address, std::span<const std::uint8_t> bytes);
  // A register of the stopped thread (rax, eax, ax, al, rip, efl ...); nullopt while running.
  std::optional<std::uint64_t> Register(std::string_view name);

  // Where u and d continue when given no address.
  std::uint64_t nextCode = 0;
  std::uint64_t nextData = 0;
  bool ended = false;  // q or qd

 private:
  Output out_;
  Symbols symbols_;
};

// A command's arguments split at spaces.
std::vector<std::string> SplitArgs(std::string_view text);
// "L8", "L?0x100": an element count for d*, u; nullopt when word is no count.
std::optional<std::uint64_t> ParseCount(Session& session, std::string_view word);

using CommandHandler = void (*)(Session& session, std::string_view name, std::string_view args);

// The command groups (debug/commands/*.cpp).
void CmdLm(Session&, std::string_view, std::string_view);
void CmdX(Session&, std::string_view, std::string_view);
void CmdLn(Session&, std::string_view, std::string_view);
void CmdU(Session&, std::string_view, std::string_view);
void CmdUf(Session&, std::string_view, std::string_view);
void CmdUb(Session&, std::string_view, std::string_view);
void CmdDisplay(Session&, std::string_view, std::string_view);  // db dw dd dq dp da du ds dS
void CmdEnter(Session&, std::string_view, std::string_view);    // eb ew ed eq
void CmdEvaluate(Session&, std::string_view, std::string_view);  // ?
void CmdDrvobj(Session&, std::string_view, std::string_view);
void CmdDevobj(Session&, std::string_view, std::string_view);

}  // namespace ntbox::debug
