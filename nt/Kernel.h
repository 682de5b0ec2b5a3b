// The in-process NT kernel personality: loaded modules, debug output, pool, time and the
// KUSER_SHARED_DATA page. One kernel is live per process at a time; kernel exports, called by
// drivers without context, find it through Kernel::Current().
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cpu/Rewriter.h"
#include "nt/SharedDataPage.h"
#include "nt/Types.h"
#include "nt/ex/Pool.h"
#include "nt/ke/BugCheck.h"
#include "nt/kd/DebugFilter.h"
#include "nt/ke/Watchdog.h"
#include "nt/mm/Pageable.h"
#include "nt/rtl/RtlTypes.h"
#include "nt/vf/Verifier.h"
#include "pe/CoffSymbols.h"
#include "pe/PeLoader.h"
#include "support/FunctionRef.h"
#include "support/Result.h"
#include "support/UniqueFd.h"

namespace ntbox::nt {
namespace cm {
class RegistryStore;
}  // namespace cm
namespace ob {
class Namespace;
}
namespace ps {
class Process;
class SystemThreads;
class NotifyRoutines;
}
namespace ke {
class Processors;
}
namespace ex {
class WorkQueues;
}
struct BugCheck;

struct OsVersion {
  ULONG major = 10;
  ULONG minor = 0;
  ULONG build = 19045;  // Windows 10 22H2
};
// Parses "10.0.19045"; nullopt when malformed.
std::optional<OsVersion> ParseOsVersion(std::string_view text);

struct KernelConfig {
  OsVersion version;
  std::uint32_t processors = 2;
  DebugFilter debugFilter;       // what a kernel debugger would be shown
  bool debuggerEnabled = false;  // bcdedit /debug: KdDebuggerEnabled
  // Drivers' privileged instructions rewritten at load to run natively (cpu/Rewriter.h); never under a kernel
  // debugger, which sees and steps through the code as the driver was built.
  bool rewrite = true;
  ULONG safeBootMode = 0;        // bcdedit /set safeboot: InitSafeBootMode (1 minimal, 2 network)
  // The folder that is the machine's C: drive (kernel file I/O stays inside it); empty: none.
  std::string systemDrive;
  // Where the system DLLs programs load live on the host: ntbox's own (user/dlls), then Wine's PE
  // builds; they appear as C:\windows\system32\*.dll, the first folder holding a name wins.
  std::vector<std::string> systemDlls;
  // The NLS tables (locale.nls, c_1252.nls ...) ntdll maps through NtInitializeNlsFiles & co.
  std::string nlsDirectory;
  // The registry the configuration manager serves (the machine's); not owned. nullptr: none, and
  // every key is absent.
  cm::RegistryStore* registry = nullptr;
  // ZwLoadDriver/ZwUnloadDriver: the machine's service control manager starts (load) or stops the
  // driver service of that name and says how it went; unset, every service is absent.
  std::function<NTSTATUS(std::string_view service, bool load)> serviceControl;
  vf::VerifierConfig verifier;
  ke::WatchdogConfig watchdog;  // preemption quantum and DPC watchdog limits
};

struct DebugRecord {
  std::uint64_t sequence = 0;
  double seconds = 0;  // since boot
  ULONG component = 0;
  ULONG level = 0;
  std::string text;  // ANSI bytes as the driver printed them
  bool passed = true;  // passes the Debug Print Filter
};

// A loaded kernel-mode image.
struct Module {
  std::string name;      // base name without extension: "FirstDriverSample"
  std::string fileName;  // "FirstDriverSample.sys"
  std::string path;      // where it was loaded from
  std::unique_ptr<pe::LoadedImage> image;
  bool verified = false;  // Driver Verifier watches it
  std::uint16_t dllCharacteristics = 0;  // the image's (FORCE_INTEGRITY matters to the kernel)
  std::vector<pe::FunctionSymbol> symbols;  // from its COFF symbol table, for reports
  // The file name as a kernel string (bugcheck parameters name drivers by one).
  std::u16string wideFileName;
  UNICODE_STRING fileNameString{};
  // Its PAGE sections registered as pageable memory (verified drivers under IRQL checking).
  std::vector<std::uint64_t> pageableSections;
  // The PDB a clang -gcodeview image names, opened at load while the request's host files are
  // reachable (its client handed it with the image): reports and the debugger read it later.
  UniqueFd pdb;
  std::string pdbPath;
  // What the load-time rewriter changed (its trampolines follow the image); null: nothing.
  std::unique_ptr<cpu::ImageRewrite> rewrite;
  // The end of its code: the image's, or its trampolines'.
  std::uint64_t end() const { return image->trailerEnd(); }
};

class Kernel {
 public:
  explicit Kernel(KernelConfig config = {});
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  static Kernel& Current();
  static Kernel* CurrentOrNull();

  const KernelConfig& config() const { return config_; }
  // Whether modules loaded from now on are rewritten (KernelConfig::rewrite): benchmarks compare.
  void SetRewriting(bool on) { config_.rewrite = on; }

  // Debug output: every record goes to the sink (if any) and to a short history kept for
  // bugcheck reports.
  using DebugSink = std::function<void(const DebugRecord&)>;
  void SetDebugSink(DebugSink sink);
  void DebugOutput(ULONG component, ULONG level, std::string text);
  // For bugcheck reports: empty when the kernel's own lock stays taken (by the thread that stopped).
  std::vector<DebugRecord> RecentDebugOutputWithin(std::chrono::milliseconds wait) const;

  // Loads, relocates and binds a kernel image against this kernel's exports.
  Result<Module*> LoadModule(const std::string& path);
  // The same for an image already parsed (and checked) from path.
  Result<Module*> LoadModule(pe::PeImage image, const std::string& path);
  void UnloadModule(Module* module);
  // The module containing address, or nullptr. Lock-free: the trap handler calls it.
  const Module* ModuleAt(std::uint64_t address) const;
  // Whether a routine may be registered where Windows asks for an image linked with
  // /INTEGRITYCHECK (PsSetCreateProcessNotifyRoutineEx, ObRegisterCallbacks): false for a driver
  // image without IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY.
  bool IntegrityChecked(std::uint64_t routine) const;
  std::vector<const Module*> Modules() const;
  // Copies, taken under the kernel's own lock only (not the kernel lock driver code holds): what
  // lm shows, answered even while driver code runs at DISPATCH_LEVEL.
  struct ModuleInfo {
    std::uint64_t base = 0, end = 0;
    std::string name, path;
    std::uint64_t preferredBase = 0;          // where its DWARF's addresses are
    std::vector<pe::FunctionSymbol> symbols;  // its COFF symbol table
  };
  std::vector<ModuleInfo> ModuleInfos() const;
  struct UnloadedModule {
    std::string fileName;
    std::uint64_t base = 0, end = 0;
  };
  std::vector<UnloadedModule> UnloadedModules() const;

  PoolTracker& pool() { return pool_; }
  mm::PageableMemory& pageable() { return pageable_; }
  // The object namespace (\Device, \??, symbolic links).
  ob::Namespace& objects() { return *objects_; }
  // The System process: kernel handles, and the process of kernel threads.
  ps::Process& systemProcess() { return *system_; }
  // One line per pool allocation the module's code made and has not freed.
  std::vector<std::string> PoolLeaksOf(const Module& module) const;
  // What the kernel has still to do on its own (under the kernel lock): DPCs queued or running,
  // timers set (periodic ones until they first fire), work items, system threads not asleep in an
  // untimed wait. Empty when idle.
  std::string PendingActivity();

  // Time since boot in 100 ns units (the interrupt time), and system time (100 ns since 1601).
  std::uint64_t InterruptTime() const;
  static std::uint64_t SystemTime();
  static constexpr ULONG kTimeIncrement = 156250;  // 15.625 ms, Windows' default clock tick

  // The KUSER_SHARED_DATA page as drivers see it at 0xFFFFF78000000000, refreshed on demand.
  const std::uint8_t* SharedUserData();
  // Whether address is in the read-only view drivers' rewritten constants point at, and the
  // KUSER_SHARED_DATA address it stands for (reports name that).
  std::optional<std::uint64_t> SharedDataAddressOf(std::uint64_t address) const {
    if (!sharedData_.InReadOnlyView(address)) return std::nullopt;
    return 0xFFFFF78000000000ull + (address - reinterpret_cast<std::uint64_t>(sharedData_.readOnly()));
  }

  // Execution: the virtual processors (DPCs, timers), the system worker threads and the drivers'
  // system threads. They run driver code under the kernel lock (ke/Dispatcher.h).
  ke::Processors& processors() { return *processors_; }
  ex::WorkQueues& workQueues() { return *workQueues_; }
  ps::SystemThreads& systemThreads() { return *systemThreads_; }
  ps::NotifyRoutines& notifyRoutines() { return *notifyRoutines_; }
  // How often the watchdog preempted driver code so far (benchmarks, tests).
  std::uint64_t preemptions() const { return watchdog_ ? watchdog_->preemptions() : 0; }

  // Runs driver code on the calling thread, which is attached and holds the kernel lock. A
  // bugcheck meanwhile stops the kernel: no driver code starts again, every wait ends, and the
  // handler (the machine's report) runs once, on this thread. False when the kernel has stopped,
  // now or before. The thread's IRQL is restored after a stop.
  bool RunGuarded(FunctionRef<void()> call);
  // The same stop for a bugcheck that came back from cpu::CallGuarded elsewhere (DriverEntry,
  // DriverUnload); a stop's own unwinding (a wait the stop ended) is no new bugcheck.
  void BugChecked(const BugCheck& record);
  using BugCheckHandler = std::function<void(const BugCheck&)>;
  void SetBugCheckHandler(BugCheckHandler handler);
  bool stopped() const;
  // The bugcheck that stopped the kernel, recorded before any wait ends: a call that came back
  // with the stop's own unwinding (its wait ended by the stop) reports this one.
  std::optional<BugCheck> stopRecord() const;
  // Ends the kernel's own threads (each ends at its next wait); call without the kernel lock.
  // Safe to call more than once; the destructor calls it too.
  void StopThreads();

 private:
  void RegisterPageableSections(Module& module);
  void OpenPdb(Module& module);
  struct ModuleSlot {
    std::atomic<std::uint64_t> base{0};
    std::atomic<std::uint64_t> end{0};
    std::atomic<const Module*> module{nullptr};
  };
  static constexpr std::size_t kMaxModules = 256;

  KernelConfig config_;
  std::chrono::steady_clock::time_point boot_;
  mutable std::timed_mutex mutex_;
  DebugSink sink_;
  std::deque<DebugRecord> recent_;
  std::uint64_t sequence_ = 0;
  std::vector<std::unique_ptr<Module>> modules_;
  std::vector<UnloadedModule> unloaded_;
  std::array<ModuleSlot, kMaxModules> slots_;
  PoolTracker pool_;
  mm::PageableMemory pageable_;
  std::unique_ptr<ob::Namespace> objects_;
  std::unique_ptr<ps::Process> system_;
  BugCheckHandler bugCheckHandler_;
  std::unique_ptr<BugCheck> stopRecord_;  // guarded by mutex_
  std::unique_ptr<ke::Processors> processors_;
  std::unique_ptr<ex::WorkQueues> workQueues_;
  std::unique_ptr<ps::SystemThreads> systemThreads_;
  std::unique_ptr<ps::NotifyRoutines> notifyRoutines_;
  std::unique_ptr<ke::Watchdog> watchdog_;
  SharedDataPage sharedData_;
};

}  // namespace ntbox::nt
