// The debugger's symbols: the machine's modules (drivers, and ntbox's own code as nt), each
// driver's COFF symbol table and DWARF (functions with their parameter types, the line table,
// globals, locals), read on first use by the ntbox-lines helper (a process of its own: debug
// information is driver input). What WinDbg's symbol engine answers: names for addresses,
// addresses for names, source lines, wildcard searches.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "debug/Types.h"
#include "pe/CoffSymbols.h"

namespace ntbox::debug {

struct FunctionInfo {
  std::uint64_t low = 0, high = 0;  // [low, high)
  std::string name;
  std::uint32_t file = ~0u;  // index into DebugInfo::files
  std::uint32_t line = 0;
  std::string parameters;  // "struct _DRIVER_OBJECT *, struct _UNICODE_STRING *"
};
struct LineRow {
  std::uint64_t address = 0;
  std::uint32_t line = 0;
  std::uint32_t file = 0;
};
struct VariableInfo {
  std::uint64_t address = 0, size = 0;
  std::string name, type;
};
struct LocalInfo {
  std::uint64_t function = 0;  // the function's low address
  bool parameter = false;
  std::string name, type;
  std::int64_t frameOffset = 0;  // from the frame base (the canonical frame address)
  std::uint64_t size = 0;
};

// An image's DWARF, at its loaded addresses.
struct DebugInfo {
  std::string pdb;  // the PDB it was read from (a clang -gcodeview image); empty: DWARF
  std::vector<std::string> files;
  std::vector<FunctionInfo> functions;  // by low
  std::vector<LineRow> lines;           // by address
  std::vector<VariableInfo> variables;
  std::vector<LocalInfo> locals;
  std::vector<TypeLayout> types;  // its structures (dt), members' types in WinDbg's notation
  bool empty() const { return functions.empty() && lines.empty(); }
};
// Parses ntbox-lines --dump output; slide: loaded base - preferred base.
DebugInfo ParseDebugInfo(std::string_view dump, std::uint64_t slide);

struct SourcePosition {
  std::string file;
  std::uint32_t line = 0;
  std::uint64_t address = 0;  // where the line's code begins
};

struct ModuleSymbols {
  std::string name;  // "FirstDriverSample", "nt"
  std::string path;
  std::uint64_t base = 0, end = 0, preferredBase = 0;
  bool kernelCode = false;  // nt: ntbox's own code
  bool user = false;        // a program's image or DLL (from its process's loader list)
  bool hasFile = true;      // path is a host file its DWARF can be read from
  std::string symbolFile;   // where its debug information came from, when not path (.sympath, a PDB)
  bool loaded = false;      // symbols read (lm: "(deferred)" until then)
  std::vector<pe::FunctionSymbol> coff;
  DebugInfo dwarf;
  struct Section {
    std::uint64_t start = 0, end = 0;
    bool code = false;
  };
  std::vector<Section> sections;  // from the mapped headers
  std::map<std::uint64_t, std::string> imports;  // IAT slot → "_imp_RtlGetVersion"
  bool contains(std::uint64_t a) const { return a >= base && a < end; }
  // WinDbg's lm column: "(deferred)", "(dwarf symbols)", "(coff symbols)", "(export symbols)"
  std::string state() const;
};

class Symbols {
 public:
  // Takes the machine's module list again (after a load or unload), and the modules of the process
  // set with SetProcess.
  void Refresh();
  // .sympath: folders searched for an image with debug information when the loaded one has none
  // (a stripped driver; its unstripped build beside its sources), by the image's file name, and
  // for the PDB a clang -gcodeview image names.
  const std::vector<std::string>& searchPath() const { return searchPath_; }
  void SetSearchPath(std::vector<std::string> path) { searchPath_ = std::move(path); }
  // .reload: every module's symbols read again on next use.
  void Unload();
  // The process whose modules are listed too (its PEB's loader list), as WinDbg's process context;
  // 0: none.
  void SetProcess(std::uint64_t peb) { peb_ = peb; }
  // An image mapped into the process whose PEB is peb (ntPath: its NT name), listed with that
  // process's modules until its loader lists it itself (a module-load stop comes before that).
  void AddProgramImage(std::uint64_t peb, const std::string& name, const std::string& ntPath, std::uint64_t base,
                       std::uint64_t end);
  const std::vector<std::unique_ptr<ModuleSymbols>>& modules() const { return modules_; }
  ModuleSymbols* ModuleAt(std::uint64_t address);
  ModuleSymbols* ModuleNamed(std::string_view name);  // case-insensitive, ".sys" optional
  // Reads the module's symbols once.
  ModuleSymbols& Load(ModuleSymbols& module);

  // "FirstDriverSample!DriverEntry+0x1c", "nt!IofCallDriver+0x59"; empty when nothing names it.
  std::string NameOf(std::uint64_t address);
  // "mod!sym", "sym" (every module); nullopt when nothing matches.
  std::optional<std::uint64_t> Resolve(std::string_view name);
  // The function around address: [start, end) and its name; from .pdata, DWARF or COFF.
  struct Function {
    std::uint64_t start = 0, end = 0;
    std::string name;  // "FirstDriverSample!DriverEntry"
  };
  std::optional<Function> FunctionAt(std::uint64_t address);
  const FunctionInfo* DwarfFunctionAt(std::uint64_t address);
  std::optional<SourcePosition> LineAt(std::uint64_t address);

  struct Match {
    std::uint64_t address = 0;
    std::string module, name;
    bool function = true;
    std::optional<std::string> parameters;  // from DWARF; nullopt: none known
    std::optional<VariableInfo> variable;
  };
  // x's search: "mod!pat" with * and ? (case-insensitive; a leading _ matches any number of them).
  std::vector<Match> Find(std::string_view pattern);

 private:
  void AddProcessModules(std::vector<std::unique_ptr<ModuleSymbols>>& next);
  // A program's module (path: its Windows or NT path), kept from the last list when it is there.
  void AddProgramModule(std::vector<std::unique_ptr<ModuleSymbols>>& next, std::string name, std::string path,
                        std::uint64_t base, std::uint64_t end);
  std::vector<std::unique_ptr<ModuleSymbols>> modules_;
  std::uint64_t peb_ = 0;
  struct ProgramImage {
    std::uint64_t peb = 0, base = 0, end = 0;
    std::string name, path;
  };
  std::vector<ProgramImage> programImages_;
  std::vector<std::string> searchPath_;
};

// WinDbg's wildcard match: * and ?, case-insensitive.
bool WildcardMatch(std::string_view pattern, std::string_view text);

}  // namespace ntbox::debug
