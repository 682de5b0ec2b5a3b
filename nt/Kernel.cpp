#include "nt/Kernel.h"

#include "nt/ps/ProcessLookup.h"
#include "nt/kd/Debugger.h"

#include <sys/mman.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "cpu/Trap.h"
#include "nt/ExportTable.h"
#include "nt/ex/WorkQueue.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Processors.h"
#include "nt/ke/Thread.h"
#include "nt/ps/Notify.h"
#include "nt/ps/SystemThread.h"
#include "nt/ExportThunks.h"
#include "nt/Status.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/KeTypes.h"
#include "nt/mm/AddressSpace.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/support/SymbolHelper.h"
#include "nt/support/Symbolize.h"
#include "pe/PeDebug.h"

namespace ntbox::nt {
namespace {

std::atomic<Kernel*> g_current{nullptr};
constexpr std::size_t kRecentDebugLines = 64;
constexpr std::uint64_t kEpochDifference100ns = 116444736000000000ull;  // 1601 -> 1970

template <class T>
void Put(std::uint8_t* page, std::uint32_t offset, T value) {
  std::memcpy(page + offset, &value, sizeof(T));
}

void PutSystemTime(std::uint8_t* page, std::uint32_t offset, std::uint64_t value) {
  // Writers store High2Time, LowPart, then High1Time; readers retry until the highs agree.
  Put<LONG>(page, offset + 8, static_cast<LONG>(value >> 32));
  Put<ULONG>(page, offset, static_cast<ULONG>(value));
  Put<LONG>(page, offset + 4, static_cast<LONG>(value >> 32));
}

}  // namespace

std::optional<OsVersion> ParseOsVersion(std::string_view text) {
  OsVersion v;
  ULONG* parts[] = {&v.major, &v.minor, &v.build};
  for (int i = 0; i < 3; ++i) {
    const auto dot = i < 2 ? text.find('.') : std::string_view::npos;
    const std::string_view part = text.substr(0, dot);
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), *parts[i]);
    if (ec != std::errc{} || end != part.data() + part.size() || part.empty()) return std::nullopt;
    if (i < 2) {
      if (dot == std::string_view::npos) return std::nullopt;
      text.remove_prefix(dot + 1);
    }
  }
  return v;
}

Kernel::Kernel(KernelConfig config)
    : config_(config),
      boot_(std::chrono::steady_clock::now()),
      pageable_((config.verifier.flags & vf::flags::kIrqlChecking) != 0) {
  // NTBOX_REWRITE=0: no rewriting in this process whatever the configuration says (the test suite
  // runs once so, to show both paths give the same results).
  if (const char* env = std::getenv("NTBOX_REWRITE"); env && std::string_view(env) == "0") config_.rewrite = false;
  Kernel* expected = nullptr;
  if (!g_current.compare_exchange_strong(expected, this)) {
    throw std::logic_error("another ntbox kernel is already live in this process");
  }
  // Before any driver or program memory is touched: SafeCopy's faults are recovered there.
  cpu::InstallTrapHandlers();
  SetKdDebuggerEnabled(config_.debuggerEnabled);
  SetInitSafeBootMode(config_.safeBootMode);
  objects_ = std::make_unique<ob::Namespace>();
  system_ = ps::Process::CreateSystem();
  g_PsInitialSystemProcess = system_->object();
  using namespace shared_data;
  std::uint8_t* page = sharedData_.writable();
  Put<ULONG>(page, kTickCountMultiplier, 0x0FA00000);  // 15.625 ms tick, as Windows' 2^24 fraction
  Put<std::uint16_t>(page, kImageNumberLow, 0x8664);
  Put<std::uint16_t>(page, kImageNumberHigh, 0x8664);
  const char16_t root[] = u"C:\\Windows";
  std::memcpy(page + kNtSystemRoot, root, sizeof root);
  Put<ULONG>(page, kNtBuildNumber, config_.version.build);
  Put<ULONG>(page, kNtProductType, 1);  // NtProductWinNt (workstation)
  Put<UCHAR>(page, kProductTypeIsValid, 1);
  Put<std::uint16_t>(page, kNativeProcessorArchitecture, 9);  // PROCESSOR_ARCHITECTURE_AMD64
  Put<ULONG>(page, kNtMajorVersion, config_.version.major);
  Put<ULONG>(page, kNtMinorVersion, config_.version.minor);
  Put<ULONG>(page, kActiveProcessorCount, config_.processors);
  Put<UCHAR>(page, kKdDebuggerEnabled, 0);
  SharedUserData();
  SetExportedBuildNumber(config_.version.build);
  SetExportedProcessorCount(config_.processors);
  ke::SetStopping(false);
  processors_ = std::make_unique<ke::Processors>(config_.processors);
  watchdog_ = std::make_unique<ke::Watchdog>(config_.watchdog);
  workQueues_ = std::make_unique<ex::WorkQueues>();
  systemThreads_ = std::make_unique<ps::SystemThreads>();
  notifyRoutines_ = std::make_unique<ps::NotifyRoutines>();
  // Paged pool is pageable memory for every driver: the verifier trims it for all when on.
  const PoolArena& paged = pool_.pagedArena();
  pageable_.Add({paged.base(), paged.base() + paged.size(), PROT_READ | PROT_WRITE, nullptr});
  const vf::SpecialPool& pagedSpecial = pool_.pagedSpecialPool();
  pageable_.Add({pagedSpecial.base(), pagedSpecial.base() + pagedSpecial.size(), PROT_READ | PROT_WRITE,
                 &pagedSpecial});
  // A new special pool block is mapped in without a page-in: the next raise must trim it.
  pool_.OnPagedSpecialBlock([this] { pageable_.MarkResident(); });
}

void mm::TrimPageableMemory() {
  if (Kernel* k = Kernel::CurrentOrNull()) k->pageable().Trim();
}

Kernel::~Kernel() {
  StopThreads();
  system_.reset();
  {
    std::lock_guard lock(mutex_);
    for (auto& slot : slots_) slot.module.store(nullptr);
    for (const auto& m : modules_) {
      for (const std::uint64_t begin : m->pageableSections) pageable_.Remove(begin);
    }
    modules_.clear();
  }
  g_current.store(nullptr);
}

void Kernel::StopThreads() {
  {
    std::lock_guard lock(ke::TheKernelLock());
    ke::SetStopping(true);
  }
  watchdog_.reset();
  systemThreads_.reset();
  workQueues_.reset();
  processors_.reset();
}

bool Kernel::RunGuarded(FunctionRef<void()> call) {
  if (ke::Stopping()) return false;
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL irql = t ? t->Irql() : PASSIVE_LEVEL;
  auto result = cpu::CallGuarded([&]() -> std::uint64_t {
    call();
    return 0;
  });
  if (result) return true;
  if (t) t->SetIrql(irql);
  BugChecked(result.error());
  return false;
}

void Kernel::BugChecked(const BugCheck& record) {
  if (record.code == ke::kStopUnwindCode || ke::Stopping()) return;
  {
    std::lock_guard lock(mutex_);
    if (stopRecord_) return;  // another thread's stop came first
    stopRecord_ = std::make_unique<BugCheck>(record);
  }
  ke::SetStopping(true);
  if (bugCheckHandler_) bugCheckHandler_(record);
}

void Kernel::SetBugCheckHandler(BugCheckHandler handler) { bugCheckHandler_ = std::move(handler); }

bool Kernel::stopped() const { return ke::Stopping(); }

std::optional<BugCheck> Kernel::stopRecord() const {
  std::lock_guard lock(mutex_);
  if (!stopRecord_) return std::nullopt;
  return *stopRecord_;
}

Kernel& Kernel::Current() {
  Kernel* k = g_current.load();
  if (!k) throw std::logic_error("no ntbox kernel is live");
  return *k;
}

Kernel* Kernel::CurrentOrNull() { return g_current.load(); }

void Kernel::SetDebugSink(DebugSink sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

void Kernel::DebugOutput(ULONG component, ULONG level, std::string text) {
  DebugSink sink;
  DebugRecord record;
  {
    std::lock_guard lock(mutex_);
    const bool passed = component == kNtboxComponent || config_.debugFilter.Passes(component, level);
    record = DebugRecord{++sequence_, InterruptTime() / 1e7, component, level, std::move(text), passed};
    recent_.push_back(record);
    if (recent_.size() > kRecentDebugLines) recent_.pop_front();
    sink = sink_;
  }
  if (sink) sink(record);
}

std::vector<DebugRecord> Kernel::RecentDebugOutputWithin(std::chrono::milliseconds wait) const {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lock.try_lock_for(wait)) return {};
  return {recent_.begin(), recent_.end()};
}

Result<Module*> Kernel::LoadModule(const std::string& path) {
  auto image = pe::PeImage::ParseFile(path);
  if (!image) return std::unexpected(image.error());
  return LoadModule(std::move(*image), path);
}

Result<Module*> Kernel::LoadModule(pe::PeImage parsed, const std::string& path) {
  auto* image = &parsed;
  if (image->subsystem() != pe::kSubsystemNative) {
    return Fail(fmt::format("wrong subsystem: the image is a {} program (subsystem {}), not a "
                            "kernel driver (native, 1)",
                            pe::SubsystemName(image->subsystem()), image->subsystem()),
                STATUS_INVALID_IMAGE_FORMAT, 193);
  }
  pe::LoadOptions options;
  options.regionStart = mm::kSystemImageStart;
  options.regionEnd = mm::kSystemImageEnd;
  const std::string fileName = std::filesystem::path(path).filename().string();
  const bool checkIrql = config_.verifier.On(fileName, vf::flags::kIrqlChecking);
  options.resolveImport = [checkIrql](const pe::ImportRef& ref) -> std::optional<std::uint64_t> {
    const Export* e = ref.ordinal ? FindExportByOrdinal(ref.dll, *ref.ordinal)
                                  : FindExport(ref.dll, ref.name);
    if (!e) return std::nullopt;
    return reinterpret_cast<std::uint64_t>(ExportEntry(*e, checkIrql));
  };
  std::vector<pe::FunctionSymbol> symbols = pe::FunctionSymbols(parsed);
  const std::uint16_t dllCharacteristics = parsed.dllCharacteristics();
  std::unique_ptr<cpu::ImageRewrite> rewrite;
  if (config_.rewrite && !config_.debuggerEnabled) {
    rewrite = std::make_unique<cpu::ImageRewrite>(cpu::ImageRewrite::Plan(
        parsed, {ke::kpcr::kIrql, ke::kpcr::kInterruptsDisabled}, reinterpret_cast<std::uint64_t>(sharedData_.readOnly())));
    if (rewrite->empty()) {
      rewrite.reset();
    } else {
      // Its shared-data reads no longer trap (the trap refreshed the times): the clock does.
      if (!rewrite->constants().empty()) sharedData_.StartClock([this] { (void)SharedUserData(); });
      options.trailerSize = rewrite->trailerSize();
      options.beforeProtect = [&rewrite](std::uint8_t* base) { rewrite->Apply(base); };
    }
  }
  auto loaded = pe::LoadImage(std::move(parsed), options);
  if (!loaded) return std::unexpected(loaded.error());

  auto module = std::make_unique<Module>();
  const std::filesystem::path p(path);
  module->fileName = p.filename().string();
  module->name = p.stem().string();
  module->path = path;
  module->image = std::move(*loaded);
  module->verified = config_.verifier.Verifies(module->fileName);
  module->symbols = std::move(symbols);
  module->dllCharacteristics = dllCharacteristics;
  module->rewrite = std::move(rewrite);
  module->wideFileName = ob::Widen(module->fileName);
  module->fileNameString = ViewOf(module->wideFileName);
  if (module->verified && pageable_.enabled()) RegisterPageableSections(*module);
  OpenPdb(*module);

  Module* added = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (auto& slot : slots_) {
      if (slot.module.load() == nullptr) {
        slot.base.store(module->image->base());
        slot.end.store(module->end());
        slot.module.store(module.get());
        modules_.push_back(std::move(module));
        added = modules_.back().get();
        break;
      }
    }
  }
  if (!added) return Fail("too many loaded modules", STATUS_INSUFFICIENT_RESOURCES, 8);
  // A debugger's deferred breakpoints are written now, before any of the image's code runs.
  kd::Debugger::Get().OnModuleLoad(added->name, added->image->base(), added->image->end());
  return added;
}

void Kernel::OpenPdb(Module& module) {
  const auto reference = pe::FindPdbReference(module.image->pe());
  if (auto pdb = reference ? nt::OpenPdb(pe::PdbCandidates(*reference, module.path)) : std::nullopt) {
    module.pdb = std::move(pdb->file);
    module.pdbPath = std::move(pdb->path);
  }
}

// PAGE, PAGEDATA, PAGEabc: what #pragma alloc_text(PAGE, ...) or a section attribute puts there.
void Kernel::RegisterPageableSections(Module& module) {
  const pe::LoadedImage& image = *module.image;
  if (image.pe().optionalHeader().SectionAlignment < 4096) return;  // sections share pages
  for (const pe::Section& s : image.pe().sections()) {
    if (!s.name.starts_with("PAGE") || s.virtualSize == 0) continue;
    const std::uint64_t begin = image.base() + s.virtualAddress;
    const std::uint64_t end = begin + ((s.virtualSize + 4095ull) & ~4095ull);
    if (pageable_.Add({begin, end, pe::SectionProtection(s.characteristics), nullptr})) {
      module.pageableSections.push_back(begin);
    }
  }
}

void Kernel::UnloadModule(Module* module) {
  // Breakpoints in its code go with it (the memory is unmapped; nothing to write back).
  kd::Debugger::Get().OnModuleUnload(module->image->base(), module->image->end());
  for (const std::uint64_t begin : module->pageableSections) pageable_.Remove(begin);
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (slot.module.load() == module) slot.module.store(nullptr);
  }
  // WinDbg's "Unloaded modules" list: the most recent first, bounded.
  unloaded_.insert(unloaded_.begin(), UnloadedModule{module->fileName, module->image->base(),
                                                     module->image->base() + module->image->size()});
  if (unloaded_.size() > 32) unloaded_.pop_back();
  std::erase_if(modules_, [module](const auto& m) { return m.get() == module; });
}

const Module* Kernel::ModuleAt(std::uint64_t address) const {
  for (const auto& slot : slots_) {
    const Module* m = slot.module.load(std::memory_order_acquire);
    if (m && address >= slot.base.load() && address < slot.end.load()) return m;
  }
  return nullptr;
}

bool Kernel::IntegrityChecked(std::uint64_t routine) const {
  constexpr std::uint16_t kForceIntegrity = 0x80;  // IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY
  const Module* module = ModuleAt(routine);
  return !module || (module->dllCharacteristics & kForceIntegrity);
}

std::vector<Kernel::ModuleInfo> Kernel::ModuleInfos() const {
  std::lock_guard lock(mutex_);
  std::vector<ModuleInfo> out;
  for (const auto& m : modules_) {
    out.push_back({m->image->base(), m->image->end(), m->name, m->path, m->image->pe().preferredBase(), m->symbols});
  }
  return out;
}

std::vector<const Module*> Kernel::Modules() const {
  std::lock_guard lock(mutex_);
  std::vector<const Module*> out;
  for (const auto& m : modules_) out.push_back(m.get());
  return out;
}

std::string Kernel::PendingActivity() {
  std::vector<std::string> parts;
  auto count = [](std::size_t n, const char* what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); };
  const auto work = processors().PendingWork();
  if (work.dpcs) {
    parts.push_back(fmt::format("{} queued or running ({})", count(work.dpcs, "DPC"),
                                Symbolize(reinterpret_cast<std::uint64_t>(work.firstDpc->DeferredRoutine))));
  }
  if (work.timers) {
    const KDPC* dpc = work.firstTimer->Dpc;
    parts.push_back(fmt::format("{} set{}", count(work.timers, "timer"),
                                dpc ? " (DPC " + Symbolize(reinterpret_cast<std::uint64_t>(dpc->DeferredRoutine)) + ")"
                                    : std::string()));
  }
  std::uint64_t routine = 0;
  if (const std::size_t n = workQueues().Pending(&routine)) {
    parts.push_back(fmt::format("{} queued or running ({})", count(n, "work item"), Symbolize(routine)));
  }
  if (const std::uint32_t n = ke::UnsettledThreads()) {
    (void)systemThreads().Running(&routine);
    parts.push_back(fmt::format("{} not waiting (one started at {})", count(n, "system thread"), Symbolize(routine)));
  }
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : ", ") + p;
  return text;
}

std::vector<std::string> Kernel::PoolLeaksOf(const Module& module) const {
  std::vector<std::string> out;
  for (const auto& a : pool_.Outstanding()) {
    if (!module.image->contains(a.caller)) continue;
    out.push_back(fmt::format("pool leak: {} bytes, tag '{}', allocated at {}\n", a.size, PoolTagText(a.tag),
                              Symbolize(a.caller)));
  }
  return out;
}

std::vector<Kernel::UnloadedModule> Kernel::UnloadedModules() const {
  std::lock_guard lock(mutex_);
  return unloaded_;
}

std::uint64_t Kernel::InterruptTime() const {
  const auto elapsed = std::chrono::steady_clock::now() - boot_;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count() / 100);
}

std::uint64_t Kernel::SystemTime() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return kEpochDifference100ns + static_cast<std::uint64_t>(ts.tv_sec) * 10000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec) / 100;
}

const std::uint8_t* Kernel::SharedUserData() {
  using namespace shared_data;
  std::uint8_t* page = sharedData_.writable();
  const std::uint64_t interrupt = InterruptTime();
  PutSystemTime(page, kInterruptTime, interrupt);
  PutSystemTime(page, kSystemTime, SystemTime());
  PutSystemTime(page, kTickCount, interrupt / kTimeIncrement);
  return page;
}

}  // namespace ntbox::nt
