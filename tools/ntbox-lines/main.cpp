// ntbox-lines IMAGE ADDRESS...: the function and source line of each address (hex, a virtual
// address at the image's preferred base) from the PE image's DWARF, one line per address:
//   ADDRESS <TAB> LINE <TAB> FUNCTION-START <TAB> FUNCTION <TAB> FILE     (LINE 0: not covered)
// The only part of ntbox linked with LLVM, and a process of its own: debug information is driver
// input, and a parser that crashes or hangs on damaged DWARF must not take a report with it. No
// command pays LLVM's load time either; only reports run it.
#include <llvm/DebugInfo/DWARF/DWARFContext.h>
#include <llvm/Object/ObjectFile.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ntbox-lines IMAGE ADDRESS...\n");
    return 2;
  }
  auto binary = llvm::object::ObjectFile::createObjectFile(argv[1]);
  std::unique_ptr<llvm::DWARFContext> context;
  if (binary) {
    // Damaged debug information is skipped quietly: a report must not fill with parser noise.
    auto quiet = [](llvm::Error e) { llvm::consumeError(std::move(e)); };
    context = llvm::DWARFContext::create(*binary->getBinary(), llvm::DWARFContext::ProcessDebugRelocations::Process,
                                         nullptr, "", quiet, quiet);
  } else {
    llvm::consumeError(binary.takeError());
  }
  const llvm::DILineInfoSpecifier spec(llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath,
                                       llvm::DILineInfoSpecifier::FunctionNameKind::ShortName);
  for (int i = 2; i < argc; ++i) {
    const std::uint64_t address = std::strtoull(argv[i], nullptr, 16);
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
