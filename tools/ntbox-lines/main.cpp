// ntbox-lines IMAGE ADDRESS...: the function and source line of each address (hex, a virtual
// address at the image's preferred base) from the PE image's DWARF, one line per address:
//   ADDRESS <TAB> LINE <TAB> FUNCTION-START <TAB> FUNCTION <TAB> FILE     (LINE 0: not covered)
// ntbox-lines --dump IMAGE: what the debugger needs of the image's DWARF, or of the PDB a clang
// -gcodeview image names (the one --pdb names, or found where it says, beside the image, or in
// --search FOLDERs; an IMAGE or PDB named /proc/self/fd/N is read through descriptor N), one
// record a line (addresses at the preferred base, hex; fields split by tabs):
//   P  PATH                                  the PDB read (first; none for DWARF)
//   S  INDEX  PATH                                  a source file
//   F  LOW  HIGH  LINE  FILE-INDEX  NAME  PARAMETERS a function and its parameter types
//   L  ADDRESS  LINE  FILE-INDEX                    a row of the line table (statements only)
//   V  ADDRESS  SIZE  NAME  TYPE                    a global or static variable
//   A  FUNCTION-LOW  KIND  NAME  TYPE  FRAME-OFFSET  SIZE  a parameter (P) or local (L) at the frame base
//   T  NAME  SIZE                                   a structure type (as WinDbg names it: _DRIVER_OBJECT)
//   M  OFFSET  NAME  TYPE  SIZE                     one of its members (follows its T)
// The only part of ntbox linked with LLVM, and a process of its own: debug information is driver
// input, and a parser that crashes or hangs on damaged DWARF must not take a report or a debugger
// with it. No command pays LLVM's load time either; only reports and the debugger run it.
#include <llvm/BinaryFormat/Dwarf.h>
#include <llvm/DebugInfo/DWARF/DWARFContext.h>
#include <llvm/DebugInfo/DWARF/DWARFDebugLine.h>
#include <llvm/DebugInfo/DWARF/DWARFDie.h>
#include <llvm/DebugInfo/DWARF/DWARFExpression.h>
#include <llvm/Object/COFF.h>
#include <llvm/Object/ObjectFile.h>

#include "Pdb.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

std::unique_ptr<llvm::DWARFContext> OpenDwarf(llvm::object::OwningBinary<llvm::object::ObjectFile>& binary) {
  // Damaged debug information is skipped quietly: a report must not fill with parser noise.
  auto quiet = [](llvm::Error e) { llvm::consumeError(std::move(e)); };
  return llvm::DWARFContext::create(*binary.getBinary(), llvm::DWARFContext::ProcessDebugRelocations::Process,
                                    nullptr, "", quiet, quiet);
}

int Lines(llvm::DWARFContext* context, const std::vector<std::uint64_t>& addresses) {
  const llvm::DILineInfoSpecifier spec(llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath,
                                       llvm::DILineInfoSpecifier::FunctionNameKind::ShortName);
  for (const std::uint64_t address : addresses) {
    if (context) {
      // The outermost frame: the function the address is in and its line there, not a header's
      // inline routine (KeLowerIrql, __writecr8) the compiler expanded into it.
      const llvm::DIInliningInfo frames =
          context->getInliningInfoForAddress({address, llvm::object::SectionedAddress::UndefSection}, spec);
      if (frames.getNumberOfFrames() > 0) {
        const llvm::DILineInfo& info = frames.getFrame(frames.getNumberOfFrames() - 1);
        if (info.Line != 0 && info.FileName != llvm::DILineInfo::BadString) {
          const std::string function = info.FunctionName == llvm::DILineInfo::BadString ? "" : info.FunctionName;
          std::printf("%llx\t%u\t%llx\t%s\t%s\n", static_cast<unsigned long long>(address), info.Line,
                      static_cast<unsigned long long>(info.StartAddress ? *info.StartAddress : 0), function.c_str(),
                      info.FileName.c_str());
          continue;
        }
      }
    }
    std::printf("%llx\t0\n", static_cast<unsigned long long>(address));
  }
  return 0;
}

// A C type as WinDbg names it from a PDB, which keeps no typedefs: "struct _DRIVER_OBJECT *".
std::string TypeName(llvm::DWARFDie type, int depth = 0) {
  if (!type || depth > 16) return "void";
  const char* name = type.getShortName();
  const std::string own = name ? name : "";
  switch (type.getTag()) {
    case llvm::dwarf::DW_TAG_typedef:
    case llvm::dwarf::DW_TAG_volatile_type:
    case llvm::dwarf::DW_TAG_restrict_type:
    case llvm::dwarf::DW_TAG_atomic_type:
      return TypeName(type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type), depth + 1);
    case llvm::dwarf::DW_TAG_const_type:
      return TypeName(type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type), depth + 1);
    case llvm::dwarf::DW_TAG_pointer_type:
      return TypeName(type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type), depth + 1) + " *";
    case llvm::dwarf::DW_TAG_reference_type:
      return TypeName(type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type), depth + 1) + " &";
    case llvm::dwarf::DW_TAG_structure_type: return "struct " + (own.empty() ? "<unnamed-tag>" : own);
    case llvm::dwarf::DW_TAG_class_type: return "class " + (own.empty() ? "<unnamed-tag>" : own);
    case llvm::dwarf::DW_TAG_union_type: return "union " + (own.empty() ? "<unnamed-tag>" : own);
    case llvm::dwarf::DW_TAG_enumeration_type: return "enum " + (own.empty() ? "<unnamed-tag>" : own);
    case llvm::dwarf::DW_TAG_subroutine_type: return "<function>";
    case llvm::dwarf::DW_TAG_array_type:
      return TypeName(type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type), depth + 1) + " []";
    case llvm::dwarf::DW_TAG_base_type: {
      // GCC's spellings as Microsoft's compiler spells them.
      static const std::map<std::string, std::string> kMsvc{
          {"long int", "long"},
          {"long unsigned int", "unsigned long"},
          {"short int", "short"},
          {"short unsigned int", "unsigned short"},
          {"long long int", "int64"},
          {"long long unsigned int", "unsigned int64"},
          {"char", "char"},
          {"unsigned char", "unsigned char"},
          {"signed char", "char"},
          {"_Bool", "bool"},
      };
      const auto it = kMsvc.find(own);
      return it == kMsvc.end() ? own : it->second;
    }
    default: return own.empty() ? "void" : own;
  }
}

// Bytes of a type, 0 when unknown.
std::uint64_t TypeSize(llvm::DWARFDie type, int depth = 0) {
  while (type && depth++ < 16) {
    if (auto size = llvm::dwarf::toUnsigned(type.find(llvm::dwarf::DW_AT_byte_size))) return *size;
    if (type.getTag() == llvm::dwarf::DW_TAG_pointer_type) return 8;
    type = type.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type);
  }
  return 0;
}

// DW_OP_fbreg N: the offset from the frame base; nullopt for any other location.
std::optional<std::int64_t> FrameOffset(llvm::DWARFDie die) {
  const auto location = die.find(llvm::dwarf::DW_AT_location);
  if (!location) return std::nullopt;
  const auto block = location->getAsBlock();
  if (!block || block->empty() || (*block)[0] != llvm::dwarf::DW_OP_fbreg) return std::nullopt;
  // SLEB128 after the opcode.
  std::int64_t value = 0;
  unsigned shift = 0;
  std::size_t i = 1;
  std::uint8_t byte = 0;
  do {
    if (i >= block->size()) return std::nullopt;
    byte = (*block)[i++];
    value |= static_cast<std::int64_t>(byte & 0x7F) << shift;
    shift += 7;
  } while ((byte & 0x80) && shift < 64);
  if (shift < 64 && (byte & 0x40)) value |= -(std::int64_t{1} << shift);
  return value;
}

// DW_OP_addr A: a static address; nullopt for any other location.
std::optional<std::uint64_t> StaticAddress(llvm::DWARFDie die) {
  const auto location = die.find(llvm::dwarf::DW_AT_location);
  if (!location) return std::nullopt;
  const auto block = location->getAsBlock();
  if (!block || block->size() != 9 || (*block)[0] != llvm::dwarf::DW_OP_addr) return std::nullopt;
  std::uint64_t address = 0;
  std::memcpy(&address, block->data() + 1, 8);
  return address;
}

void DumpVariables(llvm::DWARFDie scope, std::uint64_t functionLow, int depth) {
  if (depth > 8) return;
  for (const llvm::DWARFDie child : scope.children()) {
    const auto tag = child.getTag();
    if (tag == llvm::dwarf::DW_TAG_lexical_block) {
      DumpVariables(child, functionLow, depth + 1);
      continue;
    }
    if (tag != llvm::dwarf::DW_TAG_formal_parameter && tag != llvm::dwarf::DW_TAG_variable) continue;
    const char* name = child.getShortName();
    const auto offset = FrameOffset(child);
    if (!name || !offset) continue;
    const auto type = child.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type);
    std::printf("A\t%llx\t%c\t%s\t%s\t%lld\t%llu\n", static_cast<unsigned long long>(functionLow),
                tag == llvm::dwarf::DW_TAG_formal_parameter ? 'P' : 'L', name, TypeName(type).c_str(),
                static_cast<long long>(*offset), static_cast<unsigned long long>(TypeSize(type)));
  }
}

int Dump(llvm::DWARFContext& context) {
  std::set<std::string> types;
  std::map<std::string, unsigned> files;
  auto fileIndex = [&](const std::string& path) {
    const auto [it, added] = files.emplace(path, static_cast<unsigned>(files.size()));
    if (added) std::printf("S\t%u\t%s\n", it->second, path.c_str());
    return it->second;
  };
  for (const auto& unit : context.compile_units()) {
    const llvm::DWARFDie cu = unit->getUnitDIE(false);
    const auto* table = context.getLineTableForUnit(unit.get());
    std::map<std::uint64_t, unsigned> unitFiles;  // the table's file index → ours
    auto fileOf = [&](std::uint64_t index) -> unsigned {
      if (auto it = unitFiles.find(index); it != unitFiles.end()) return it->second;
      std::string path;
      if (!table || !table->getFileNameByIndex(index, unit->getCompilationDir(),
                                               llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath, path)) {
        path = "?";
      }
      return unitFiles[index] = fileIndex(path);
    };
    if (table) {
      for (const auto& row : table->Rows) {
        if (row.EndSequence || !row.IsStmt || row.Line == 0) continue;
        std::printf("L\t%llx\t%u\t%u\n", static_cast<unsigned long long>(row.Address.Address), row.Line,
                    fileOf(row.File));
      }
    }
    for (const auto& entry : unit->dies()) {
      const llvm::DWARFDie die(unit.get(), &entry);
      if (die.getTag() == llvm::dwarf::DW_TAG_subprogram) {
        std::uint64_t low = 0, high = 0, section = 0;
        if (!die.getLowAndHighPC(low, high, section)) continue;
        const char* name = die.getName(llvm::DINameKind::ShortName);
        if (!name) continue;
        std::string parameters;
        for (const llvm::DWARFDie child : die.children()) {
          if (child.getTag() != llvm::dwarf::DW_TAG_formal_parameter) continue;
          if (!parameters.empty()) parameters += ", ";
          parameters += TypeName(child.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type));
        }
        const std::string file = die.getDeclFile(llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath);
        std::printf("F\t%llx\t%llx\t%llu\t%u\t%s\t%s\n", static_cast<unsigned long long>(low),
                    static_cast<unsigned long long>(high), static_cast<unsigned long long>(die.getDeclLine()),
                    file.empty() ? ~0u : fileIndex(file), name, parameters.c_str());
        DumpVariables(die, low, 0);
      } else if ((die.getTag() == llvm::dwarf::DW_TAG_structure_type || die.getTag() == llvm::dwarf::DW_TAG_union_type) &&
                 die.getShortName() && !die.find(llvm::dwarf::DW_AT_declaration)) {
        // Each named structure once (every unit that includes a header describes it again).
        const std::string name = die.getShortName();
        if (!types.insert(name).second) continue;
        std::printf("T\t%s\t%llu\n", name.c_str(), static_cast<unsigned long long>(TypeSize(die)));
        for (const llvm::DWARFDie member : die.children()) {
          if (member.getTag() != llvm::dwarf::DW_TAG_member) continue;
          const char* memberName = member.getShortName();
          const auto offset = llvm::dwarf::toUnsigned(member.find(llvm::dwarf::DW_AT_data_member_location));
          const auto type = member.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type);
          std::printf("M\t%llx\t%s\t%s\t%llu\n", static_cast<unsigned long long>(offset ? *offset : 0),
                      memberName ? memberName : "__unnamed", TypeName(type).c_str(),
                      static_cast<unsigned long long>(TypeSize(type)));
        }
      } else if (die.getTag() == llvm::dwarf::DW_TAG_variable && die.getParent() == cu) {
        const char* name = die.getShortName();
        const auto address = StaticAddress(die);
        if (!name || !address) continue;
        const auto type = die.getAttributeValueAsReferencedDie(llvm::dwarf::DW_AT_type);
        std::printf("V\t%llx\t%llu\t%s\t%s\n", static_cast<unsigned long long>(*address),
                    static_cast<unsigned long long>(TypeSize(type)), name, TypeName(type).c_str());
      }
    }
  }
  return 0;
}

// The PDB records, as Dump prints DWARF's.
int DumpPdb(const ntbox::lines::PdbInfo& pdb) {
  std::printf("P\t%s\n", pdb.path.c_str());
  for (std::size_t i = 0; i < pdb.files.size(); ++i) std::printf("S\t%zu\t%s\n", i, pdb.files[i].c_str());
  for (const auto& row : pdb.rows) {
    std::printf("L\t%llx\t%u\t%u\n", static_cast<unsigned long long>(row.address), row.line, row.file);
  }
  for (const auto& f : pdb.functions) {
    std::printf("F\t%llx\t%llx\t%u\t%u\t%s\t%s\n", static_cast<unsigned long long>(f.low),
                static_cast<unsigned long long>(f.high), f.line, f.file, f.name.c_str(), f.parameters.c_str());
  }
  for (const auto& v : pdb.variables) {
    std::printf("A\t%llx\t%c\t%s\t%s\t%lld\t%llu\n", static_cast<unsigned long long>(v.functionLow), v.kind,
                v.name.c_str(), v.type.c_str(), static_cast<long long>(v.frameOffset),
                static_cast<unsigned long long>(v.size));
  }
  for (const auto& g : pdb.globals) {
    std::printf("V\t%llx\t%llu\t%s\t%s\n", static_cast<unsigned long long>(g.address),
                static_cast<unsigned long long>(g.size), g.name.c_str(), g.type.c_str());
  }
  for (const auto& t : pdb.types) {
    std::printf("T\t%s\t%llu\n", t.name.c_str(), static_cast<unsigned long long>(t.size));
    for (const auto& m : t.members) {
      std::printf("M\t%llx\t%s\t%s\t%llu\n", static_cast<unsigned long long>(m.offset), m.name.c_str(),
                  m.type.c_str(), static_cast<unsigned long long>(m.size));
    }
  }
  return 0;
}

// Lines' output from a PDB: the function an address is in and the last line row at or before it.
int LinesPdb(const ntbox::lines::PdbInfo& pdb, const std::vector<std::uint64_t>& addresses) {
  for (const std::uint64_t address : addresses) {
    const auto function = std::find_if(pdb.functions.begin(), pdb.functions.end(),
                                       [&](const auto& f) { return address >= f.low && address < f.high; });
    auto row = std::upper_bound(pdb.rows.begin(), pdb.rows.end(), address,
                                [](std::uint64_t a, const auto& r) { return a < r.address; });
    if (function != pdb.functions.end() && row != pdb.rows.begin() && (--row)->address >= function->low) {
      std::printf("%llx\t%u\t%llx\t%s\t%s\n", static_cast<unsigned long long>(address), row->line,
                  static_cast<unsigned long long>(function->low), function->name.c_str(),
                  pdb.files[row->file].c_str());
    } else {
      std::printf("%llx\t0\n", static_cast<unsigned long long>(address));
    }
  }
  return 0;
}

bool HasDwarf(llvm::DWARFContext* context) { return context && context->getNumCompileUnits() > 0; }

}  // namespace

int main(int argc, char** argv) {
  // [--search FOLDER]... [--pdb PDB [--pdb-name PATH]] (--dump IMAGE | IMAGE ADDRESS...)
  std::vector<std::string> searchPath;
  ntbox::lines::OpenPdb handed;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--search") == 0 && i + 1 < argc) {
      searchPath.push_back(argv[++i]);
    } else if (std::strcmp(argv[i], "--pdb") == 0 && i + 1 < argc) {
      handed.path = argv[++i];
    } else if (std::strcmp(argv[i], "--pdb-name") == 0 && i + 1 < argc) {
      handed.name = argv[++i];
    } else {
      args.push_back(argv[i]);
    }
  }
  const bool dump = !args.empty() && args[0] == "--dump";
  if (args.empty() || (dump && args.size() != 2)) {
    std::fprintf(stderr,
                 "usage: ntbox-lines [--search FOLDER]... [--pdb PDB [--pdb-name PATH]] IMAGE ADDRESS...\n"
                 "       ntbox-lines [--search FOLDER]... [--pdb PDB [--pdb-name PATH]] --dump IMAGE\n");
    return 2;
  }
  const std::string image = dump ? args[1] : args[0];
  std::vector<std::uint64_t> addresses;
  for (std::size_t i = 1; !dump && i < args.size(); ++i) addresses.push_back(std::strtoull(args[i].c_str(), nullptr, 16));

  std::unique_ptr<llvm::DWARFContext> context;
  std::unique_ptr<llvm::MemoryBuffer> bytes = ntbox::lines::ReadInput(image);
  auto object = bytes ? llvm::object::ObjectFile::createObjectFile(bytes->getMemBufferRef())
                      : llvm::Expected<std::unique_ptr<llvm::object::ObjectFile>>(nullptr);
  std::optional<llvm::object::OwningBinary<llvm::object::ObjectFile>> binary;
  if (!object) {
    llvm::consumeError(object.takeError());
  } else if (*object) {
    binary.emplace(std::move(*object), std::move(bytes));
    context = OpenDwarf(*binary);
    // No DWARF: a clang -gcodeview image's PDB.
    const auto* coff = llvm::dyn_cast<llvm::object::COFFObjectFile>(binary->getBinary());
    if (!HasDwarf(context.get()) && coff) {
      if (const auto pdb = ntbox::lines::ReadPdb(*coff, image, searchPath, handed)) {
        return dump ? DumpPdb(*pdb) : LinesPdb(*pdb, addresses);
      }
    }
  }
  if (dump) return context ? Dump(*context) : 0;
  return Lines(context.get(), addresses);
}
