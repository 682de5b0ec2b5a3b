// A running machine: its kernel, its registry, its boot configuration, the service control
// manager's view of the drivers, and its debug output. The ntbox server owns one; tests,
// benchmarks and fuzzers can boot one in-process. One machine per process (one kernel).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "machine/BootConfig.h"
#include "machine/DebugLog.h"
#include "machine/MachineDir.h"
#include "machine/Registry.h"
#include "nt/Kernel.h"
#include "nt/io/Driver.h"
#include "support/Result.h"

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
};

struct ServiceStatus {
  ServiceConfig config;
  ServiceState state = ServiceState::kStopped;
  std::uint32_t win32ExitCode = 1077;  // ERROR_SERVICE_NEVER_STARTED
  std::uint32_t serviceExitCode = 0;
  bool markedForDelete = false;
};

class Machine {
 public:
  // Boots the machine in root (created when missing): applies the stored boot configuration,
  // reads the Debug Print Filter, deletes services marked for delete, starts boot, system and
  // auto-start drivers.
  static Result<std::unique_ptr<Machine>> Boot(const std::filesystem::path& root);
  ~Machine();  // shutdown
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const MachineDir& dir() const { return dir_; }
  const BootConfig& activeBootConfig() const { return active_; }
  Result<BootConfig> storedBootConfig() const { return BootConfig::Load(dir_.bootConfig()); }
  Result<void> StoreBootConfig(const BootConfig& config) { return config.Save(dir_.bootConfig()); }
  std::chrono::steady_clock::duration uptime() const { return std::chrono::steady_clock::now() - bootTime_; }

  // The registry; callers that change it hold no machine lock (SQLite serializes).
  Registry& registry() { return *registry_; }

  // The service control manager. Errors carry the Win32 code sc.exe prints.
  Result<ServiceStatus> CreateService(ServiceConfig config);
  Result<ServiceStatus> StartService(std::string_view name);
  Result<ServiceStatus> StopService(std::string_view name);
  Result<ServiceStatus> DeleteService(std::string_view name);
  Result<ServiceStatus> QueryService(std::string_view name);
  std::vector<ServiceStatus> QueryServices();  // every driver service, by name
  std::size_t RunningDrivers();

  // Loaded modules as the debugger lists them.
  struct ModuleRange {
    std::uint64_t start = 0, end = 0;
    std::string name;  // "FirstDriverSample", "nt"
    std::string path;
  };
  std::vector<ModuleRange> LoadedModules();
  std::vector<nt::Kernel::UnloadedModule> UnloadedModules();

  // Debug output as it is logged; the listener runs on the printing thread.
  using DebugListener = std::function<void(const LoggedRecord&)>;
  int AddDebugListener(DebugListener listener);
  void RemoveDebugListener(int id);

  // Set once a driver has bugchecked the machine: the report, also written under crashes/.
  // A crashed machine runs no more driver code; it must be shut down and booted again.
  std::optional<std::string> crashReport() const;
  std::optional<std::filesystem::path> crashFile() const;

  // binPath as sc create takes it (a Linux path, relative to cwd, or C:\..., \??\..., \SystemRoot\...)
  // → the NT path stored in ImagePath.
  static std::string ToImagePath(std::string_view binPath, const std::filesystem::path& cwd);
  // ImagePath → the host file: Z: is the Linux root, C: the machine's drive.
  Result<std::filesystem::path> HostPath(std::string_view imagePath) const;

 private:
  struct Runtime {
    ServiceState state = ServiceState::kStopped;
    std::uint32_t win32ExitCode = 1077;
    std::unique_ptr<nt::Driver> driver;
  };

  Machine(MachineDir dir, std::unique_ptr<Registry> registry, BootConfig active);
  std::optional<ServiceConfig> ReadConfig(std::string_view name);
  ServiceStatus StatusOf(const ServiceConfig& config);
  Result<ServiceStatus> StartLocked(const ServiceConfig& config);
  Result<void> BugChecked(const nt::BugCheck& record);
  bool MarkedForDelete(std::string_view name);
  void Notice(std::string text);

  MachineDir dir_;
  std::unique_ptr<Registry> registry_;
  BootConfig active_;
  std::chrono::steady_clock::time_point bootTime_;
  std::unique_ptr<DebugLog> log_;
  std::unique_ptr<nt::Kernel> kernel_;

  std::recursive_mutex mutex_;  // the SCM and every call into driver code
  std::map<std::string, Runtime> runtime_;  // by lower-case service name
  std::optional<std::string> crashReport_;
  std::optional<std::filesystem::path> crashFile_;

  std::mutex listenersMutex_;
  std::map<int, DebugListener> listeners_;
  int nextListener_ = 1;
};

}  // namespace ntbox::machine
