// "Did you mean": the candidate nearest a mistyped word (a command, an option, a verb), by edit
// distance with transpositions; nothing when none is close enough to be a plausible typo.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ntbox {

// Edits (insert, delete, substitute, swap two neighbours) between a and b, case-insensitive.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The nearest candidate within 2 edits (1 for words of up to 3 characters), or nullopt.
std::optional<std::string> Closest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace ntbox
