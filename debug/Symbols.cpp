#include "debug/Symbols.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "cpu/SafeCopy.h"
#include "nt/ExportTable.h"
#include "nt/Kernel.h"
#include "nt/rtl/Exception.h"
#include "nt/support/HostSymbols.h"
#include "nt/support/Symbolize.h"
#include "nt/support/SymbolHelper.h"
#include "support/HostFiles.h"
#include "support/Text.h"
#include "support/UniqueFd.h"

namespace ntbox::debug {
namespace {

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

std::uint64_t Hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

std::string Offset(std::string_view module, std::string_view name, std::uint64_t offset) {
  return nt::SymbolText(module, name, offset);
}

bool SameName(std::string_view a, std::string_view b) { return AsciiLower(std::string(a)) == AsciiLower(std::string(b)); }

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  // Iterative * and ? matching with backtracking to the last star.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

DebugInfo ParseDebugInfo(std::string_view dump, std::uint64_t slide) {
  DebugInfo info;
  std::istringstream in{std::string(dump)};
  std::map<std::uint32_t, std::uint32_t> fileIndex;
  for (std::string line; std::getline(in, line);) {
    const auto f = Fields(line);
    if (f.empty()) continue;
    if (f[0] == "P" && f.size() >= 2) {
      info.pdb = f[1];
    } else if (f[0] == "S" && f.size() >= 3) {
      fileIndex[static_cast<std::uint32_t>(std::stoul(f[1]))] = static_cast<std::uint32_t>(info.files.size());
      info.files.push_back(f[2]);
    } else if (f[0] == "F" && f.size() >= 7) {
      FunctionInfo fn;
      fn.low = Hex(f[1]) + slide;
      fn.high = Hex(f[2]) + slide;
      fn.line = static_cast<std::uint32_t>(std::strtoul(f[3].c_str(), nullptr, 10));
      const auto file = static_cast<std::uint32_t>(std::strtoul(f[4].c_str(), nullptr, 10));
      fn.file = fileIndex.contains(file) ? fileIndex[file] : ~0u;
      fn.name = f[5];
      fn.parameters = f[6];
      if (fn.high > fn.low) info.functions.push_back(std::move(fn));
    } else if (f[0] == "L" && f.size() >= 4) {
      const auto file = static_cast<std::uint32_t>(std::strtoul(f[3].c_str(), nullptr, 10));
      info.lines.push_back({Hex(f[1]) + slide, static_cast<std::uint32_t>(std::strtoul(f[2].c_str(), nullptr, 10)),
                            fileIndex.contains(file) ? fileIndex[file] : 0});
    } else if (f[0] == "V" && f.size() >= 5) {
      info.variables.push_back({Hex(f[1]) + slide, std::strtoull(f[2].c_str(), nullptr, 10), f[3], f[4]});
    } else if (f[0] == "A" && f.size() >= 7) {
      info.locals.push_back({Hex(f[1]) + slide, f[2] == "P", f[3], f[4], std::strtoll(f[5].c_str(), nullptr, 10),
                             std::strtoull(f[6].c_str(), nullptr, 10)});
    } else if (f[0] == "T" && f.size() >= 3) {
      info.types.push_back({f[1], std::strtoull(f[2].c_str(), nullptr, 10), {}});
    } else if (f[0] == "M" && f.size() >= 5 && !info.types.empty()) {
      const std::uint64_t size = std::strtoull(f[4].c_str(), nullptr, 10);
      info.types.back().members.push_back({Hex(f[1]), f[2], WinDbgTypeName(f[3], size), size});
    }
  }
  std::sort(info.functions.begin(), info.functions.end(), [](auto& a, auto& b) { return a.low < b.low; });
  std::stable_sort(info.lines.begin(), info.lines.end(), [](auto& a, auto& b) { return a.address < b.address; });
  return info;
}

std::string ModuleSymbols::state() const {
  if (kernelCode) return "(export symbols)";
  if (user && !hasFile) return loaded ? "(export symbols)" : "(deferred)";
  if (!loaded) return "(deferred)";
  if (!dwarf.empty()) return dwarf.pdb.empty() ? "(dwarf symbols)" : "(private pdb symbols)";
  if (!coff.empty()) return "(coff symbols)";
  return "(no symbols)";
}

void Symbols::Refresh() {
  std::vector<std::unique_ptr<ModuleSymbols>> next;
  if (nt::Kernel* kernel = nt::Kernel::CurrentOrNull()) {
    for (auto& m : kernel->ModuleInfos()) {
      // Keep what was read for a module still there at the same place.
      auto same = std::find_if(modules_.begin(), modules_.end(), [&](const auto& old) {
        return old && !old->user && old->base == m.base && old->path == m.path && old->end == m.end;
      });
      if (same != modules_.end()) {
        next.push_back(std::move(*same));
        continue;
      }
      auto s = std::make_unique<ModuleSymbols>();
      s->name = m.name;
      s->path = m.path;
      s->base = m.base;
      s->end = m.end;
      s->preferredBase = m.preferredBase;
      s->coff = std::move(m.symbols);
      next.push_back(std::move(s));
    }
  }
  AddProcessModules(next);
  const auto [base, end] = nt::HostImageRange();
  if (base) {
    auto nt = std::make_unique<ModuleSymbols>();
    nt->name = "nt";
    nt->path = "ntoskrnl.exe (the ntbox kernel personality)";
    nt->base = base;
    nt->end = end;
    nt->kernelCode = true;
    nt->loaded = true;
    next.push_back(std::move(nt));
  }
  std::sort(next.begin(), next.end(), [](const auto& a, const auto& b) { return a->base < b->base; });
  modules_ = std::move(next);
}

namespace {

template <class T>
bool ReadAt(std::uint64_t address, T& out) {
  return cpu::SafeCopy(&out, reinterpret_cast<const void*>(address), sizeof out);
}

std::string ReadUnicodeString(std::uint64_t at) {
  std::uint16_t length = 0;
  std::uint64_t buffer = 0;
  if (!ReadAt(at, length) || !ReadAt(at + 8, buffer) || length > 1024) return {};
  std::string out;
  for (std::uint16_t i = 0; i < length / 2; ++i) {
    std::uint16_t c = 0;
    if (!ReadAt(buffer + 2u * i, c)) break;
    out += c < 0x80 ? static_cast<char>(c) : '?';
  }
  return out;
}

// The preferred base in an image file's headers (its DWARF's addresses are there).
std::uint64_t FileImageBase(const std::string& path) {
  // Read as this thread may: a confined server reaches the user's files through a client.
  auto opened = OpenHostFile(path);
  if (!opened) return 0;
  const UniqueFd fd(*opened);
  char headers[0x400] = {};
  if (::pread(fd.get(), headers, sizeof headers, 0) <= 0) return 0;
  std::uint32_t peOffset = 0;
  std::memcpy(&peOffset, headers + 0x3C, 4);
  if (peOffset + 24 + 32 > sizeof headers) return 0;
  std::uint64_t base = 0;
  std::memcpy(&base, headers + peOffset + 24 + 24, 8);
  return base;
}

}  // namespace

// A program's images as its ntdll lists them: PEB.Ldr's InLoadOrderModuleList, each entry's
// DllBase, SizeOfImage, FullDllName and BaseDllName (x64 offsets).
void Symbols::AddProcessModules(std::vector<std::unique_ptr<ModuleSymbols>>& next) {
  if (!peb_) return;
  std::uint64_t ldr = 0, head = 0, link = 0;
  if (ReadAt(peb_ + 0x18, ldr) && ldr) {
    head = ldr + 0x10;
    if (!ReadAt(head, link)) link = 0;
  }
  for (int n = 0; link && link != head && n < 512; ++n) {
    std::uint64_t base = 0;
    std::uint32_t size = 0;
    if (!ReadAt(link + 0x30, base) || !ReadAt(link + 0x40, size) || !base || !size) break;
    std::string name = ReadUnicodeString(link + 0x58);
    if (const auto dot = name.rfind('.'); dot != std::string::npos) name.resize(dot);
    AddProgramModule(next, std::move(name), ReadUnicodeString(link + 0x48), base, base + size);
    if (!ReadAt(link, link)) break;
  }
  // Images mapped before the loader listed them.
  for (const auto& image : programImages_) {
    if (image.peb != peb_) continue;
    const bool listed = std::any_of(next.begin(), next.end(), [&](const auto& m) { return m->user && m->base == image.base; });
    if (listed) continue;
    AddProgramModule(next, image.name, image.path, image.base, image.end);
  }
}

void Symbols::AddProgramImage(std::uint64_t peb, const std::string& name, const std::string& ntPath,
                              std::uint64_t base, std::uint64_t end) {
  std::erase_if(programImages_, [&](const ProgramImage& i) { return i.base < end && base < i.end; });
  programImages_.push_back({peb, base, end, name, ntPath});
}

void Symbols::AddProgramModule(std::vector<std::unique_ptr<ModuleSymbols>>& next, std::string name, std::string path,
                               std::uint64_t base, std::uint64_t end) {
  auto same = std::find_if(modules_.begin(), modules_.end(), [&](const auto& old) {
    return old && old->user && old->base == base && old->name == name;
  });
  if (same != modules_.end()) {
    next.push_back(std::move(*same));
    return;
  }
  auto m = std::make_unique<ModuleSymbols>();
  m->name = std::move(name);
  m->base = base;
  m->end = end;
  m->user = true;
  if (path.starts_with("\\??\\")) path.erase(0, 4);
  // Z: is the host's root: the program's own file, whose debug information can be read.
  if (path.size() > 3 && (path[0] == 'Z' || path[0] == 'z') && path[1] == ':' && path[2] == '\\') {
    m->path = path.substr(2);
    std::replace(m->path.begin(), m->path.end(), '\\', '/');
    m->preferredBase = FileImageBase(m->path);
    m->hasFile = m->preferredBase != 0;
  } else {
    m->path = path;
    m->hasFile = false;
  }
  next.push_back(std::move(m));
}

ModuleSymbols* Symbols::ModuleAt(std::uint64_t address) {
  for (auto& m : modules_) {
    if (m->contains(address)) return m.get();
  }
  return nullptr;
}

ModuleSymbols* Symbols::ModuleNamed(std::string_view name) {
  std::string wanted = AsciiLower(std::string(name));
  for (const char* ext : {".sys", ".exe", ".dll"}) {
    if (wanted.ends_with(ext)) wanted.resize(wanted.size() - 4);
  }
  if (wanted == "ntoskrnl" || wanted == "ntkrnlmp") wanted = "nt";
  for (auto& m : modules_) {
    if (AsciiLower(m->name) == wanted) return m.get();
  }
  return nullptr;
}

namespace {

// Sections and imported names from the image as it is mapped (its headers and import table).
void ReadImageTables(ModuleSymbols& m) {
  std::uint32_t peOffset = 0;
  if (!ReadAt(m.base + 0x3C, peOffset) || peOffset > 0x1000) return;
  const std::uint64_t nt = m.base + peOffset;
  std::uint16_t sectionCount = 0, optionalSize = 0;
  if (!ReadAt(nt + 6, sectionCount) || !ReadAt(nt + 20, optionalSize)) return;
  const std::uint64_t table = nt + 24 + optionalSize;
  for (std::uint16_t i = 0; i < std::min<std::uint16_t>(sectionCount, 96); ++i) {
    std::uint32_t size = 0, rva = 0, characteristics = 0;
    if (!ReadAt(table + 40u * i + 8, size) || !ReadAt(table + 40u * i + 12, rva) ||
        !ReadAt(table + 40u * i + 36, characteristics)) {
      break;
    }
    m.sections.push_back({m.base + rva, m.base + rva + size, (characteristics & 0x20000000) != 0});
  }
  // The import directory (data directory 1): names from the lookup table, slots in the IAT.
  std::uint32_t importRva = 0;
  if (!ReadAt(nt + 24 + 112 + 8, importRva) || !importRva) return;
  for (int d = 0; d < 256; ++d) {
    std::uint32_t descriptor[5] = {};
    if (!ReadAt(m.base + importRva + 20u * d, descriptor) || descriptor[3] == 0) break;
    const std::uint32_t lookup = descriptor[0] ? descriptor[0] : descriptor[4];
    for (int k = 0; k < 4096; ++k) {
      std::uint64_t entry = 0;
      if (!ReadAt(m.base + lookup + 8u * k, entry) || entry == 0) break;
      if (entry >> 63) continue;  // by ordinal
      char name[128] = {};
      if (!cpu::SafeCopy(name, reinterpret_cast<const void*>(m.base + (entry & 0x7FFFFFFF) + 2), sizeof name - 1)) {
        // The name may end near the end of the mapping: read it byte by byte.
        for (std::size_t c = 0; c + 1 < sizeof name; ++c) {
          if (!ReadAt(m.base + (entry & 0x7FFFFFFF) + 2 + c, name[c]) || !name[c]) break;
        }
      }
      m.imports[m.base + descriptor[4] + 8u * k] = std::string("_imp_") + name;
    }
  }
}

// A DLL's exported functions as its symbols (Wine's DLLs carry no others).
void ReadExports(ModuleSymbols& m) {
  std::uint32_t peOffset = 0, exportRva = 0;
  if (!ReadAt(m.base + 0x3C, peOffset) || peOffset > 0x1000) return;
  if (!ReadAt(m.base + peOffset + 24 + 112, exportRva) || !exportRva) return;
  std::uint32_t directory[10] = {};
  if (!ReadAt(m.base + exportRva, directory)) return;
  const std::uint32_t names = std::min<std::uint32_t>(directory[6], 65536);
  const std::uint64_t functions = m.base + directory[7], nameTable = m.base + directory[8],
                      ordinals = m.base + directory[9];
  for (std::uint32_t i = 0; i < names; ++i) {
    std::uint32_t nameRva = 0, rva = 0;
    std::uint16_t ordinal = 0;
    if (!ReadAt(nameTable + 4u * i, nameRva) || !ReadAt(ordinals + 2u * i, ordinal) ||
        !ReadAt(functions + 4u * ordinal, rva)) {
      break;
    }
    std::string name;
    for (std::size_t c = 0; c < 256; ++c) {
      char ch = 0;
      if (!ReadAt(m.base + nameRva + c, ch) || !ch) break;
      name += ch;
    }
    m.coff.push_back({rva, name});
  }
  std::sort(m.coff.begin(), m.coff.end(), [](const auto& a, const auto& b) { return a.rva < b.rva; });
}

}  // namespace

ModuleSymbols& Symbols::Load(ModuleSymbols& module) {
  if (module.loaded) return module;
  module.loaded = true;
  ReadImageTables(module);
  if (module.user) ReadExports(module);
  if (module.hasFile) {
    module.dwarf = ParseDebugInfo(nt::DumpDebugInfo(module.path, searchPath_), module.base - module.preferredBase);
    module.symbolFile = module.dwarf.pdb;
  }
  // None in the image itself: the same file name in the symbol search path, at that file's base.
  if (module.dwarf.empty() && !module.kernelCode) {
    const std::string fileName = std::filesystem::path(module.hasFile ? module.path : std::string()).filename().string();
    for (const auto& folder : searchPath_) {
      const std::filesystem::path candidate = std::filesystem::path(folder) / fileName;
      std::error_code ec;
      if (fileName.empty() || !std::filesystem::is_regular_file(candidate, ec)) continue;
      const std::uint64_t base = FileImageBase(candidate.string());
      if (!base) continue;
      module.dwarf = ParseDebugInfo(nt::DumpDebugInfo(candidate.string(), {}), module.base - base);
      if (!module.dwarf.empty()) {
        module.symbolFile = candidate.string();
        break;
      }
    }
  }
  return module;
}

void Symbols::Unload() {
  for (auto& m : modules_) {
    if (m->kernelCode) continue;
    m->loaded = false;
    m->dwarf = {};
    m->sections.clear();
    m->imports.clear();
    m->symbolFile.clear();
  }
}

const FunctionInfo* Symbols::DwarfFunctionAt(std::uint64_t address) {
  ModuleSymbols* m = ModuleAt(address);
  if (!m || m->kernelCode) return nullptr;
  const auto& fns = Load(*m).dwarf.functions;
  auto it = std::upper_bound(fns.begin(), fns.end(), address, [](std::uint64_t a, const FunctionInfo& f) { return a < f.low; });
  if (it == fns.begin()) return nullptr;
  --it;
  return address < it->high ? &*it : nullptr;
}

std::string Symbols::NameOf(std::uint64_t address) {
  ModuleSymbols* m = ModuleAt(address);
  if (!m) return {};
  if (m->kernelCode) {
    const std::string name = nt::Symbolize(address);
    return name.find('!') == std::string::npos ? std::string() : name;
  }
  if (const FunctionInfo* f = DwarfFunctionAt(address)) return Offset(m->name, f->name, address - f->low);
  if (auto it = m->imports.find(address & ~7ull); it != m->imports.end()) {
    return Offset(m->name, it->second, address - it->first);
  }
  // COFF names functions: only code is named after the function before it.
  const auto section = std::find_if(m->sections.begin(), m->sections.end(),
                                    [&](const auto& s) { return address >= s.start && address < s.end; });
  const auto rva = static_cast<std::uint32_t>(address - m->base);
  const pe::FunctionSymbol* f = pe::FunctionAt(m->coff, rva);
  if (f && section != m->sections.end() && section->code && m->base + f->rva >= section->start) {
    return Offset(m->name, f->name, rva - f->rva);
  }
  for (const auto& v : m->dwarf.variables) {
    if (address >= v.address && address < v.address + std::max<std::uint64_t>(v.size, 1)) {
      return Offset(m->name, v.name, address - v.address);
    }
  }
  return fmt::format("{}+{:#x}", m->name, address - m->base);
}

std::optional<std::uint64_t> Symbols::Resolve(std::string_view text) {
  std::string module, symbol(text);
  // A module's name alone is its base address.
  if (text.find('!') == std::string_view::npos) {
    if (ModuleSymbols* m = ModuleNamed(text)) return m->base;
  }
  if (const auto bang = text.find('!'); bang != std::string_view::npos) {
    module = std::string(text.substr(0, bang));
    symbol = std::string(text.substr(bang + 1));
  }
  for (auto& mp : modules_) {
    ModuleSymbols& m = *mp;
    if (!module.empty() && !SameName(m.name, module) && ModuleNamed(module) != &m) continue;
    if (symbol.empty()) return m.base;
    if (m.kernelCode) {
      if (const nt::Export* e = nt::FindSystemRoutine(symbol)) return reinterpret_cast<std::uint64_t>(e->address);
      continue;
    }
    for (const auto& f : Load(m).dwarf.functions) {
      if (f.name == symbol) return f.low;
    }
    for (const auto& f : m.coff) {
      if (f.name == symbol) return m.base + f.rva;
    }
    for (const auto& v : m.dwarf.variables) {
      if (v.name == symbol) return v.address;
    }
    // WinDbg matches case-insensitively when nothing matches exactly.
    for (const auto& f : m.dwarf.functions) {
      if (SameName(f.name, symbol)) return f.low;
    }
    for (const auto& f : m.coff) {
      if (SameName(f.name, symbol)) return m.base + f.rva;
    }
  }
  return std::nullopt;
}

std::optional<Symbols::Function> Symbols::FunctionAt(std::uint64_t address) {
  ModuleSymbols* m = ModuleAt(address);
  if (!m || m->kernelCode) return std::nullopt;
  Function out;
  nt::ULONG64 imageBase = 0;
  if (const nt::RUNTIME_FUNCTION* rf = nt::RtlLookupFunctionEntry(address, &imageBase, nullptr)) {
    out.start = imageBase + rf->BeginAddress;
    out.end = imageBase + rf->EndAddress;
  }
  if (const FunctionInfo* f = DwarfFunctionAt(address)) {
    if (!out.start || f->low <= out.start) {
      out.start = f->low;
      out.end = std::max(out.end, f->high);
    }
  }
  if (!out.start) {
    const auto rva = static_cast<std::uint32_t>(address - m->base);
    const pe::FunctionSymbol* f = pe::FunctionAt(m->coff, rva);
    if (!f) return std::nullopt;
    out.start = m->base + f->rva;
    const auto next = std::upper_bound(m->coff.begin(), m->coff.end(), f->rva,
                                       [](std::uint32_t r, const pe::FunctionSymbol& s) { return r < s.rva; });
    out.end = next == m->coff.end() ? std::min(out.start + 0x1000, m->end) : m->base + next->rva;
  }
  out.name = NameOf(out.start);
  return out;
}

std::optional<SourcePosition> Symbols::LineAt(std::uint64_t address) {
  ModuleSymbols* m = ModuleAt(address);
  if (!m || m->kernelCode) return std::nullopt;
  const auto& info = Load(*m).dwarf;
  const auto& rows = info.lines;
  auto it = std::upper_bound(rows.begin(), rows.end(), address, [](std::uint64_t a, const LineRow& r) { return a < r.address; });
  if (it == rows.begin()) return std::nullopt;
  --it;
  // A row belongs to the function the address is in; past its end (padding, another function
  // without lines) there is no line.
  if (const FunctionInfo* f = DwarfFunctionAt(address); !f || it->address < f->low) return std::nullopt;
  // The first row of a run of rows at one address names the line.
  while (it != rows.begin() && std::prev(it)->address == it->address) --it;
  return SourcePosition{it->file < info.files.size() ? info.files[it->file] : "?", it->line, it->address};
}

std::vector<Symbols::Match> Symbols::Find(std::string_view pattern) {
  std::string modulePattern = "*", symbolPattern(pattern);
  if (const auto bang = pattern.find('!'); bang != std::string_view::npos) {
    modulePattern = std::string(pattern.substr(0, bang));
    symbolPattern = std::string(pattern.substr(bang + 1));
  }
  // A single leading underscore stands for any number of them.
  auto matches = [&](std::string_view name) {
    if (WildcardMatch(symbolPattern, name)) return true;
    if (symbolPattern.starts_with('_')) {
      std::string_view n = name;
      while (n.starts_with('_')) {
        n.remove_prefix(1);
        if (WildcardMatch(std::string_view(symbolPattern).substr(1), n)) return true;
      }
    }
    return false;
  };
  std::vector<Match> out;
  for (auto& mp : modules_) {
    ModuleSymbols& m = *mp;
    if (!WildcardMatch(modulePattern, m.name)) continue;
    if (m.kernelCode) {
      for (const nt::Export& e : nt::Exports()) {
        if (matches(e.name)) {
          out.push_back({reinterpret_cast<std::uint64_t>(e.address), m.name, std::string(e.name), !e.data, std::nullopt,
                         std::nullopt});
        }
      }
      continue;
    }
    Load(m);
    std::map<std::uint64_t, Match> found;
    for (const auto& f : m.coff) {
      if (matches(f.name)) found[m.base + f.rva] = {m.base + f.rva, m.name, f.name, true, std::nullopt, std::nullopt};
    }
    for (const auto& f : m.dwarf.functions) {
      if (matches(f.name)) found[f.low] = {f.low, m.name, f.name, true, f.parameters, std::nullopt};
    }
    for (const auto& v : m.dwarf.variables) {
      if (matches(v.name)) found[v.address] = {v.address, m.name, v.name, false, std::nullopt, v};
    }
    for (auto& [address, match] : found) out.push_back(std::move(match));
  }
  return out;
}

}  // namespace ntbox::debug
