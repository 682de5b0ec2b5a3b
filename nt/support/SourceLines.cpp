#include "nt/support/SourceLines.h"

#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/support/SymbolHelper.h"

namespace ntbox::nt {
namespace {

std::mutex g_mutex;
// By image path and address at the preferred base; nullopt: looked up, nothing there.
std::map<std::pair<std::string, std::uint64_t>, std::optional<SourceLine>> g_lines;

}  // namespace

void LoadSourceLines(const Module& module, std::span<const std::uint64_t> addresses) {
  if (!module.image) return;
  const std::uint64_t preferred = module.image->pe().preferredBase();
  std::vector<std::uint64_t> wanted;
  {
    std::lock_guard lock(g_mutex);
    for (const std::uint64_t a : addresses) {
      if (!module.image->contains(a)) continue;
      const std::uint64_t at = preferred + (a - module.image->base());
      if (!g_lines.contains({module.path, at})) wanted.push_back(at);
    }
  }
  if (wanted.empty()) return;
  std::map<std::uint64_t, std::optional<SourceLine>> found;
  for (const std::uint64_t at : wanted) found[at] = std::nullopt;
  // ADDRESS \t LINE [\t START \t FUNCTION \t FILE]
  std::istringstream lines(LookUpLines(module.path, wanted));
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    if (fields.size() < 5) continue;
    const std::uint64_t at = std::strtoull(fields[0].c_str(), nullptr, 16);
    if (!found.contains(at)) continue;
    SourceLine s;
    s.line = static_cast<std::uint32_t>(std::strtoul(fields[1].c_str(), nullptr, 10));
    const std::uint64_t start = std::strtoull(fields[2].c_str(), nullptr, 16);
    if (start >= preferred && start - preferred < module.image->size()) {
      s.functionStart = module.image->base() + (start - preferred);
    }
    s.function = fields[3];
    s.file = fields[4];
    if (s.line) found[at] = std::move(s);
  }
  std::lock_guard lock(g_mutex);
  for (auto& [at, s] : found) g_lines[{module.path, at}] = std::move(s);
}

std::optional<SourceLine> SourceLineAt(const Module& module, std::uint64_t address) {
  if (!module.image || !module.image->contains(address)) return std::nullopt;
  LoadSourceLines(module, std::span<const std::uint64_t>(&address, 1));
  const std::uint64_t at = module.image->pe().preferredBase() + (address - module.image->base());
  std::lock_guard lock(g_mutex);
  const auto it = g_lines.find({module.path, at});
  return it == g_lines.end() ? std::nullopt : it->second;
}

}  // namespace ntbox::nt
