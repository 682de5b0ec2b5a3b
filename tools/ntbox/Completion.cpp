// `ntbox completion bash|zsh`: a completion script made from the CLI itself (its commands, each
// one's options, the Windows-syntax commands' verbs), so it never lags behind them.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "machine/commands/Syntax.h"
#include "tools/ntbox/Commands.h"

namespace ntbox::tools {
namespace {

std::string BashScript(const CLI::App& app) {
  std::string commands, cases;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string& name = sub->get_name();
    if (name == "completion") continue;
    commands += name + " ";
    std::string words;
    for (const auto v : machine::VerbsOf(name)) words += std::string(v) + " ";
    for (const CLI::Option* o : sub->get_options()) {
      if (o->get_group().empty()) continue;  // internal
      for (const auto& l : o->get_lnames()) words += "--" + l + " ";
    }
    if (!words.empty()) cases += fmt::format("    {}) words=\"{}\" ;;\n", name, words);
  }
  std::string globals;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) globals += "--" + l + " ";
  }
  return fmt::format(R"(# bash completion for ntbox (ntbox completion bash)
_ntbox() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" command="" i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in
      --machine) ((i++)) ;;
      -*) ;;
      *) command="${{COMP_WORDS[i]}}"; break ;;
    esac
  done
  if [[ -z "$command" ]]; then
    COMPREPLY=($(compgen -W "{}{}" -- "$cur"))
    return
  fi
  case "$command" in
{}    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [[ ${{#COMPREPLY[@]}} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
}}
complete -F _ntbox ntbox
)",
                     commands, globals, cases);
}

}  // namespace

std::function<int()> AddCompletionCommand(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "A shell completion script: source <(ntbox completion bash)");
  cmd->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  cmd->footer("example: ntbox completion bash > ~/.local/share/bash-completion/completions/ntbox");
  return [cmd, shell, &app]() -> int {
    if (!cmd->parsed()) return -1;
    if (*shell == "zsh") std::fputs("autoload -U +X bashcompinit && bashcompinit\n", stdout);
    std::fputs(BashScript(app).c_str(), stdout);
    return kExitOk;
  };
}

}  // namespace ntbox::tools
