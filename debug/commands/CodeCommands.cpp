// u, uf, ub: disassembly as WinDbg prints it, with the source line of every instruction when the
// image has DWARF ("   13 fffff800`64521020 4889542410      mov     qword ptr [rsp+10h],rdx").
#include <algorithm>
#include <set>

#include "debug/Disassembler.h"
#include "debug/Session.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

void PrintInstruction(Session& s, const Instruction& i) {
  std::string line;
  if (const auto pos = s.symbols().LineAt(i.address)) line = fmt::format("{:>5} ", pos->line);
  if (i.length == 0) {
    s.Printf("{}{} ??              ???\n", line, nt::WinDbgAddress(i.address));
    return;
  }
  s.Printf("{}{} {:<15} {}\n", line, nt::WinDbgAddress(i.address), i.bytes, i.text);
}

// "FirstDriverSample!DriverEntry [C:\...\FirstDriver.cpp @ 13]:"
void PrintLabel(Session& s, std::uint64_t address) {
  std::string name = s.symbols().NameOf(address);
  if (name.empty()) name = nt::WinDbgAddress(address);
  if (const auto pos = s.symbols().LineAt(address)) {
    s.Printf("{} [{} @ {}]:\n", name, pos->file, pos->line);
  } else {
    s.Printf("{}:\n", name);
  }
}

Result<std::pair<std::uint64_t, std::optional<std::uint64_t>>> AddressAndCount(Session& s, std::string_view args,
                                                                               std::uint64_t fallback) {
  const auto words = SplitArgs(args);
  std::optional<std::uint64_t> count;
  std::string expression;
  for (const auto& w : words) {
    if (auto c = ParseCount(s, w)) {
      count = *c;
    } else {
      expression += (expression.empty() ? "" : " ") + w;
    }
  }
  if (expression.empty()) {
    if (!fallback) return Fail("No address: give one (u ADDRESS)");
    return std::pair{fallback, count};
  }
  auto address = s.Evaluate(expression);
  if (!address) return std::unexpected(address.error());
  return std::pair{*address, count};
}

}  // namespace

void CmdU(Session& s, std::string_view, std::string_view args) {
  auto where = AddressAndCount(s, args, s.nextCode);
  if (!where) {
    s.Printf("{}\n", where.error().message);
    return;
  }
  std::uint64_t address = where->first;
  const std::uint64_t count = std::min<std::uint64_t>(where->second.value_or(8), 0x1000);
  for (std::uint64_t n = 0; n < count; ++n) {
    const std::string name = s.symbols().NameOf(address);
    // A label where a function begins, and before the first line.
    if (n == 0 || (!name.empty() && name.find('+') == std::string::npos)) PrintLabel(s, address);
    const Instruction i = s.Decode(address);
    PrintInstruction(s, i);
    address += i.length ? i.length : 1;
  }
  s.nextCode = address;
}

void CmdUb(Session& s, std::string_view, std::string_view args) {
  auto where = AddressAndCount(s, args, s.nextCode);
  if (!where) {
    s.Printf("{}\n", where.error().message);
    return;
  }
  const std::uint64_t end = where->first;
  const std::uint64_t count = std::min<std::uint64_t>(where->second.value_or(8), 0x100);
  // Decode forward from the function's start (or a window before) to stay on instruction boundaries.
  const auto fn = s.symbols().FunctionAt(end);
  std::uint64_t address = fn && fn->start < end ? fn->start : end - std::min<std::uint64_t>(end, count * 15);
  std::vector<Instruction> found;
  while (address < end) {
    Instruction i = s.Decode(address);
    address += i.length ? i.length : 1;
    found.push_back(std::move(i));
  }
  const std::size_t first = found.size() > count ? found.size() - count : 0;
  if (first < found.size()) PrintLabel(s, found[first].address);
  for (std::size_t k = first; k < found.size(); ++k) PrintInstruction(s, found[k]);
}

void CmdUf(Session& s, std::string_view, std::string_view args) {
  std::string expression;
  for (const auto& w : SplitArgs(args)) {
    if (!w.starts_with('/')) expression = w;
  }
  auto address = s.Evaluate(expression);
  if (!address) {
    s.Printf("{}\n", address.error().message);
    return;
  }
  const auto fn = s.symbols().FunctionAt(*address);
  if (!fn) {
    s.Printf("No code found, aborting\n");
    return;
  }
  // The function's instructions, and where its blocks begin: branch targets inside it, and what
  // follows a branch.
  std::vector<Instruction> code;
  std::set<std::uint64_t> blocks{fn->start};
  for (std::uint64_t a = fn->start; a < fn->end;) {
    Instruction i = s.Decode(a);
    if (i.length == 0) break;
    a += i.length;
    if (i.target && *i.target >= fn->start && *i.target < fn->end && !i.isCall) blocks.insert(*i.target);
    if ((i.isJump || i.isReturn) && a < fn->end) blocks.insert(a);
    code.push_back(std::move(i));
  }
  // Padding after the last return (int3, nop) is no block of the function.
  while (!code.empty() && !code.back().isReturn && !code.back().isJump &&
         (code.back().text.starts_with("int3") || code.back().text.starts_with("nop"))) {
    code.pop_back();
  }
  for (const Instruction& i : code) {
    if (blocks.contains(i.address)) {
      if (i.address != fn->start) s.Print("\n");
      PrintLabel(s, i.address);
    }
    PrintInstruction(s, i);
  }
}

}  // namespace ntbox::debug
