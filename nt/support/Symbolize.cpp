#include "nt/support/Symbolize.h"

#include <cxxabi.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/support/HostSymbols.h"

namespace ntbox::nt {

std::string WinDbgAddress(std::uint64_t address) {
  return fmt::format("{:08x}`{:08x}", address >> 32, address & 0xFFFFFFFF);
}

std::string SymbolText(std::string_view module, std::string_view function, std::uint64_t offset) {
  return offset ? fmt::format("{}!{}+{:#x}", module, function, offset) : fmt::format("{}!{}", module, function);
}

namespace {
std::atomic<ProgramFrameNamer> g_programFrameNamer{nullptr};
}  // namespace

void SetProgramFrameNamer(ProgramFrameNamer namer) { g_programFrameNamer = namer; }

std::optional<ProgramSymbol> NameProgramFrame(std::uint64_t address, std::uint64_t peb) {
  const ProgramFrameNamer namer = g_programFrameNamer.load();
  if (!namer || !peb) return std::nullopt;
  return namer(address, peb);
}

std::string Symbolize(std::uint64_t address) {
  if (Kernel* k = Kernel::CurrentOrNull()) {
    if (const Module* m = k->ModuleAt(address)) {
      const auto rva = static_cast<std::uint32_t>(address - m->image->base());
      if (const pe::FunctionSymbol* f = pe::FunctionAt(m->symbols, rva)) {
        return SymbolText(m->name, f->name, rva - f->rva);
      }
      return fmt::format("{}+{:#x}", m->name, rva);
    }
  }
  // The kernel's own code (ntbox's functions, static ones too), named as the routine it is.
  if (const auto host = HostSymbolAt(address)) return SymbolText("nt", host->name, address - host->start);
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(address), &info) && info.dli_sname) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> demangled(
        abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status), &std::free);
    std::string name = status == 0 && demangled ? demangled.get() : info.dli_sname;
    // Kernel exports are C++ functions named as Windows names them; show them as nt!Name.
    if (auto paren = name.find('('); paren != std::string::npos) name.resize(paren);
    if (auto ns = name.rfind("::"); ns != std::string::npos) name = name.substr(ns + 2);
    return fmt::format("nt!{}+{:#x}", name, address - reinterpret_cast<std::uint64_t>(info.dli_saddr));
  }
  return WinDbgAddress(address);
}

}  // namespace ntbox::nt
