#include "Pdb.h"

#include <llvm/DebugInfo/CodeView/CVTypeVisitor.h>
#include <llvm/DebugInfo/CodeView/DebugChecksumsSubsection.h>
#include <llvm/DebugInfo/CodeView/DebugLinesSubsection.h>
#include <llvm/DebugInfo/CodeView/LazyRandomTypeCollection.h>
#include <llvm/DebugInfo/CodeView/Line.h>
#include <llvm/DebugInfo/CodeView/SymbolDeserializer.h>
#include <llvm/DebugInfo/CodeView/SymbolRecord.h>
#include <llvm/DebugInfo/CodeView/TypeDeserializer.h>
#include <llvm/DebugInfo/CodeView/TypeRecord.h>
#include <llvm/DebugInfo/CodeView/TypeVisitorCallbacks.h>
#include <llvm/DebugInfo/PDB/Native/DbiModuleDescriptor.h>
#include <llvm/DebugInfo/PDB/Native/DbiModuleList.h>
#include <llvm/DebugInfo/PDB/Native/DbiStream.h>
#include <llvm/DebugInfo/PDB/Native/InfoStream.h>
#include <llvm/DebugInfo/PDB/Native/ModuleDebugStream.h>
#include <llvm/DebugInfo/PDB/Native/NativeSession.h>
#include <llvm/DebugInfo/PDB/Native/PDBFile.h>
#include <llvm/DebugInfo/PDB/Native/PDBStringTable.h>
#include <llvm/DebugInfo/PDB/Native/SymbolStream.h>
#include <llvm/DebugInfo/PDB/Native/TpiStream.h>
#include <llvm/DebugInfo/PDB/PDB.h>
#include <llvm/Object/CVDebugRecord.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace ntbox::lines {
namespace {

namespace cv = llvm::codeview;

template <typename T>
T* Ref(llvm::Expected<T&> value) {
  if (value) return &*value;
  llvm::consumeError(value.takeError());
  return nullptr;
}

template <typename T>
std::optional<T> Value(llvm::Expected<T> value) {
  if (value) return std::move(*value);
  llvm::consumeError(value.takeError());
  return std::nullopt;
}

// Type names as WinDbg prints them ("struct _DRIVER_OBJECT *", "unsigned long"), the same
// spelling the DWARF reader gives, and sizes.
class TypeNames {
 public:
  explicit TypeNames(cv::LazyRandomTypeCollection& types) : types_(types) {
    // A structure used through a pointer is a forward reference; its size is the definition's.
    for (auto index = types_.getFirst(); index; index = types_.getNext(*index)) {
      auto type = types_.tryGetType(*index);
      if (!type || (type->kind() != cv::LF_STRUCTURE && type->kind() != cv::LF_CLASS && type->kind() != cv::LF_UNION)) {
        continue;
      }
      if (auto record = Aggregate(*type); record && !record->forward) sizes_.emplace(record->name, record->size);
    }
  }

  struct AggregateRecord {
    std::string name;
    std::uint64_t size = 0;
    cv::TypeIndex fields;
    bool forward = false;
    bool isUnion = false;
  };
  static std::optional<AggregateRecord> Aggregate(cv::CVType type) {
    if (type.kind() == cv::LF_UNION) {
      cv::UnionRecord record(cv::TypeRecordKind::Union);
      if (auto e = cv::TypeDeserializer::deserializeAs(type, record)) {
        llvm::consumeError(std::move(e));
        return std::nullopt;
      }
      return AggregateRecord{record.Name.str(), record.Size, record.FieldList, record.isForwardRef(), true};
    }
    cv::ClassRecord record(static_cast<cv::TypeRecordKind>(type.kind()));
    if (auto e = cv::TypeDeserializer::deserializeAs(type, record)) {
      llvm::consumeError(std::move(e));
      return std::nullopt;
    }
    return AggregateRecord{record.Name.str(), record.Size, record.FieldList, record.isForwardRef(), false};
  }

  std::string Name(cv::TypeIndex index, int depth = 0) {
    if (depth > 16) return "void";
    if (index.isSimple()) {
      std::string name = SimpleName(index.getSimpleKind());
      return index.getSimpleMode() == cv::SimpleTypeMode::Direct ? name : name + " *";
    }
    auto type = types_.tryGetType(index);
    if (!type) return "void";
    switch (type->kind()) {
      case cv::LF_POINTER: {
        cv::PointerRecord record(cv::TypeRecordKind::Pointer);
        if (!Decode(*type, record)) return "void *";
        return Name(record.ReferentType, depth + 1) + (record.getMode() == cv::PointerMode::LValueReference ? " &" : " *");
      }
      case cv::LF_MODIFIER: {
        cv::ModifierRecord record(cv::TypeRecordKind::Modifier);
        return Decode(*type, record) ? Name(record.ModifiedType, depth + 1) : "void";
      }
      case cv::LF_ARRAY: {
        cv::ArrayRecord record(cv::TypeRecordKind::Array);
        return Decode(*type, record) ? Name(record.ElementType, depth + 1) + " []" : "void";
      }
      case cv::LF_BITFIELD: {
        cv::BitFieldRecord record(cv::TypeRecordKind::BitField);
        return Decode(*type, record) ? Name(record.Type, depth + 1) : "void";
      }
      case cv::LF_ENUM: {
        cv::EnumRecord record(cv::TypeRecordKind::Enum);
        return Decode(*type, record) ? "enum " + Unnamed(record.Name.str()) : "enum <unnamed-tag>";
      }
      case cv::LF_STRUCTURE:
      case cv::LF_CLASS:
      case cv::LF_UNION: {
        const auto record = Aggregate(*type);
        if (!record) return "void";
        const char* keyword = record->isUnion ? "union " : type->kind() == cv::LF_CLASS ? "class " : "struct ";
        return keyword + Unnamed(record->name);
      }
      case cv::LF_PROCEDURE: return "<function>";
      default: return "void";
    }
  }

  std::uint64_t Size(cv::TypeIndex index, int depth = 0) {
    if (depth > 16) return 0;
    if (index.isSimple()) {
      if (index.getSimpleMode() != cv::SimpleTypeMode::Direct) return 8;
      return SimpleSize(index.getSimpleKind());
    }
    auto type = types_.tryGetType(index);
    if (!type) return 0;
    switch (type->kind()) {
      case cv::LF_POINTER: return 8;
      case cv::LF_MODIFIER: {
        cv::ModifierRecord record(cv::TypeRecordKind::Modifier);
        return Decode(*type, record) ? Size(record.ModifiedType, depth + 1) : 0;
      }
      case cv::LF_ARRAY: {
        cv::ArrayRecord record(cv::TypeRecordKind::Array);
        return Decode(*type, record) ? record.Size : 0;
      }
      case cv::LF_BITFIELD: {
        cv::BitFieldRecord record(cv::TypeRecordKind::BitField);
        return Decode(*type, record) ? Size(record.Type, depth + 1) : 0;
      }
      case cv::LF_ENUM: {
        cv::EnumRecord record(cv::TypeRecordKind::Enum);
        return Decode(*type, record) ? Size(record.UnderlyingType, depth + 1) : 4;
      }
      case cv::LF_STRUCTURE:
      case cv::LF_CLASS:
      case cv::LF_UNION: {
        const auto record = Aggregate(*type);
        if (!record) return 0;
        if (!record->forward) return record->size;
        const auto it = sizes_.find(record->name);
        return it == sizes_.end() ? 0 : it->second;
      }
      default: return 0;
    }
  }

  // "struct _DRIVER_OBJECT *, struct _UNICODE_STRING *" for a procedure type.
  std::string Parameters(cv::TypeIndex procedure) {
    auto type = procedure.isSimple() ? std::nullopt : Optional(types_.tryGetType(procedure));
    if (!type || type->kind() != cv::LF_PROCEDURE) return {};
    cv::ProcedureRecord record(cv::TypeRecordKind::Procedure);
    if (!Decode(*type, record)) return {};
    auto list = record.ArgumentList.isSimple() ? std::nullopt : Optional(types_.tryGetType(record.ArgumentList));
    if (!list || list->kind() != cv::LF_ARGLIST) return {};
    cv::ArgListRecord arguments(cv::TypeRecordKind::ArgList);
    if (!Decode(*list, arguments)) return {};
    std::string text;
    for (const cv::TypeIndex argument : arguments.ArgIndices) {
      if (!text.empty()) text += ", ";
      text += Name(argument);
    }
    return text;
  }

  std::optional<cv::CVType> Get(cv::TypeIndex index) {
    return index.isSimple() ? std::nullopt : Optional(types_.tryGetType(index));
  }

  template <typename Record>
  static bool Decode(cv::CVType type, Record& record) {
    if (auto e = cv::TypeDeserializer::deserializeAs(type, record)) {
      llvm::consumeError(std::move(e));
      return false;
    }
    return true;
  }

 private:
  static std::optional<cv::CVType> Optional(llvm::Optional<cv::CVType> type) {
    if (!type) return std::nullopt;
    return *type;
  }
  static std::string Unnamed(std::string name) {
    return name.empty() || name == "<unnamed-tag>" || name.starts_with("<unnamed") ? "<unnamed-tag>" : name;
  }
  static std::string SimpleName(cv::SimpleTypeKind kind) {
    using K = cv::SimpleTypeKind;
    switch (kind) {
      case K::Void: return "void";
      case K::SignedCharacter:
      case K::NarrowCharacter: return "char";
      case K::UnsignedCharacter: return "unsigned char";
      case K::WideCharacter:
      case K::Character16: return "wchar_t";
      case K::Int16Short:
      case K::Int16: return "short";
      case K::UInt16Short:
      case K::UInt16: return "unsigned short";
      case K::Int32Long: return "long";
      case K::UInt32Long: return "unsigned long";
      case K::Int32: return "int";
      case K::UInt32: return "unsigned int";
      case K::Int64Quad:
      case K::Int64: return "int64";
      case K::UInt64Quad:
      case K::UInt64: return "unsigned int64";
      case K::Boolean8: return "bool";
      case K::Float32: return "float";
      case K::Float64: return "double";
      case K::HResult: return "HRESULT";
      default: return "void";
    }
  }
  static std::uint64_t SimpleSize(cv::SimpleTypeKind kind) {
    using K = cv::SimpleTypeKind;
    switch (kind) {
      case K::SignedCharacter:
      case K::NarrowCharacter:
      case K::UnsignedCharacter:
      case K::Boolean8: return 1;
      case K::WideCharacter:
      case K::Character16:
      case K::Int16Short:
      case K::Int16:
      case K::UInt16Short:
      case K::UInt16: return 2;
      case K::Int32Long:
      case K::UInt32Long:
      case K::Int32:
      case K::UInt32:
      case K::Float32:
      case K::HResult: return 4;
      case K::Int64Quad:
      case K::Int64:
      case K::UInt64Quad:
      case K::UInt64:
      case K::Float64: return 8;
      default: return 0;
    }
  }

  cv::LazyRandomTypeCollection& types_;
  std::map<std::string, std::uint64_t> sizes_;
};

// The data members of a field list.
class Members : public cv::TypeVisitorCallbacks {
 public:
  explicit Members(TypeNames& names) : names_(names) {}
  llvm::Error visitKnownMember(cv::CVMemberRecord&, cv::DataMemberRecord& record) override {
    members.push_back({record.FieldOffset, names_.Size(record.Type), record.Name.str(), names_.Name(record.Type)});
    return llvm::Error::success();
  }
  std::vector<PdbMember> members;

 private:
  TypeNames& names_;
};

std::optional<std::string> FindPdb(const llvm::object::COFFObjectFile& image, const std::string& imagePath,
                                   const std::vector<std::string>& searchPath, const cv::DebugInfo*& info) {
  llvm::StringRef recorded;
  if (auto e = image.getDebugPDBInfo(info, recorded)) {
    llvm::consumeError(std::move(e));
    return std::nullopt;
  }
  if (!info || info->Signature.CVSignature != llvm::OMF::Signature::PDB70) return std::nullopt;
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> candidates{recorded.str()};
  // The recorded path may be a Windows one (C:\build\x.pdb): its last component is the name.
  std::string fileName = recorded.str();
  if (const auto slash = fileName.find_last_of("/\\"); slash != std::string::npos) fileName.erase(0, slash + 1);
  if (fileName.empty()) fileName = fs::path(imagePath).stem().string() + ".pdb";
  candidates.push_back(fs::path(imagePath).parent_path() / fileName);
  for (const auto& folder : searchPath) candidates.push_back(fs::path(folder) / fileName);
  for (const auto& candidate : candidates) {
    if (!candidate.empty() && fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<llvm::MemoryBuffer> ReadInput(const std::string& path) {
  constexpr std::string_view kHanded = "/proc/self/fd/";
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer{std::error_code()};
  if (path.starts_with(kHanded)) {
    const int fd = std::atoi(path.c_str() + kHanded.size());
    buffer = llvm::MemoryBuffer::getOpenFile(llvm::sys::fs::convertFDToNativeFile(fd), path, -1,
                                             /*RequiresNullTerminator=*/false);
  } else {
    buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  }
  return buffer ? std::move(*buffer) : nullptr;
}

std::optional<PdbInfo> ReadPdb(const llvm::object::COFFObjectFile& image, const std::string& imagePath,
                               const std::vector<std::string>& searchPath, const OpenPdb& handed) {
  const cv::DebugInfo* debugInfo = nullptr;
  std::optional<std::string> path;
  std::unique_ptr<llvm::pdb::IPDBSession> session;
  if (!handed.path.empty()) {
    llvm::StringRef recorded;
    if (auto e = image.getDebugPDBInfo(debugInfo, recorded)) {
      llvm::consumeError(std::move(e));
      return std::nullopt;
    }
    if (!debugInfo || debugInfo->Signature.CVSignature != llvm::OMF::Signature::PDB70) return std::nullopt;
    auto buffer = ReadInput(handed.path);
    if (!buffer) return std::nullopt;
    if (auto e = llvm::pdb::NativeSession::createFromPdb(std::move(buffer), session)) {
      llvm::consumeError(std::move(e));
      return std::nullopt;
    }
    path = handed.name.empty() ? handed.path : handed.name;
  } else {
    path = FindPdb(image, imagePath, searchPath, debugInfo);
    if (!path) return std::nullopt;
    if (auto e = llvm::pdb::loadDataForPDB(llvm::pdb::PDB_ReaderType::Native, *path, session)) {
      llvm::consumeError(std::move(e));
      return std::nullopt;
    }
  }
  auto& file = static_cast<llvm::pdb::NativeSession&>(*session).getPDBFile();
  auto infoStream = Ref(file.getPDBInfoStream());
  auto dbi = Ref(file.getPDBDbiStream());
  auto tpi = Ref(file.getPDBTpiStream());
  auto strings = Ref(file.getStringTable());
  if (!infoStream || !dbi || !tpi || !strings) return std::nullopt;
  // A PDB of another build would put every line in the wrong place: WinDbg refuses it too.
  const cv::GUID guid = infoStream->getGuid();
  if (std::memcmp(guid.Guid, debugInfo->PDB70.Signature, 16) != 0 ||
      dbi->getAge() != debugInfo->PDB70.Age) {
    return std::nullopt;
  }

  PdbInfo out;
  out.path = *path;
  const std::uint64_t base = image.getImageBase();
  // A section:offset address at the preferred base; nullopt outside the image's sections.
  auto address = [&](std::uint16_t segment, std::uint32_t offset) -> std::optional<std::uint64_t> {
    auto section = Value(image.getSection(segment));
    if (!section || !*section) return std::nullopt;
    return base + (*section)->VirtualAddress + offset;
  };
  std::map<std::string, unsigned> fileIndexes;
  auto fileIndex = [&](const std::string& name) {
    const auto [it, added] = fileIndexes.emplace(name, static_cast<unsigned>(out.files.size()));
    if (added) out.files.push_back(name);
    return it->second;
  };
  TypeNames names(tpi->typeCollection());

  const auto& modules = dbi->modules();
  for (std::uint32_t m = 0; m < modules.getModuleCount(); ++m) {
    const auto descriptor = modules.getModuleDescriptor(m);
    const std::uint16_t streamIndex = descriptor.getModuleStreamIndex();
    if (streamIndex == llvm::pdb::kInvalidStreamIndex) continue;
    auto stream = file.createIndexedStream(streamIndex);
    if (!stream) continue;
    llvm::pdb::ModuleDebugStreamRef module(descriptor, std::move(stream));
    if (auto e = module.reload()) {
      llvm::consumeError(std::move(e));
      continue;
    }

    // The line table.
    auto checksums = Value(module.findChecksumsSubsection());
    for (const auto& subsection : module.subsections()) {
      if (subsection.kind() != cv::DebugSubsectionKind::Lines || !checksums) continue;
      cv::DebugLinesSubsectionRef lines;
      llvm::BinaryStreamReader reader(subsection.getRecordData());
      if (auto e = lines.initialize(reader)) {
        llvm::consumeError(std::move(e));
        continue;
      }
      const auto start = address(lines.header()->RelocSegment, lines.header()->RelocOffset);
      if (!start) continue;
      for (const cv::LineColumnEntry& block : lines) {
        auto entry = checksums->getArray().at(block.NameIndex);
        if (entry == checksums->getArray().end()) continue;
        auto name = Value(strings->getStringForID(entry->FileNameOffset));
        if (!name) continue;
        const unsigned fileId = fileIndex(name->str());
        for (const cv::LineNumberEntry& row : block.LineNumbers) {
          const cv::LineInfo info(row.Flags);
          if (info.isAlwaysStepInto() || info.isNeverStepInto() || info.getStartLine() == 0) continue;
          out.rows.push_back({*start + row.Offset, info.getStartLine(), fileId});
        }
      }
    }

    // Functions, their parameters and locals, and the module's statics.
    bool hadError = false;
    constexpr std::size_t kNone = ~std::size_t{0};
    std::size_t function = kNone;         // index in out.functions while inside a procedure
    int depth = 0, inlineDepth = 0;       // scopes open inside it; those of inlined code
    std::uint64_t frameToCfa = 0;         // the CFA's distance from RSP after the prologue
    bool rspFrame = false;
    std::optional<PdbVariable> pending;   // an S_LOCAL waiting for its S_DEFRANGE
    for (const cv::CVSymbol& symbol : module.symbols(&hadError)) {
      switch (symbol.kind()) {
        case cv::S_GPROC32:
        case cv::S_LPROC32:
        case cv::S_GPROC32_ID:
        case cv::S_LPROC32_ID: {
          auto proc = Value(cv::SymbolDeserializer::deserializeAs<cv::ProcSym>(symbol));
          if (!proc) break;
          const auto low = address(proc->Segment, proc->CodeOffset);
          if (!low || function != kNone) break;
          out.functions.push_back({*low, *low + proc->CodeSize, proc->Name.str(), names.Parameters(proc->FunctionType)});
          function = out.functions.size() - 1;
          depth = 1;
          inlineDepth = 0;
          rspFrame = false;
          pending.reset();
          break;
        }
        case cv::S_FRAMEPROC: {
          auto frame = Value(cv::SymbolDeserializer::deserializeAs<cv::FrameProcSym>(symbol));
          if (!frame || function == kNone || depth != 1) break;
          // clang's frame size excludes the pushed callee-saved registers; the return address is 8.
          frameToCfa = std::uint64_t{frame->TotalFrameBytes} + frame->BytesOfCalleeSavedRegisters + 8;
          rspFrame = frame->getLocalFramePtrReg(cv::CPUType::X64) == cv::RegisterId::RSP;
          break;
        }
        case cv::S_BLOCK32:
          if (function != kNone) ++depth;
          break;
        case cv::S_INLINESITE:
          if (function != kNone) ++depth, ++inlineDepth;
          break;
        case cv::S_INLINESITE_END:
          if (function != kNone) --depth, --inlineDepth;
          break;
        case cv::S_END:
        case cv::S_PROC_ID_END:
          if (function != kNone && --depth == 0) function = kNone;
          break;
        case cv::S_LOCAL: {
          pending.reset();
          auto local = Value(cv::SymbolDeserializer::deserializeAs<cv::LocalSym>(symbol));
          if (!local || function == kNone || inlineDepth > 0) break;
          const bool parameter = (static_cast<std::uint16_t>(local->Flags) &
                                  static_cast<std::uint16_t>(cv::LocalSymFlags::IsParameter)) != 0;
          pending = PdbVariable{out.functions[function].low, parameter ? 'P' : 'L', local->Name.str(),
                                names.Name(local->Type), 0, names.Size(local->Type)};
          break;
        }
        case cv::S_DEFRANGE_FRAMEPOINTER_REL: {
          auto range = Value(cv::SymbolDeserializer::deserializeAs<cv::DefRangeFramePointerRelSym>(symbol));
          if (!range || !pending || !rspFrame) break;
          pending->frameOffset = static_cast<std::int64_t>(range->Hdr.Offset) - static_cast<std::int64_t>(frameToCfa);
          out.variables.push_back(*pending);
          pending.reset();
          break;
        }
        case cv::S_DEFRANGE_REGISTER_REL: {
          auto range = Value(cv::SymbolDeserializer::deserializeAs<cv::DefRangeRegisterRelSym>(symbol));
          if (!range || !pending || range->Hdr.Register != static_cast<std::uint16_t>(cv::RegisterId::RSP)) break;
          pending->frameOffset = static_cast<std::int64_t>(range->Hdr.BasePointerOffset) - static_cast<std::int64_t>(frameToCfa);
          out.variables.push_back(*pending);
          pending.reset();
          break;
        }
        case cv::S_LDATA32:
        case cv::S_GDATA32: {
          auto data = Value(cv::SymbolDeserializer::deserializeAs<cv::DataSym>(symbol));
          if (!data || function != kNone) break;
          if (const auto at = address(data->Segment, data->DataOffset)) {
            out.globals.push_back({*at, names.Size(data->Type), data->Name.str(), names.Name(data->Type)});
          }
          break;
        }
        default: break;
      }
    }
  }

  // Globals the linker moved to the global symbol stream.
  if (auto symbols = Ref(file.getPDBSymbolStream())) {
    std::set<std::uint64_t> known;
    for (const auto& g : out.globals) known.insert(g.address);
    for (const cv::CVSymbol& symbol : symbols->getSymbolArray()) {
      if (symbol.kind() != cv::S_GDATA32 && symbol.kind() != cv::S_LDATA32) continue;
      auto data = Value(cv::SymbolDeserializer::deserializeAs<cv::DataSym>(symbol));
      if (!data) continue;
      const auto at = address(data->Segment, data->DataOffset);
      if (at && known.insert(*at).second) {
        out.globals.push_back({*at, names.Size(data->Type), data->Name.str(), names.Name(data->Type)});
      }
    }
  }

  std::stable_sort(out.rows.begin(), out.rows.end(), [](const PdbRow& a, const PdbRow& b) { return a.address < b.address; });
  for (auto& f : out.functions) {
    const auto row = std::lower_bound(out.rows.begin(), out.rows.end(), f.low,
                                      [](const PdbRow& r, std::uint64_t a) { return r.address < a; });
    if (row != out.rows.end() && row->address < f.high) {
      f.line = row->line;
      f.file = row->file;
    }
  }

  // Named structures, each once, from their full definitions.
  std::set<std::string> seen;
  auto& collection = tpi->typeCollection();
  for (auto index = collection.getFirst(); index; index = collection.getNext(*index)) {
    auto type = collection.tryGetType(*index);
    if (!type || (type->kind() != cv::LF_STRUCTURE && type->kind() != cv::LF_UNION)) continue;
    const auto record = TypeNames::Aggregate(*type);
    if (!record || record->forward || record->name.empty() || record->name.starts_with("<unnamed")) continue;
    if (!seen.insert(record->name).second) continue;
    PdbType described{record->name, record->size, {}};
    if (auto fields = names.Get(record->fields); fields && fields->kind() == cv::LF_FIELDLIST) {
      Members members(names);
      if (auto e = cv::visitMemberRecordStream(fields->content(), members)) {
        llvm::consumeError(std::move(e));
      }
      described.members = std::move(members.members);
    }
    out.types.push_back(std::move(described));
  }
  return out;
}

}  // namespace ntbox::lines
