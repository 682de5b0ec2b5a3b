#include "nt/support/HostSymbols.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

extern "C" void ntbox_call_driver_return();

namespace ntbox::nt {
namespace {

struct Entry {
  std::uint64_t start, size;
  std::string mangled;
};

// The executable's STT_FUNC symbols, at their run-time addresses, sorted.
const std::vector<Entry>& Table() {
  static std::once_flag once;
  static std::vector<Entry> table;
  std::call_once(once, [] {
    Dl_info self{};
    if (!dladdr(reinterpret_cast<void*>(&ntbox_call_driver_return), &self) || !self.dli_fname) return;
    // Mapped, not read: only the headers and the symbol and string tables are touched.
    const int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    void* map = ::fstat(fd, &st) == 0 && st.st_size > 0
                    ? ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                    : MAP_FAILED;
    ::close(fd);
    if (map == MAP_FAILED) return;
    struct Unmap {
      void* at;
      std::size_t size;
      ~Unmap() { ::munmap(at, size); }
    } unmap{map, static_cast<std::size_t>(st.st_size)};
    const std::string_view file(static_cast<const char*>(map), static_cast<std::size_t>(st.st_size));
    if (file.size() < sizeof(Elf64_Ehdr)) return;
    Elf64_Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return;
    if (eh.e_shoff + std::uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > file.size()) return;
    std::vector<Elf64_Shdr> sections(eh.e_shnum);
    std::memcpy(sections.data(), file.data() + eh.e_shoff, eh.e_shnum * sizeof(Elf64_Shdr));
    // A position-independent executable's symbols are relative to where it was loaded.
    const std::uint64_t bias = eh.e_type == ET_DYN ? reinterpret_cast<std::uint64_t>(self.dli_fbase) : 0;
    for (const Elf64_Shdr& s : sections) {
      if (s.sh_type != SHT_SYMTAB || s.sh_link >= sections.size()) continue;
      const Elf64_Shdr& strings = sections[s.sh_link];
      if (s.sh_offset + s.sh_size > file.size() || strings.sh_offset + strings.sh_size > file.size()) continue;
      for (std::uint64_t at = 0; at + sizeof(Elf64_Sym) <= s.sh_size; at += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, file.data() + s.sh_offset + at, sizeof sym);
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 || sym.st_name >= strings.sh_size) continue;
        const char* name = file.data() + strings.sh_offset + sym.st_name;
        table.push_back({bias + sym.st_value, sym.st_size, std::string(name, strnlen(name, strings.sh_size - sym.st_name))});
      }
    }
    // The assembly entry points have no size: each runs to the next symbol.
    std::sort(table.begin(), table.end(), [](const Entry& a, const Entry& b) { return a.start < b.start; });
    for (std::size_t i = 0; i + 1 < table.size(); ++i) {
      if (table[i].size == 0) table[i].size = table[i + 1].start - table[i].start;
    }
  });
  return table;
}

std::string Demangle(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status),
                                                  &std::free);
  return status == 0 && out ? std::string(out.get()) : mangled;
}

}  // namespace

std::string KernelFrameName(std::string_view demangled) {
  std::string s(demangled);
  for (std::size_t at; (at = s.find("(anonymous namespace)")) != std::string::npos;) s.replace(at, 21, "anonymous");
  // A lambda is named by the function it is in, also where it is a template's argument (a
  // FunctionRef's thunk that runs it): the qualified name before the parameters it follows (or
  // before the lambda itself, in a C function).
  if (const auto lambda = s.find("::{lambda"); lambda != std::string::npos && lambda > 0) {
    std::size_t open = lambda;
    if (s[lambda - 1] == ')') {
      int depth = 0;
      for (std::size_t i = lambda; i-- > 0;) {
        if (s[i] == ')') ++depth;
        if (s[i] == '(' && --depth == 0) {
          open = i;
          break;
        }
      }
    }
    std::size_t begin = open;
    while (begin > 0 && (std::isalnum(static_cast<unsigned char>(s[begin - 1])) || s[begin - 1] == '_' ||
                         s[begin - 1] == ':' || s[begin - 1] == '~')) {
      --begin;
    }
    s = s.substr(begin, open - begin);
  }
  // Drop parameters and template arguments (at depth 0 of <> and ()).
  std::string flat;
  int angle = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' && angle == 0) break;
    if (c == '<') ++angle;
    else if (c == '>' && angle > 0) --angle;
    else if (angle == 0) flat += c;
  }
  // The return type of a template function comes first: the name is the last word.
  if (const auto space = flat.rfind(' '); space != std::string::npos) flat = flat.substr(space + 1);
  // Namespaces are lower-case (ntbox, nt, ke, io, (anonymous namespace)); classes are not.
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto end = flat.find("::", start);
    parts.push_back(flat.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
  std::size_t first = 0;
  while (first + 1 < parts.size() && !parts[first].empty() &&
         (std::islower(static_cast<unsigned char>(parts[first][0])) || parts[first][0] == '(')) {
    ++first;
  }
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) out += (out.empty() ? "" : "::") + parts[i];
  return out;
}

std::optional<HostSymbol> HostSymbolAt(std::uint64_t address) {
  const auto& table = Table();
  auto it = std::upper_bound(table.begin(), table.end(), address,
                             [](std::uint64_t a, const Entry& e) { return a < e.start; });
  if (it == table.begin()) return std::nullopt;
  --it;
  // A return address may lie just past its function (a call of a [[noreturn]] routine ends it):
  // at another function's first byte, the one that ends there is meant.
  if (it->start == address && it != table.begin() && std::prev(it)->start + std::prev(it)->size == address) --it;
  if (address > it->start + std::max<std::uint64_t>(it->size, 1)) return std::nullopt;
  const std::string demangled = Demangle(it->mangled);
  HostSymbol out{KernelFrameName(demangled), it->start, false};
  const bool lambda = demangled.find("::{lambda") != std::string::npos;
  out.plumbing = demangled.starts_with("std::") || (!lambda && demangled.find("FunctionRef") != std::string::npos) ||
                 it->start == reinterpret_cast<std::uint64_t>(&ntbox_call_driver_return) ||
                 it->mangled == "ntbox_call_driver" || it->mangled == "ntbox_call_driver_return" ||
                 it->mangled == "ntbox_call_service" || out.name == "RaiseBugCheck" || out.name == "Kernel::RunGuarded";
  // The system-call entry is the routine Windows names in a stack that crosses from user mode.
  if (out.name == "ntbox_system_service") out.name = "KiSystemServiceCopyEnd";
  return out;
}

std::pair<std::uint64_t, std::uint64_t> HostImageRange() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&ntbox_call_driver_return), &info) || !info.dli_fname) return {0, 0};
  const auto base = reinterpret_cast<std::uint64_t>(info.dli_fbase);
  std::uint64_t end = base;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::error_code ec;
  const std::string self = std::filesystem::weakly_canonical(info.dli_fname, ec).string();
  while (std::getline(maps, line)) {
    if (line.size() < self.size() || line.compare(line.size() - self.size(), self.size(), self) != 0) continue;
    std::uint64_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && lo >= base) end = std::max(end, hi);
  }
  return {base, end};
}

}  // namespace ntbox::nt
