#include "user/Program.h"

#include "cpu/SafeCopy.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoServices.h"
#include "nt/Kernel.h"
#include "nt/ke/Dispatcher.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/UserSpace.h"
#include "nt/ob/Object.h"
#include "nt/ps/Notify.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Win32Error.h"
#include "user/wine/Install.h"
#include "user/wine/SystemCalls.h"
#include "pe/PeTables.h"
#include "support/HostFiles.h"
#include "support/Text.h"
#include "support/Utf16.h"

namespace ntbox::user {
namespace {


constexpr std::uint64_t kPage = 0x1000;
// TEB fields (x64) programs and mingw's start-up code read through gs:[0x30].
constexpr std::uint32_t kTebStackBase = 0x08;
constexpr std::uint32_t kTebStackLimit = 0x10;
constexpr std::uint32_t kTebSelf = 0x30;
constexpr std::uint32_t kTebProcessId = 0x40;
constexpr std::uint32_t kTebThreadId = 0x48;
constexpr std::uint32_t kTebTlsPointer = 0x58;
constexpr std::uint32_t kTebPeb = 0x60;
constexpr std::uint32_t kPebImageBase = 0x10;
// The KPCR words user-mode code reaches through gs: NtCurrentTeb (gs:[0x30], Used_Self on a
// KPCR) and the TLS array (gs:[0x58], unused in a KPCR).
constexpr std::uint32_t kPcrUsedSelf = 0x30;
constexpr std::uint32_t kPcrTlsPointer = 0x58;
constexpr std::uint32_t kTlsSlots = 64;

struct TlsDirectory {
  std::uint64_t StartAddressOfRawData, EndAddressOfRawData, AddressOfIndex, AddressOfCallBacks;
  std::uint32_t SizeOfZeroFill, Characteristics;
};

template <class T>
void Put(std::uint64_t address, T value) {
  std::memcpy(reinterpret_cast<void*>(address), &value, sizeof(T));
}

// A Win32 command line from argv, quoted so CommandLineToArgvW and the CRT split it back.
std::string QuoteArgument(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"") == std::string::npos) return arg;
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    if (c == '"') out.append(backslashes * 2 + 1, '\\');
    else out.append(backslashes, '\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');
  return out + "\"";
}

std::string StatusText(std::uint32_t code) {
  const std::string_view name = nt::NtStatusName(static_cast<nt::NTSTATUS>(code));
  return name.empty() ? std::string("an exception") : std::string(name);
}

// The machine's ntdll and its numbering bound to the kernel's services: read once per host process.
struct NtdllFiles {
  pe::PeImage image;
  std::shared_ptr<const ServiceBinding> binding;
  // apisetschema.dll's .apiset section: the API set map (api-ms-win-crt-*.dll -> ucrtbase.dll ...)
  // ntdll's loader reads from the PEB, as Windows' kernel maps it into every process.
  std::vector<std::uint8_t> apiSetMap;
};

// The API set map from apisetschema.dll (schema version 6, as Wine 8 and Windows 10 have it).
Result<std::vector<std::uint8_t>> ReadApiSetMap(const std::filesystem::path& file) {
  auto image = pe::PeImage::ParseFile(file.string());
  if (!image) return Fail("the machine's apisetschema.dll: " + image.error().message);
  for (const pe::Section& s : image->sections()) {
    if (s.name != ".apiset") continue;
    const auto& bytes = image->file();
    if (s.rawOffset > bytes.size() || bytes.size() - s.rawOffset < s.virtualSize || s.virtualSize < 8) break;
    std::vector<std::uint8_t> map(bytes.begin() + s.rawOffset, bytes.begin() + s.rawOffset + s.virtualSize);
    std::uint32_t version = 0, size = 0;
    std::memcpy(&version, map.data(), 4);
    std::memcpy(&size, map.data() + 4, 4);
    if (version != 6 || size > map.size()) break;
    return map;
  }
  return Fail("the machine's apisetschema.dll has no API set map of schema version 6");
}

Result<const NtdllFiles*> MachineNtdll() {
  static std::mutex mutex;
  static std::unique_ptr<NtdllFiles> files;
  std::lock_guard lock(mutex);
  if (files) return files.get();
  auto dir = wine::InstallDirectory();
  if (!dir) return std::unexpected(dir.error());
  auto image = pe::PeImage::ParseFile((*dir / "x86_64-windows" / "ntdll.dll").string());
  if (!image) return Fail("the machine's ntdll.dll: " + image.error().message);
  auto numbering = wine::SystemCallNumbering::Read(*image);
  if (!numbering) return Fail("the machine's ntdll.dll: " + numbering.error().message);
  auto binding = ServiceBinding::Bind(*numbering);
  if (!binding) return Fail("the machine's ntdll.dll: " + binding.error().message);
  auto apiSets = ReadApiSetMap(*dir / "x86_64-windows" / "apisetschema.dll");
  if (!apiSets) return std::unexpected(apiSets.error());
  files = std::make_unique<NtdllFiles>(NtdllFiles{std::move(*image), std::make_shared<ServiceBinding>(std::move(*binding)),
                                                  std::move(*apiSets)});
  return files.get();
}

// The exports of the DLLs a program on Wine's DLLs may import, read once per host process: the
// program's own folder first, then the machine's system DLLs, as Windows' loader searches.
class ImportCheck {
 public:
  explicit ImportCheck(std::filesystem::path folder) : folder_(std::move(folder)) {}
  enum class Found { kMissing, kPresent, kStub };
  // Whether dll (from folder or the system DLLs) exports ref, and whether what it exports is one of
  // Wine's stubs (it raises an exception when called). API set names (api-ms-win-*) pass: ntdll's
  // loader resolves them through the API set map.
  Found Exports(const pe::ImportRef& ref) {
    const std::string dll = AsciiLower(ref.dll);
    if (dll.starts_with("api-ms-") || dll.starts_with("ext-ms-")) return Found::kPresent;
    // Each DLL is looked for once per program (its imports name it many times).
    auto it = found_.find(dll);
    if (it == found_.end()) it = found_.emplace(dll, Find(folder_, dll)).first;
    const Dll* d = it->second;
    if (!d) return Found::kMissing;
    for (const auto& e : d->exports) {
      if (ref.ordinal ? e.ordinal != *ref.ordinal : e.name != ref.name) continue;
      return !e.forwarder && IsWineStub(d->image, e) ? Found::kStub : Found::kPresent;
    }
    return Found::kMissing;
  }

 private:
  struct Dll {
    pe::PeImage image;
    std::vector<pe::ExportEntry> exports;
  };

  // winebuild's stub for a "@ stub" entry of a .spec file: sub rsp,0x28; lea rcx,[dll name];
  // lea rdx,[function name]; call __wine_spec_unimplemented_stub. The name it passes must be the
  // export's own.
  static bool IsWineStub(const pe::PeImage& image, const pe::ExportEntry& e) {
    const auto code = pe::BytesAtRva(image, e.rva, 23);
    if (!code) return false;
    const std::uint8_t* b = code->data();
    static constexpr std::uint8_t kPrologue[] = {0x48, 0x83, 0xEC, 0x28, 0x48, 0x8D, 0x0D};
    if (std::memcmp(b, kPrologue, sizeof kPrologue) != 0 || b[11] != 0x48 || b[12] != 0x8D || b[13] != 0x15 ||
        b[18] != 0xE8) {
      return false;
    }
    std::int32_t displacement = 0;
    std::memcpy(&displacement, b + 14, 4);
    const auto nameRva = static_cast<std::uint32_t>(e.rva + 18 + displacement);
    const auto name = pe::BytesAtRva(image, nameRva, static_cast<std::uint32_t>(e.name.size() + 1));
    return name && std::memcmp(name->data(), e.name.c_str(), e.name.size() + 1) == 0;
  }

  static const Dll* Find(const std::filesystem::path& folder, const std::string& dll) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<Dll>> cache;  // parsed once per host process, by path
    std::vector<std::filesystem::path> places{folder};
    for (const auto& d : nt::Kernel::Current().config().systemDlls) places.emplace_back(d);
    std::lock_guard lock(mutex);
    for (const auto& place : places) {
      // The program's own folder as the thread may see it (support/HostFiles.h: what the client
      // handed over or opens for it); the system DLLs' folders are ntbox's own.
      for (const auto& name : HostDirectoryEntries(place.string())) {
        if (AsciiLower(name) != dll) continue;
        const std::string key = (place / name).string();
        if (auto it = cache.find(key); it != cache.end()) return it->second.get();
        auto image = pe::PeImage::ParseFile(key);
        if (!image) return nullptr;
        auto exports = pe::ReadExports(*image);
        if (!exports) return nullptr;
        auto loaded = std::make_unique<Dll>(Dll{std::move(*image), std::move(*exports)});
        return cache.emplace(key, std::move(loaded)).first->second.get();
      }
    }
    return nullptr;
  }

  std::filesystem::path folder_;
  std::map<std::string, const Dll*> found_;  // by lower-case DLL name
};

}  // namespace


Result<std::unique_ptr<Program>> Program::Load(const ProgramOptions& options, SystemGate& gate) {
  auto image = pe::PeImage::ParseFile(options.hostPath.string());
  if (!image) return std::unexpected(image.error());
  if (image->subsystem() != 3 /* IMAGE_SUBSYSTEM_WINDOWS_CUI */) {
    return Fail(fmt::format("{} is not a console program (subsystem {}); ntbox runs Win32 console programs",
                            options.hostPath.string(), pe::SubsystemName(image->subsystem())),
                nt::STATUS_INVALID_IMAGE_FORMAT, 193);
  }
  if (image->fileHeader().Characteristics & 0x2000 /* IMAGE_FILE_DLL */) {
    return Fail(options.hostPath.string() + " is a DLL, not a program", nt::STATUS_INVALID_IMAGE_FORMAT, 193);
  }
  auto dlls = pe::ImportedDlls(*image);
  if (!dlls) return Fail(options.hostPath.string() + ": " + dlls.error().message, nt::STATUS_INVALID_IMAGE_FORMAT, 193);
  const bool nativeOnly = !dlls->empty() && std::all_of(dlls->begin(), dlls->end(), [](const std::string& d) {
    return AsciiLower(d) == "ntdll.dll";
  });
  const bool wine = !nativeOnly;
  std::unique_ptr<Program> program(new Program(options, gate));
  auto process = nt::ps::Process::Create(options.name);
  if (!process) return std::unexpected(process.error());
  program->process_ = std::move(*process);
  if (options.child) {
    program->process_->SetParent(options.child->parentId);
    program->console_ = options.child->console;
    program->process_->console = options.child->console;
    program->process_->hostFiles = options.child->hostFiles;
  }
  auto* space = program->process_->space();

  pe::LoadOptions load;
  load.regionStart = space->base() + 0x10000;
  load.regionEnd = space->imageRegionEnd();
  Program* p = program.get();
  {
    auto ntdll = MachineNtdll();
    if (!ntdll) return std::unexpected(ntdll.error());
    if (auto mapped = MapUserSharedData(); !mapped) return std::unexpected(mapped.error());
    pe::LoadOptions ntdllLoad = load;
    ntdllLoad.resolveImport = [](const pe::ImportRef&) -> std::optional<std::uint64_t> { return std::nullopt; };
    auto loadedNtdll = pe::LoadImage((*ntdll)->image, ntdllLoad);
    if (!loadedNtdll) return Fail("cannot map the machine's ntdll.dll: " + loadedNtdll.error().message);
    program->wine_ = wine;
    program->ntdll_ = std::move(*loadedNtdll);
    program->binding_ = (*ntdll)->binding;
    if (wine) {
      // ntdll's loader binds the program's imports; first every one is checked, so a program that
      // needs a DLL or function the machine lacks is refused before any of its code runs, with
      // each named, rather than ending in the loader with STATUS_DLL_NOT_FOUND.
      auto check = std::make_shared<ImportCheck>(options.hostPath.parent_path());
      load.resolveImport = [check, p](const pe::ImportRef& ref) -> std::optional<std::uint64_t> {
        const auto found = check->Exports(ref);
        if (found == ImportCheck::Found::kMissing) return std::nullopt;
        if (found == ImportCheck::Found::kStub) p->stubImports_.push_back(std::string(ref.dll) + "!" + std::string(ref.name));
        return 0;  // ntdll writes the real address
      };
    } else {
      // A native program's imports (ntdll's only) are bound here.
      load.resolveImport = [p](const pe::ImportRef& ref) -> std::optional<std::uint64_t> {
        if (ref.name.empty()) return std::nullopt;
        return p->ntdll_->FindExport(ref.name);
      };
    }
  }
  auto loaded = pe::LoadImage(std::move(*image), load);
  if (!loaded) {
    Error e = loaded.error();
    e.message = fmt::format("cannot run {}: {}", options.hostPath.filename().string(), e.message);
    return std::unexpected(e);
  }
  program->image_ = std::move(*loaded);
  // NtQueryVirtualMemory shows the images as Windows maps them (ntdll finds its own base so).
  for (const pe::LoadedImage* mapped : {program->image_.get(), program->ntdll_.get()}) {
    if (mapped) space->RecordMapping(mapped->base(), mapped->size(), nt::mm::mem::kImage, nt::mm::page::kExecuteWriteCopy);
  }
  if (auto r = program->Prepare(); !r) return std::unexpected(r.error());
  if (program->wine_) {
    if (auto r = program->PrepareWineProcess(); !r) return std::unexpected(r.error());
  }
  program->process_->SetPeb(program->peb_);
  program->process_->SetSectionBase(program->image_->base());
  // Its runner answers for it from now on (a creator may end it before it has run).
  if (program->wine_) program->process_->threadHost = program.get();
  program->process_->imageInformation = nt::mm::ImageInformation(program->image_->pe(), program->image_->base());
  return program;
}

Result<void> Program::Prepare() {
  auto* space = process_->space();
  auto fail = [] { return Fail("out of user memory", nt::STATUS_NO_MEMORY, 8); };
  // The stack: the image's reserve (mingw: 2 MiB), a no-access guard page below it.
  const std::uint64_t reserve =
      std::clamp<std::uint64_t>(image_->pe().optionalHeader().SizeOfStackReserve, 256 * 1024, 64ull << 20);
  void* stack = space->Allocate(reserve + kPage);
  if (!stack) return fail();
  guardPage_ = reinterpret_cast<std::uint64_t>(stack);
  space->Protect(stack, kPage, nt::mm::UserSpace::kNoAccess);
  stackBottom_ = guardPage_ + kPage;
  stackTop_ = stackBottom_ + reserve;

  // TEB (two pages; Wine's ntdll uses a 0x3800-byte block) and PEB.
  void* teb = space->Allocate(4 * kPage);
  void* peb = space->Allocate(kPage);
  void* tls = space->Allocate(kTlsSlots * 8);
  if (!teb || !peb || !tls) return fail();
  space->Pin(teb);
  teb_ = reinterpret_cast<std::uint64_t>(teb);
  peb_ = reinterpret_cast<std::uint64_t>(peb);
  tlsArray_ = reinterpret_cast<std::uint64_t>(tls);
  Put<std::uint64_t>(teb_ + kTebStackBase, stackTop_);
  Put<std::uint64_t>(teb_ + kTebStackLimit, stackBottom_);
  Put<std::uint64_t>(teb_ + kTebSelf, teb_);
  Put<std::uint64_t>(teb_ + kTebProcessId, process_->id());
  Put<std::uint64_t>(teb_ + kTebTlsPointer, tlsArray_);
  Put<std::uint64_t>(teb_ + kTebPeb, peb_);
  Put<std::uint64_t>(peb_ + kPebImageBase, image_->base());

  // Static TLS (__declspec(thread), mingw's TLS support): the main thread's block, index 0.
  const auto tlsDir = image_->pe().directory(pe::kDirTls);
  if (tlsDir.Size >= sizeof(TlsDirectory) && tlsDir.VirtualAddress + sizeof(TlsDirectory) <= image_->size()) {
    // The image is the program's: its sections have the protections it declares, so every read
    // and write here may fault (SafeCopy) and refuses the program rather than the host.
    const auto unreadable = [] {
      return Fail("the image's TLS data lies in a section that cannot be read", nt::STATUS_ACCESS_VIOLATION, 998);
    };
    TlsDirectory d;
    if (!cpu::SafeCopy(&d, reinterpret_cast<const void*>(image_->base() + tlsDir.VirtualAddress), sizeof d)) {
      return unreadable();
    }
    const bool sane = d.EndAddressOfRawData >= d.StartAddressOfRawData &&
                      image_->contains(d.StartAddressOfRawData) && d.EndAddressOfRawData <= image_->end() &&
                      d.SizeOfZeroFill < (64u << 20);
    if (!sane) return Fail("the image's TLS directory points outside it", nt::STATUS_INVALID_IMAGE_FORMAT, 193);
    const std::uint64_t raw = d.EndAddressOfRawData - d.StartAddressOfRawData;
    void* block = space->Allocate(raw + d.SizeOfZeroFill + 16);
    if (!block) return fail();
    if (!cpu::SafeCopy(block, reinterpret_cast<const void*>(d.StartAddressOfRawData), raw)) return unreadable();
    Put<std::uint64_t>(tlsArray_, reinterpret_cast<std::uint64_t>(block));
    const std::uint32_t index = 0;
    if (image_->contains(d.AddressOfIndex) &&
        !cpu::SafeCopy(reinterpret_cast<void*>(d.AddressOfIndex), &index, sizeof index)) {
      // Windows' loader faults writing it: the process cannot start.
      return Fail(fmt::format("the image's TLS index slot (at +{:#x}) lies in a section it declares read-only",
                              d.AddressOfIndex - image_->base()),
                  nt::STATUS_ACCESS_VIOLATION, 998);
    }
  }

  // The command line, as the process parameters give it (a child's: as its creator wrote it).
  if (options_.child) {
    commandLine_ = Utf16ToUtf8(options_.child->parameters.commandLine);
  } else {
    commandLine_ = QuoteArgument(options_.name);
    for (const auto& a : options_.args) commandLine_ += " " + QuoteArgument(a);
  }
  return {};
}

namespace {

// RTL_USER_PROCESS_PARAMETERS (x64) fields.
constexpr std::uint32_t kParamsConsoleHandle = 0x10, kParamsStdInput = 0x20;
using ULONG = std::uint32_t;
// PEB (x64) fields Windows' kernel fills in.
constexpr std::uint32_t kPebProcessParameters = 0x20, kPebNumberOfProcessors = 0xB8;
constexpr std::uint32_t kPebCriticalSectionTimeout = 0xC0, kPebHeapSegmentReserve = 0xC8;
constexpr std::uint32_t kPebHeapSegmentCommit = 0xD0, kPebOsMajorVersion = 0x118, kPebOsMinorVersion = 0x11C;
constexpr std::uint32_t kPebOsBuildNumber = 0x120, kPebOsPlatformId = 0x124, kPebImageSubsystem = 0x128;
constexpr std::uint32_t kPebImageSubsystemMajor = 0x12C, kPebImageSubsystemMinor = 0x130;
// Wine's ntdll reads its debug channels' settings from a table two pages past the PEB: entries of
// { flags, name[15] }, ended by an empty name whose flags are the default (err and fixme).
constexpr std::uint32_t kPebWineDebugOptions = 0x2000;
constexpr std::uint8_t kWineDebugDefault = 0x3;
// The initial CONTEXT's fields set per thread (InitUserContext sets the rest).
constexpr std::uint32_t kContextSize = 0x4D0, kContextRcx = 0x80, kContextRdx = 0x88, kContextRsp = 0x98;
constexpr std::uint32_t kContextRip = 0xF8;

}  // namespace

std::uint64_t Program::OpenConsoleHandle(std::u16string_view name) {
  constexpr nt::ACCESS_MASK kConsoleAccess = 0xC0100000;  // GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE
  auto opened = nt::io::OpenFile(*process_, name, kConsoleAccess, 3 /* FILE_SHARE_READ | FILE_SHARE_WRITE */, false);
  if (!opened) return 0;
  // Inheritable, as kernelbase's console handles are.
  (void)process_->handles().SetAttributes(*opened, nt::ob::kHandleInherit);
  return static_cast<std::uint64_t>(*opened);
}

void Program::WriteConsoleHandles(std::uint64_t console, FunctionRef<std::optional<std::uint64_t>(int)> standard) {
  Put<std::uint64_t>(params_ + kParamsConsoleHandle, console);
  for (int i = 0; i < 3; ++i) {
    if (const auto handle = standard(i)) Put<std::uint64_t>(params_ + kParamsStdInput + 8u * i, *handle);
  }
}

void Program::OpenStandardHandles() {
  // The console: input from stdin; output to stdout when that is a terminal, else to stderr (where
  // what Windows shows in the console window, whatever the redirections, is seen and kept apart
  // from the program's redirected output).
  const int fds[3] = {options_.stdio.in, options_.stdio.out, options_.stdio.err};
  const int consoleOut = ::isatty(fds[1]) ? fds[1] : fds[2];
  auto console = std::make_shared<Console>(fds[0], consoleOut);
  {
    std::lock_guard lock(runMutex_);
    console_ = console;
  }
  process_->console = console;
  AttachToConsole();
  Put<std::uint64_t>(params_ + kParamsConsoleHandle, OpenConsoleHandle(u"\\Device\\ConDrv\\CurrentIn"));
  // A terminal is the console; a pipe or a file stays what it is (output redirected on Windows is
  // a file too, and msvcrt writes CRLF to it).
  constexpr nt::ACCESS_MASK kAccess[3] = {0x80100000 /* GENERIC_READ | SYNCHRONIZE */,
                                          0x40100000 /* GENERIC_WRITE | SYNCHRONIZE */, 0x40100000};
  for (int i = 0; i < 3; ++i) {
    std::uint64_t handle = 0;
    if (::isatty(fds[i])) {
      handle = OpenConsoleHandle(i == 0 ? u"\\Device\\ConDrv\\Input" : u"\\Device\\ConDrv\\Output");
    } else if (const int fd = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3); fd >= 0) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
      const std::u16string name = !ec && target.is_absolute()
                                      ? nt::ob::Widen("\\??\\" + nt::Win32PathOfHost(target))
                                      : u"\\Device\\NamedPipe\\ntbox-client";
      nt::HANDLE h = nullptr;
      if (nt::io::InsertHostFile(fd, false, name, kAccess[i], &h) >= 0) handle = reinterpret_cast<std::uint64_t>(h);
    }
    // Inheritable, as a shell's redirections and kernelbase's console handles are.
    (void)process_->handles().SetAttributes(handle, nt::ob::kHandleInherit);
    Put<std::uint64_t>(params_ + kParamsStdInput + 8u * i, handle);
  }
}

Result<void> Program::PrepareWineProcess() {
  auto* space = process_->space();
  auto fail = [] { return Fail("out of user memory", nt::STATUS_NO_MEMORY, 8); };
  // The PEB grows to three pages: Wine's debug options after it.
  if (!space->Free(reinterpret_cast<void*>(peb_))) return fail();
  void* peb = space->Allocate(3 * kPage);
  if (!peb) return fail();
  peb_ = reinterpret_cast<std::uint64_t>(peb);
  Put<std::uint64_t>(teb_ + kTebPeb, peb_);
  InitializeTeb(teb_, stackTop_, stackBottom_, guardPage_);
  // The API set map, read-only, where the PEB says (ApiSetMap, +0x68).
  {
    auto files = MachineNtdll();
    if (!files) return std::unexpected(files.error());
    const auto& map = (*files)->apiSetMap;
    void* at = space->Allocate(map.size());
    if (!at) return fail();
    std::memcpy(at, map.data(), map.size());
    space->Protect(at, map.size(), nt::mm::UserSpace::kReadOnly);
    Put<std::uint64_t>(peb_ + 0x68, reinterpret_cast<std::uint64_t>(at));
  }
  Put<std::uint64_t>(peb_ + kPebImageBase, image_->base());
  const auto& config = nt::Kernel::Current().config();
  Put<std::uint32_t>(peb_ + kPebNumberOfProcessors, config.processors);
  Put<std::int64_t>(peb_ + kPebCriticalSectionTimeout, -2592000000000ll);  // 30 days, as Windows
  Put<std::uint64_t>(peb_ + kPebHeapSegmentReserve, 0x100000);
  Put<std::uint64_t>(peb_ + kPebHeapSegmentCommit, 0x2000);
  Put<std::uint32_t>(peb_ + kPebOsMajorVersion, config.version.major);
  Put<std::uint32_t>(peb_ + kPebOsMinorVersion, config.version.minor);
  Put<std::uint16_t>(peb_ + kPebOsBuildNumber, static_cast<std::uint16_t>(config.version.build));
  Put<std::uint32_t>(peb_ + kPebOsPlatformId, 2);  // VER_PLATFORM_WIN32_NT
  Put<std::uint32_t>(peb_ + 0x2C0, 1);             // SessionId: the interactive session, as its token
  const auto& optional = image_->pe().optionalHeader();
  Put<std::uint32_t>(peb_ + kPebImageSubsystem, optional.Subsystem);
  Put<std::uint32_t>(peb_ + kPebImageSubsystemMajor, optional.MajorSubsystemVersion);
  Put<std::uint32_t>(peb_ + kPebImageSubsystemMinor, optional.MinorSubsystemVersion);
  Put<std::uint8_t>(peb_ + kPebWineDebugOptions, kWineDebugDefault);

  // The process parameters: the creator's for a child; else from ntbox run's command line.
  nt::ps::ProcessParameters parameters;
  if (options_.child) {
    parameters = options_.child->parameters;
  } else {
    std::string directory = options_.currentDirectory;
    if (directory.empty() || directory.back() != '\\') directory += '\\';
    parameters.currentDirectory = nt::ob::Widen(directory);
    parameters.imagePath = nt::ob::Widen(Win32Path());
    parameters.commandLine = nt::ob::Widen(commandLine_);
    parameters.windowTitle = parameters.imagePath;
    parameters.environment = std::u16string(u"PATH=C:\\windows\\system32;C:\\windows") + u'\0' +
                             u"SystemRoot=C:\\windows" + u'\0' + u"windir=C:\\windows" + u'\0' + u'\0';
    // The console's and the standard handles arrive with OpenStandardHandles.
  }
  const std::uint64_t params = nt::ps::WriteProcessParameters(*space, parameters);
  if (!params) return fail();
  Put<std::uint64_t>(peb_ + kPebProcessParameters, params);
  params_ = params;

  // The start context, just below the stack's top: RtlUserThreadStart(entry, PEB).
  if (!ntdll_->FindExport("RtlUserThreadStart") || !ntdll_->FindExport("LdrInitializeThunk")) {
    return Fail("the machine's ntdll.dll lacks RtlUserThreadStart or LdrInitializeThunk");
  }
  startContext_ = WriteStartContext(stackTop_, image_->entryPoint(), peb_);
  return {};
}

void Program::InitializeTeb(std::uint64_t teb, std::uint64_t stackTop, std::uint64_t stackBottom,
                            std::uint64_t guard) {
  // The TEB fields Windows' kernel sets up (Wine's layout names the same offsets): the stack, the
  // activation context stack, and the static string buffer kernelbase converts ANSI file names into.
  constexpr std::uint32_t kTebActivationContextStack = 0x290, kTebActivationContextStackPointer = 0x2C8;
  constexpr std::uint32_t kTebStaticUnicodeString = 0x1258, kTebStaticUnicodeBuffer = 0x1268;
  constexpr std::uint32_t kTebDeallocationStack = 0x1478;
  Put<std::uint64_t>(teb + 0x0, ~0ull);  // NT_TIB.ExceptionList: none (x64 has no frame chain)
  Put<std::uint64_t>(teb + kTebStackBase, stackTop);
  Put<std::uint64_t>(teb + kTebStackLimit, stackBottom);
  Put<std::uint64_t>(teb + kTebSelf, teb);
  Put<std::uint64_t>(teb + kTebProcessId, process_->id());
  Put<std::uint64_t>(teb + kTebTlsPointer, 0);  // ntdll allocates the TLS array itself
  Put<std::uint64_t>(teb + kTebPeb, peb_);
  Put<std::uint64_t>(teb + kTebActivationContextStackPointer, teb + kTebActivationContextStack);
  Put<std::uint64_t>(teb + kTebActivationContextStack + 0x08, teb + kTebActivationContextStack + 0x08);
  Put<std::uint64_t>(teb + kTebActivationContextStack + 0x10, teb + kTebActivationContextStack + 0x08);
  Put<std::uint16_t>(teb + kTebStaticUnicodeString + 2, 261 * 2);
  Put<std::uint64_t>(teb + kTebStaticUnicodeString + 8, teb + kTebStaticUnicodeBuffer);
  Put<std::uint64_t>(teb + kTebDeallocationStack, guard);
}

std::uint64_t Program::WriteStartContext(std::uint64_t stackTop, std::uint64_t start, std::uint64_t argument) {
  const std::uint64_t rsp = stackTop - 0x28;
  const std::uint64_t c = ((rsp & ~0xFull) - kContextSize) & ~0xFull;
  std::uint8_t context[kContextSize];
  InitUserContext(context);
  const std::uint64_t rip = *ntdll_->FindExport("RtlUserThreadStart");
  std::memcpy(context + kContextRcx, &start, 8);
  std::memcpy(context + kContextRdx, &argument, 8);
  std::memcpy(context + kContextRsp, &rsp, 8);
  std::memcpy(context + kContextRip, &rip, 8);
  std::memcpy(reinterpret_cast<void*>(c), context, kContextSize);
  return c;
}

void Program::AttachToConsole() {
  if (!console_) return;
  console_->Attach(this, {[this](std::uint32_t event) { StartControlThread(event); },
                          [this](std::uint32_t code) { Terminate(code); }});
}

void Program::EndSession(std::uint32_t code) {
  Terminate(code);
  std::shared_ptr<Console> console;
  {
    std::lock_guard lock(runMutex_);
    console = console_;
  }
  if (console) console->EndAll(code);
}

void Program::WaitForSession() {
  std::shared_ptr<Console> console;
  {
    std::lock_guard lock(runMutex_);
    console = console_;
  }
  if (console) console->WaitUntilEmpty();
}

Program::~Program() {
  // The console (its terminal's settings put back) goes outside the kernel lock.
  {
    std::lock_guard lock(runMutex_);
    console_.reset();
  }
  image_.reset();
  if (process_ && process_->handles().size()) {
    // Handles are only left when the machine stopped before they could close: no driver code
    // may run again, so they are abandoned with the machine.
    gate_.Abandon(std::move(process_));
  }
}


void Program::Syscall(FunctionRef<void()> call) {
  if (!gate_.Call(*process_, call)) cpu::ExitUserMode(cpu::UserExitKind::kMachineStopped, 0);
  cpu::WaitWhileSuspended();  // NtSuspendThread of a thread in the kernel takes effect here
  cpu::CheckTermination();
}

void* Program::CreateFirstThread(bool suspended) {
  // The first thread's object carries its state for the thread services, as the others' do.
  mainControl_ = new nt::ps::ThreadControl();
  mainControl_->id = nt::ke::NewThreadId();
  mainControl_->teb = teb_;
  mainControl_->processId = process_->id();
  mainControl_->startAddress = image_->entryPoint();
  mainControl_->suspendCount = suspended ? 1 : 0;
  mainThreadObject_ = nt::ps::CreateUserThreadObject(mainControl_);
  nt::ob::ReferenceObject(mainThreadObject_);  // the caller's
  return mainThreadObject_;
}

ProgramExit Program::Run() {
  if (!mainThreadObject_) nt::ob::DereferenceObject(CreateFirstThread(false));
  nt::ps::ThreadControl* mainControl = mainControl_;
  nt::ke::ThreadAttachment attachment(0, mainThreadObject_, mainControl->id);
  nt::ke::KernelThread& thread = attachment.thread();
  thread.process = process_.get();
  nt::ps::StartUserThread(mainThreadObject_);
  thread.previousMode = 1;  // UserMode
  std::memcpy(thread.kpcr() + kPcrUsedSelf, &teb_, 8);
  std::memcpy(thread.kpcr() + kPcrTlsPointer, &tlsArray_, 8);
  Put<std::uint64_t>(teb_ + kTebThreadId, thread.id);
  {
    attachment.UseProgramGsBlock(teb_);
    frame_.program = this;
    frame_.binding = binding_.get();
    frame_.teb = teb_;
    SetSystemCallFrame(&frame_);
    if (wine_) {
      thread.userExceptionDispatcher = ntdll_->FindExport("KiUserExceptionDispatcher").value_or(0);
      thread.userApcDispatcher = ntdll_->FindExport("KiUserApcDispatcher").value_or(0);
    }
  }
  {
    std::lock_guard lock(threadsMutex_);
    mainRunning_ = true;
  }
  {
    std::lock_guard lock(runMutex_);
    ran_ = true;
    runThread_ = &thread;
    runPthread_ = static_cast<unsigned long>(pthread_self());
    if (terminateBeforeRun_) {
      thread.terminateCode = terminateCode_;
      thread.terminateRequested = 1;
    }
  }
  const std::uint64_t stackTop = stackTop_;
  const std::uint64_t imageBase = image_->base();
  const std::uint64_t entry = image_->entryPoint();
  ProgramExit result;
  nt::ps::Process* process = process_.get();
  const std::uint64_t threadId = thread.id;
  // Drivers hear of the image, the process and its thread first; a process notify routine may
  // refuse the process (CreationStatus), which then never runs.
  const std::u16string imageName = nt::ob::Widen("\\??\\" + Win32Path());
  nt::NTSTATUS creation = nt::STATUS_SUCCESS;
  const bool started = gate_.Call(*process, [&] {
    nt::ps::NotifyImageLoad(imageName, process->id(), imageBase, image_->size(), false);
    nt::ps::NotifyImageLoad(u"\\SystemRoot\\System32\\ntdll.dll", process->id(), ntdll_->base(), ntdll_->size(), false);
    if (wine_ && !options_.child) OpenStandardHandles();
    const nt::ULONG parent = process->parentId() ? process->parentId() : nt::Kernel::Current().systemProcess().id();
    creation = nt::ps::NotifyProcessCreate(*process, parent, imageName, nt::ob::Widen(commandLine_));
    if (creation >= 0) nt::ps::NotifyThread(process->id(), threadId, true);
  });
  if (!started) {
    result.exit.kind = cpu::UserExitKind::kMachineStopped;
  } else if (creation < 0) {
    result.exit.kind = cpu::UserExitKind::kRefused;
    result.exit.code = static_cast<std::uint32_t>(creation);
    result.description = "CreateProcess failed " + std::to_string(nt::RtlNtStatusToDosError(creation)) +
                         fmt::format(": a driver's process notify routine refused the process (0x{:08X} {})",
                                     static_cast<std::uint32_t>(creation), nt::NtStatusName(creation));
  } else {
    // A process another started runs once its creator resumes its first thread (or is ended first).
    {
      std::unique_lock lock(mainControl->mutex);
      mainControl->changed.wait(lock, [&] { return mainControl->suspendCount == 0 || thread.terminateRequested; });
    }
    result.exit = cpu::RunUserMode([&]() -> std::uint32_t {
      // System calls run on this thread's own stack, below the frames that entered user mode.
      frame_.kernelRsp = (reinterpret_cast<std::uint64_t>(__builtin_frame_address(0)) - 0x4000) & ~0xFull;
      if (wine_) {
        // As Windows starts a thread: LdrInitializeThunk(context) called just below the context,
        // which ntdll ends with NtContinue into RtlUserThreadStart(entry, PEB).
        const auto init = ntdll_->FindExport("LdrInitializeThunk");
        return static_cast<std::uint32_t>(cpu::CallUser(*init, startContext_ + 0x20, startContext_));
      }
      return static_cast<std::uint32_t>(cpu::CallUser(entry, stackTop, peb_));
    });
    // A program that ended inside a system call left its TEB as the kernel's GS block.
    thread.gsIrql = nullptr;
    thread.exitRequested = false;
    thread.userExceptionDispatcher = 0;
    thread.userApcDispatcher = 0;
    thread.lastException = {};
  }
  SetSystemCallFrame(nullptr);
  {
    std::lock_guard lock(threadsMutex_);
    mainRunning_ = false;
    lastThreadStatus_ = result.exit.code;
  }
  nt::ke::WakeWaiters();
  // The first thread's end: ExitThread leaves the process to the others (it ends with the last);
  // anything else ends the process, unless another thread ended it first (whose end is the
  // process's, this thread having been terminated by it).
  bool firstThreadEnded = false;
  if (result.exit.kind == cpu::UserExitKind::kThreadExited) {
    // Its thread object is signalled now, as on Windows: the others may wait for it.
    const auto status = static_cast<nt::NTSTATUS>(result.exit.code);
    firstThreadEnded = gate_.Call(*process, [&] {
      nt::ps::NotifyThread(process->id(), threadId, false);
      nt::ps::EndUserThread(mainThreadObject_, status);
    });
    nt::ke::WaitUntil([this] { return LiveThreads() == 0; });
    std::lock_guard lock(threadsMutex_);
    if (!processExit_) {
      result.exit.kind = cpu::UserExitKind::kExited;
      result.exit.code = lastThreadStatus_;
    }
  } else if (result.exit.kind != cpu::UserExitKind::kRefused) {
    ProgramExit ended = result;
    ended.exitCode = result.exit.code;
    EndProcess(ended);
  }
  JoinThreads();
  {
    std::lock_guard lock(threadsMutex_);
    if (processExit_) result.exit = processExit_->exit;  // the thread that ended the process says how
  }
  {
    std::lock_guard lock(runMutex_);
    runThread_ = nullptr;
  }
  if (result.exit.kind == cpu::UserExitKind::kException && result.exit.faultAddress >= guardPage_ &&
      result.exit.faultAddress < stackBottom_) {
    result.exit.code = static_cast<std::uint32_t>(nt::STATUS_STACK_OVERFLOW);  // the guard page below the stack
  }
  result.exitCode = result.exit.kind == cpu::UserExitKind::kMachineStopped ? 0xC000040A /* lost */ : result.exit.code;
  if (result.exit.kind == cpu::UserExitKind::kException) result.description = Describe(result.exit);
  // Process exit: its outstanding requests are cancelled, then its handles close (drivers see
  // IRP_MJ_CLEANUP and IRP_MJ_CLOSE).
  if (result.exit.kind != cpu::UserExitKind::kMachineStopped) {
    const bool created = creation >= 0;
    (void)gate_.Call(*process, [process, threadId, created, firstThreadEnded] {
      if (created) {
        if (!firstThreadEnded) nt::ps::NotifyThread(process->id(), threadId, false);
        nt::ps::NotifyProcessExit(*process);
      }
      nt::io::EndProcessIo(*process);
      process->CloseAllHandles();
    });
  }
  (void)gate_.Call(*process, [this, process, &result, firstThreadEnded] {
    if (!firstThreadEnded) nt::ps::EndUserThread(mainThreadObject_, static_cast<nt::NTSTATUS>(result.exitCode));
    process->End(static_cast<nt::NTSTATUS>(result.exitCode));
  });
  process_->threadHost = nullptr;
  thread.process = nullptr;
  // The program leaves its console; the console goes (its terminal's settings put back) with the
  // last program on it, outside the kernel lock.
  std::shared_ptr<Console> console;
  {
    std::lock_guard lock(runMutex_);
    console = console_;
  }
  process_->console.reset();
  if (console) console->Detach(this);
  return result;
}

std::string Program::Win32Path() const { return nt::Win32PathOfHost(options_.hostPath); }

void Program::Terminate(std::uint32_t code) {
  {
    std::lock_guard lock(runMutex_);
    if (!runThread_) {
      if (!ran_) {
        terminateBeforeRun_ = true;
        terminateCode_ = code;
      }
    } else {
      cpu::RequestTermination(*runThread_, runPthread_, code);
    }
  }
  if (mainControl_) {
    std::lock_guard lock(mainControl_->mutex);
    mainControl_->changed.notify_all();  // a first thread never resumed ends too
  }
}

std::string Program::Describe(const cpu::UserExit& exit) const {
  std::string where;
  const std::string module = options_.hostPath.filename().string();
  if (image_->contains(exit.address)) {
    where = fmt::format("{}+{:#x}", module, exit.address - image_->base());
  } else {
    where = fmt::format("{:#018x}", exit.address);
  }
  if (!exit.deniedSystemCall.empty()) {
    return fmt::format("a Linux system call, {}, at {}: denied by the machine's sandbox (access violation)",
                       exit.deniedSystemCall, where);
  }
  std::string text = fmt::format("unhandled exception {:#010x} ({}) at {}", exit.code, StatusText(exit.code), where);
  if (exit.code == 0xC0000005u && exit.faultAddressKnown) {
    text += fmt::format(", {} {:#018x}", exit.faultWrite ? "writing" : "reading", exit.faultAddress);
  }
  return text;
}

}  // namespace ntbox::user
