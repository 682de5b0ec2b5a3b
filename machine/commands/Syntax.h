// The Windows-syntax commands' syntax as data: each one's usage, the verbs it takes and an
// example. The CLI answers help requests (/?, -?, -h, --help, anywhere on the line) and unknown
// verbs (with "did you mean") from this table, before any machine boots; the commands print the
// same usage on a bad argument.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntbox::machine {

// The command's help: its usage, what its keywords are, and an example. Empty for an unknown one.
std::string_view UsageOf(std::string_view command);
// The verbs a Windows-syntax command takes first (shell completion), or none.
std::vector<std::string_view> VerbsOf(std::string_view command);

// What the CLI does for a Windows-syntax command before it reaches the machine: print the help
// (exit 0) for a help request, refuse an unknown verb with its nearest match (exit 2, on err), or
// nullopt to go on. --json, anywhere on the line, is refused (exit 2) where the verb prints no JSON.
std::optional<int> CheckSyntax(std::string_view command, const std::vector<std::string>& args, std::string& out,
                               std::string& err);

}  // namespace ntbox::machine
