// A running machine: its kernel, its registry, its boot configuration, the service control
// manager's view of the drivers, and its debug output. The ntbox server owns one; tests,
// benchmarks and fuzzers can boot one in-process. One machine per process (one kernel).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <condition_variable>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "machine/BootConfig.h"
#include "machine/DebugLog.h"
#include "machine/KernelRegistry.h"
#include "machine/ScmDevice.h"
#include "user/Console.h"
#include "machine/MachineDir.h"
#include "machine/Registry.h"
#include "nt/Kernel.h"
#include "nt/io/Driver.h"
#include "nt/io/IoServices.h"
#include "nt/ke/Dispatcher.h"
#include "support/Result.h"
#include "user/Program.h"

namespace ntbox::machine {

// winnt.h service numbers.
enum ServiceType : std::uint32_t { SERVICE_KERNEL_DRIVER = 1, SERVICE_FILE_SYSTEM_DRIVER = 2 };
enum ServiceStart : std::uint32_t {
  SERVICE_BOOT_START = 0,
  SERVICE_SYSTEM_START = 1,
  SERVICE_AUTO_START = 2,
  SERVICE_DEMAND_START = 3,
  SERVICE_DISABLED = 4,
};
enum class ServiceState : std::uint32_t { kStopped = 1, kStartPending = 2, kStopPending = 3, kRunning = 4 };

inline constexpr char kServicesKey[] = "MACHINE\\SYSTEM\\ControlSet001\\Services";
inline constexpr char kDebugPrintFilterKey[] =
    "MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Debug Print Filter";

struct ServiceConfig {
  std::string name;
  std::uint32_t type = SERVICE_KERNEL_DRIVER;
  std::uint32_t start = SERVICE_DEMAND_START;
  std::uint32_t errorControl = 1;  // SERVICE_ERROR_NORMAL
  std::string imagePath;           // NT path: \??\Z:\home\me\x.sys
  std::string displayName;
  std::string group;
  std::string description;  // ChangeServiceConfig2, sc description; the key's Description value
};

// A handle of the machine's native client process.
enum class Handle : std::uint64_t {};

// What a driver answered to an I/O request.
struct IoResult {
  nt::NTSTATUS status = 0;
  std::uint64_t information = 0;  // IoStatus.Information: bytes transferred
  std::uint32_t win32 = 0;        // what GetLastError would say (0 on success)
};

struct ServiceStatus {
  ServiceConfig config;
  ServiceState state = ServiceState::kStopped;
  std::uint32_t win32ExitCode = 1077;  // ERROR_SERVICE_NEVER_STARTED
  std::uint32_t serviceExitCode = 0;
  bool markedForDelete = false;
};

class Machine : private user::SystemGate {
 public:
  // Boots the machine in root (created when missing): applies the stored boot configuration,
  // reads the Debug Print Filter, deletes services marked for delete, starts boot, system and
  // auto-start drivers.
  // shownRoot: the directory as its user names it, for messages, where root is how this process
  // reaches it (/proc/self/fd/N in a server that gave up root); empty: root itself.
  static Result<std::unique_ptr<Machine>> Boot(const std::filesystem::path& root,
                                               const std::filesystem::path& shownRoot = {});
  // The machine's stored configuration without booting it (no kernel, no driver runs): for the
  // configuration commands on a machine that cannot boot. Starting, stopping and I/O fail.
  static Result<std::unique_ptr<Machine>> OpenOffline(const std::filesystem::path& root);
  bool offline() const { return !kernel_; }
  ~Machine() override;  // shutdown
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const MachineDir& dir() const { return dir_; }
  const BootConfig& activeBootConfig() const { return active_; }
  Result<BootConfig> storedBootConfig() const { return BootConfig::Load(dir_.bootConfig()); }
  Result<void> StoreBootConfig(const BootConfig& config) { return config.Save(dir_.bootConfig()); }
  std::chrono::steady_clock::duration uptime() const { return std::chrono::steady_clock::now() - bootTime_; }

  // The registry; callers that change it hold no machine lock (SQLite serializes).
  Registry& registry() { return *registry_; }
  // A change made through the kernel's registry services (machine/RegistryViaKernel.h), as a running
  // Windows makes reg.exe's: drivers' registry callbacks hear it and may refuse it (the error
  // carries the Win32 code of the NTSTATUS).
  Result<void> ChangeRegistry(FunctionRef<nt::NTSTATUS()> change);
  // Kernel code a command runs (ETW sessions: providers' enable callbacks are driver code), under
  // the kernel lock on an attached thread; a bugcheck in it is the error.
  Result<void> RunInKernel(FunctionRef<void()> call);

  // The service control manager. Errors carry the Win32 code sc.exe prints.
  Result<ServiceStatus> CreateService(ServiceConfig config);
  Result<ServiceStatus> StartService(std::string_view name);
  Result<ServiceStatus> StopService(std::string_view name);
  // ZwLoadDriver/ZwUnloadDriver (the kernel's serviceControl): the same, as an NTSTATUS.
  nt::NTSTATUS ControlServiceForKernel(std::string_view service, bool load);
  Result<ServiceStatus> DeleteService(std::string_view name);
  // sc config: change applies the caller's edits to the stored configuration (ChangeServiceConfig).
  Result<ServiceStatus> ConfigureService(std::string_view name, const std::function<void(ServiceConfig&)>& change);
  Result<ServiceStatus> QueryService(std::string_view name);
  std::vector<ServiceStatus> QueryServices();  // every driver service, by name
  // Drivers running; never waits for driver code.
  std::size_t RunningDrivers() const;
  // Whether driver code keeps the kernel lock longer than wait (spinning at DISPATCH_LEVEL, where
  // it is not preempted).
  bool BusyFor(std::chrono::milliseconds wait);

  // Waits until the kernel has nothing left to do on its own (no DPC, timer, work item or system
  // thread activity: Kernel::PendingActivity) or has stopped. false when timeout passed first; then
  // pending says what was still going on.
  bool WaitIdle(std::chrono::milliseconds timeout, std::string* pending = nullptr);

  // Loaded modules as the debugger lists them.
  struct ModuleRange {
    std::uint64_t start = 0, end = 0;
    std::string name;  // "FirstDriverSample", "nt"
    std::string path;
  };
  std::vector<ModuleRange> LoadedModules();
  std::vector<nt::Kernel::UnloadedModule> UnloadedModules();

  // Driver Verifier as the machine runs it (verifier /query): the settings it booted with, pool
  // requests since boot and what each verified driver holds now.
  struct VerifiedDriver {
    std::string fileName;
    std::size_t pagedAllocations = 0, nonPagedAllocations = 0;
    std::uint64_t pagedBytes = 0, nonPagedBytes = 0;
  };
  struct VerifierStatus {
    nt::vf::VerifierConfig config;
    nt::PoolStatistics pool;
    std::vector<VerifiedDriver> drivers;
  };
  VerifierStatus QueryVerifier();

  // Debug output as it is logged; the listener runs on the printing thread.
  using DebugListener = std::function<void(const LoggedRecord&)>;
  int AddDebugListener(DebugListener listener);
  void RemoveDebugListener(int id);

  // The native client: a process of the machine for in-process callers (tests, fuzzers, ntbox
  // ioctl). Its buffers are real user memory (below MmUserProbeAddress), so drivers see requests
  // exactly as from an app. Errors are for the request itself (a bad name, a bugcheck: the
  // message is then the report); the driver's own answer is in IoResult.
  // name: \\.\X, \??\X, \DosDevices\X or \Device\X.
  Result<Handle> OpenDevice(std::string_view name, std::uint32_t access = 0xC0000000 /* GENERIC_READ|WRITE */);
  Result<void> CloseHandle(Handle handle);
  // Raw: the buffers are passed as they are (user memory from AllocateUserBuffer, or anything at
  // all for a fuzzer: the I/O manager probes as Windows does).
  Result<IoResult> DeviceIoControl(Handle handle, std::uint32_t code, void* input, std::uint32_t inputLength,
                                   void* output, std::uint32_t outputLength);
  // Copies input into user memory and the driver's output (Information bytes) back into output.
  Result<IoResult> DeviceIoControl(Handle handle, std::uint32_t code, std::span<const std::uint8_t> input,
                                   std::vector<std::uint8_t>& output, std::uint32_t outputSize);
  Result<IoResult> ReadFile(Handle handle, void* buffer, std::uint32_t length);
  Result<IoResult> WriteFile(Handle handle, const void* buffer, std::uint32_t length);
  // User memory of the native client, zeroed; freed with the machine.
  std::span<std::uint8_t> AllocateUserBuffer(std::size_t size);

  // Win32 programs (ntbox run): loads the program as a new process of the machine, refusing it
  // (with every missing DLL!function) before any of its code runs. Run it with Program::Run on
  // any thread and end it early with Program::Terminate; the machine must outlive it. Its
  // calls into drivers are guarded as the native client's are.
  Result<std::unique_ptr<user::Program>> LoadProgram(const user::ProgramOptions& options);
  // C:\... for a Linux path: Z: is the Linux root, as the machine's ImagePath uses.
  static std::string Win32PathOf(const std::filesystem::path& path);

  // Set once a driver has bugchecked the machine: the report, also written under crashes/.
  // A crashed machine runs no more driver code; it must be shut down and booted again.
  std::optional<std::string> crashReport() const;
  std::optional<std::filesystem::path> crashFile() const;  // nullopt when it could not be saved
  // "saved to <file>", or why it was not.
  std::string CrashReportWhere() const;
  // Called once the report is written, on the thread that bugchecked (which may be a DPC, a worker
  // or a system thread: nobody's request). The server uses it to go.
  void SetCrashListener(std::function<void()> listener);

  // binPath as sc create takes it (a Linux path, relative to cwd, or C:\..., \??\..., \SystemRoot\...)
  // → the NT path stored in ImagePath.
  static std::string ToImagePath(std::string_view binPath, const std::filesystem::path& cwd);
  // ImagePath → the host file: Z: is the Linux root, C: the machine's drive.
  Result<std::filesystem::path> HostPath(std::string_view imagePath) const;

  // What the boot had to say (safe mode, drivers automatic recovery skipped), for the command that
  // booted the machine.
  const std::vector<std::string>& bootNotices() const { return bootNotices_; }

 private:
  struct Runtime {
    ServiceState state = ServiceState::kStopped;
    std::uint32_t win32ExitCode = 1077;
    std::unique_ptr<nt::Driver> driver;
  };

  Machine(MachineDir dir, std::unique_ptr<Registry> registry, BootConfig active);
  std::optional<ServiceConfig> ReadConfig(std::string_view name);
  // Automatic recovery stops skipping a service its owner reconfigured or deleted.
  void ForgetBootFailure(std::string_view service);
  Result<void> WriteConfig(const ServiceConfig& config);
  ServiceStatus StatusOf(const ServiceConfig& config);
  Result<ServiceStatus> StartLocked(const ServiceConfig& config);
  // The kernel's bugcheck handler: writes the report, then tells the listener.
  Result<void> BugChecked(const nt::BugCheck& record);
  std::string StopReport() const;
  bool MarkedForDelete(std::string_view name);
  void Notice(std::string text);
  Result<nt::ps::Process*> Client();
  // Runs a system service for the client process under the machine lock, guarded: a bugcheck
  // stops the machine. call(nt::ps::Process&) returns an nt::io::IoStatus.
  template <class F>
  Result<IoResult> ClientCall(F&& call);
  // Runs driver-reaching code guarded, with the lock held and the thread attached; false when
  // the machine has stopped (now or before).
  bool Guarded(FunctionRef<void()> call);
  bool Call(nt::ps::Process& process, FunctionRef<void()> call) override;
  void StartProgram(std::unique_ptr<user::Program> program) override;
  void Abandon(std::unique_ptr<nt::ps::Process> process) override;
  // Ends every program a program started and returns once each has (shutdown).
  void EndStartedPrograms();
  std::mutex startedMutex_;
  std::condition_variable startedGone_;
  std::set<user::Program*> started_;
  std::size_t startedRunning_ = 0;  // their threads, until each has let go of its program

  MachineDir dir_;
  std::unique_ptr<Registry> registry_;
  // The registry as the kernel's configuration manager serves it (outlives the kernel).
  std::unique_ptr<KernelRegistry> kernelRegistry_;
  BootConfig active_;
  std::chrono::steady_clock::time_point bootTime_;
  std::unique_ptr<DebugLog> log_;
  // A debug record into the log and to dbgview's followers; a marker one (a boot, a stop).
  void Publish(const nt::DebugRecord& record);
  void Mark(std::string text);
  std::unique_ptr<nt::Kernel> kernel_;
  // \Device\ServiceControlManager: the service API of programs.
  std::unique_ptr<ScmDevice> scm_;
  std::unique_ptr<user::ConsoleDriver> console_;

  // The kernel lock (nt/ke/Dispatcher.h): the SCM and every call into driver code.
  nt::ke::KernelLock& mutex_;
  std::map<std::string, Runtime> runtime_;  // by lower-case service name
  // Service states are read by queries that never wait for driver code: states, exit codes and
  // the map's shape change under this too (drivers only under the kernel lock).
  mutable std::mutex stateMutex_;
  Runtime& RuntimeOf(std::string_view name);
  void SetState(Runtime& rt, ServiceState state, std::optional<std::uint32_t> win32ExitCode = std::nullopt);
  std::unique_ptr<nt::ps::Process> client_;
  mutable std::mutex crashMutex_;  // the report is read by any thread, written by the one that stopped
  std::optional<std::string> crashReport_;
  std::optional<std::filesystem::path> crashFile_;
  std::string crashSaveError_;
  std::vector<std::string> bootNotices_;
  mutable std::condition_variable crashWritten_;
  std::function<void()> crashListener_;
  // Processes left with handles when the machine stopped (Abandon): never destroyed (closing their
  // handles would run driver code); their address spaces go at shutdown.
  std::mutex abandonedMutex_;
  std::vector<nt::ps::Process*> abandoned_;

  std::mutex listenersMutex_;
  std::map<int, DebugListener> listeners_;
  int nextListener_ = 1;
};

}  // namespace ntbox::machine
