// MASM expressions as WinDbg evaluates them: numbers in hex by default (0x, 0n decimal, 0y binary,
// a ` between the halves of an address), module!symbol, registers (@rax, or rax when the name is no
// number), poi(address), + - * / and parentheses.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "support/Result.h"

namespace ntbox::debug {

class Symbols;

struct EvaluationContext {
  Symbols& symbols;
  // A register's value while broken in; nullopt for no such register (or not broken in).
  std::function<std::optional<std::uint64_t>(std::string_view)> reg;
  // poi(): eight bytes at an address; nullopt when unreadable.
  std::function<std::optional<std::uint64_t>(std::uint64_t)> readPointer;
};

// Errors carry WinDbg's text: "Couldn't resolve error at 'foo!bar'", "Syntax error at '...'".
Result<std::uint64_t> Evaluate(std::string_view text, const EvaluationContext& context);

}  // namespace ntbox::debug
