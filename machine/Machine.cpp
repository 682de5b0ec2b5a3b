#include "machine/Machine.h"

#include <dlfcn.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cpu/Trap.h"
#include "debug/Symbols.h"
#include "machine/CrashReports.h"
#include "machine/Signing.h"
#include "support/HostFiles.h"
#include "nt/support/Symbolize.h"
#include "nt/support/SymbolHelper.h"
#include "nt/se/SeExports.h"
#include "nt/support/HostSymbols.h"
#include "machine/VerifierSettings.h"
#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/BugCheckReport.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Win32Error.h"
#include "pe/PeImage.h"
#include "user/wine/Install.h"
#include "support/Text.h"

namespace ntbox::machine {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t ERROR_FILE_NOT_FOUND = 2;
constexpr std::uint32_t ERROR_PATH_NOT_FOUND = 3;
constexpr std::uint32_t ERROR_INVALID_PARAMETER = 87;
constexpr std::uint32_t ERROR_BAD_EXE_FORMAT = 193;
constexpr std::uint32_t ERROR_INVALID_SERVICE_CONTROL = 1052;
constexpr std::uint32_t ERROR_SERVICE_CANNOT_ACCEPT_CTRL = 1061;
constexpr std::uint32_t ERROR_SERVICE_ALREADY_RUNNING = 1056;
constexpr std::uint32_t ERROR_SERVICE_DISABLED = 1058;
constexpr std::uint32_t ERROR_SERVICE_DOES_NOT_EXIST = 1060;
constexpr std::uint32_t ERROR_SERVICE_NOT_ACTIVE = 1062;
constexpr std::uint32_t ERROR_SERVICE_MARKED_FOR_DELETE = 1072;
constexpr std::uint32_t ERROR_SERVICE_EXISTS = 1073;
constexpr std::uint32_t ERROR_SERVICE_NEVER_STARTED = 1077;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

std::string ServiceKey(std::string_view name) { return std::string(kServicesKey) + "\\" + std::string(name); }

Error Win32Failure(std::uint32_t code, std::string detail = {}) {
  Error e;
  e.win32 = code;
  e.message = detail.empty() ? std::string(nt::Win32ErrorMessage(code)) : std::move(detail);
  return e;
}

// Attaches the calling host thread to the kernel for driver code. The attachment (KPCR, KTHREAD,
// signal stack) stays for the thread's life: making one per call would cost more than the call.
class Attached {
 public:
  Attached() {
    thread_local std::optional<nt::ke::ThreadAttachment> attachment;
    if (!nt::ke::CurrentThread()) attachment.emplace();
  }
};

// A report's program frames: the process's images from its PEB (named as the debugger names them,
// DLLs by their exports), a program's own function and line from its DWARF (ntbox-lines).
std::optional<nt::ProgramSymbol> NameProgramFrame(std::uint64_t address, std::uint64_t peb) {
  debug::Symbols symbols;
  symbols.SetProcess(peb);
  symbols.Refresh();
  const debug::ModuleSymbols* m = symbols.ModuleAt(address);
  if (!m || !m->user) return std::nullopt;
  if (m->hasFile) {
    // The call's line: the byte before the return address.
    const std::uint64_t at = m->preferredBase + (address - m->base);
    std::istringstream line(nt::LookUpLines(m->path, {at - 1}));
    std::string fields[5];
    for (auto& f : fields) std::getline(line, f, '\t');
    while (!fields[4].empty() && fields[4].back() == '\n') fields[4].pop_back();
    const std::uint64_t start = std::strtoull(fields[2].c_str(), nullptr, 16);
    if (std::strtoul(fields[1].c_str(), nullptr, 10) != 0 && !fields[3].empty() && start && start <= at) {
      return nt::ProgramSymbol{nt::SymbolText(m->name, fields[3], at - start),
                               nt::SourceLine{fields[3], 0, fields[4], static_cast<std::uint32_t>(std::stoul(fields[1]))}};
    }
  }
  return nt::ProgramSymbol{symbols.NameOf(address), std::nullopt};
}

}  // namespace

Result<std::unique_ptr<Machine>> Machine::OpenOffline(const fs::path& root) {
  auto dir = MachineDir::Open(root);
  if (!dir) return std::unexpected(dir.error());
  auto registry = Registry::Open(dir->registry().string());
  if (!registry) return std::unexpected(registry.error());
  auto config = BootConfig::Load(dir->bootConfig());
  if (!config) return std::unexpected(config.error());
  return std::unique_ptr<Machine>(new Machine(std::move(*dir), std::move(*registry), *config));
}

Result<std::unique_ptr<Machine>> Machine::Boot(const fs::path& root, const fs::path& shownRoot) {
  auto dir = MachineDir::Open(root);
  if (!dir) return std::unexpected(dir.error());
  dir->SetShownRoot(shownRoot);
  dir->ReserveCrashSpace();
  auto registry = Registry::Open(dir->registry().string());
  if (!registry) return std::unexpected(registry.error());
  auto config = BootConfig::Load(dir->bootConfig());
  if (!config) return std::unexpected(config.error());
  if (nt::Kernel::CurrentOrNull()) return Fail("a machine is already running in this process");

  std::unique_ptr<Machine> machine(new Machine(std::move(*dir), std::move(*registry), *config));
  nt::SetProgramFrameNamer(&NameProgramFrame);
  Registry& reg = *machine->registry_;
  // The keys every machine has; HKEY_USERS holds the default profile and the one user's (whose
  // SID the kernel's tokens carry).
  const std::string userKey = std::string(nt::se::kUserKey) + "\\Software";
  for (const char* key : {kServicesKey, "MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager",
                          "MACHINE\\HARDWARE\\DESCRIPTION\\System", "MACHINE\\SOFTWARE", "USER\\.DEFAULT",
                          userKey.c_str()}) {
    if (auto r = reg.CreateKey(key); !r) return std::unexpected(r.error());
  }
  // Services deleted while they could not be stopped go away at the next boot.
  for (const auto& name : reg.Subkeys(kServicesKey)) {
    const auto flag = reg.GetValue(ServiceKey(name), "DeleteFlag");
    if (flag && flag->AsDword().value_or(0) != 0) (void)reg.DeleteKey(ServiceKey(name));
  }

  if (auto r = SeedVerifierSettings(reg); !r) return std::unexpected(r.error());
  nt::KernelConfig kernelConfig;
  kernelConfig.verifier = ReadVerifierSettings(reg);
  kernelConfig.debuggerEnabled = config->debug;
  kernelConfig.rewrite = config->rewrite;
  kernelConfig.safeBootMode = config->safeboot == "minimal" ? 1 : config->safeboot == "network" ? 2 : 0;
  kernelConfig.processors = config->processors();
  kernelConfig.systemDrive = machine->dir_.drive('C').string();
  machine->kernelRegistry_ = std::make_unique<KernelRegistry>(reg);
  kernelConfig.registry = machine->kernelRegistry_.get();
  kernelConfig.serviceControl = [m = machine.get()](std::string_view service, bool load) {
    return m->ControlServiceForKernel(service, load);
  };
  if (auto wine = user::wine::InstallDirectory()) {
    if (auto own = user::wine::OwnDllDirectory()) kernelConfig.systemDlls.push_back(own->string());
    kernelConfig.systemDlls.push_back((*wine / "x86_64-windows").string());
    kernelConfig.nlsDirectory = (*wine / "nls").string();
  }
  // The DPC watchdog's limits in milliseconds, where Windows keeps them.
  constexpr const char* kKernelKey = "MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Kernel";
  if (const auto v = reg.GetValue(kKernelKey, "DpcTimeout"); v && v->AsDword() && *v->AsDword()) {
    kernelConfig.watchdog.dpcTimeout = std::chrono::milliseconds(*v->AsDword());
  }
  if (const auto v = reg.GetValue(kKernelKey, "DpcWatchdogPeriod"); v && v->AsDword() && *v->AsDword()) {
    kernelConfig.watchdog.dpcWatchdogPeriod = std::chrono::milliseconds(*v->AsDword());
  }
  for (const auto& value : reg.Values(kDebugPrintFilterKey)) {
    const auto mask = value.AsDword();
    if (!mask) continue;
    if (AsciiLower(value.name) == "win2000") {
      kernelConfig.debugFilter.SetMask(nt::DebugFilter::kWin2000, *mask);
    } else if (const auto id = nt::DebugComponentId(value.name)) {
      kernelConfig.debugFilter.SetMask(*id, *mask);
    }
  }
  machine->log_ = std::make_unique<DebugLog>(machine->dir_.debugLog());
  try {
    machine->kernel_ = std::make_unique<nt::Kernel>(kernelConfig);
  } catch (const std::exception& e) {
    return Fail(std::string("cannot boot: ") + e.what());
  }
  Machine* m = machine.get();
  machine->kernel_->SetDebugSink([m](const nt::DebugRecord& record) { m->Publish(record); });
  machine->kernel_->SetBugCheckHandler([m](const nt::BugCheck& record) { (void)m->BugChecked(record); });
  {
    // dbgview's time column starts again at each boot: the log says where.
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    m->Mark(fmt::format("the machine booted at {}", stamp));
  }
  machine->scm_ = std::make_unique<ScmDevice>(*m, *machine->kernel_);
  machine->console_ = std::make_unique<user::ConsoleDriver>(*machine->kernel_);

  // Automatic recovery: a driver the last boot was starting when it never completed (a bugcheck, a
  // hang, a crash) is skipped from now on, and said so, until its service is changed or deleted.
  const fs::path stateFile = machine->dir_.bootState();
  BootState state = BootState::Load(stateFile);
  if (!state.starting.empty()) {
    if (!state.Skips(state.starting)) state.skipped.push_back(state.starting);
    state.starting.clear();
  }
  auto notice = [m](std::string text) {
    m->bootNotices_.push_back(text);
    m->Notice(text + "\n");
  };
  // The last run ended in a bugcheck: said once, by the command that boots the machine again.
  if (const auto unseen = ReadCrash(machine->dir_.crashes() / kUnseenCrashMarker)) {
    std::error_code ec;
    fs::remove(machine->dir_.crashes() / kUnseenCrashMarker, ec);
    std::string summary = *unseen;
    while (!summary.empty() && summary.back() == '\n') summary.pop_back();
    notice(fmt::format("the machine restarted after {} (ntbox crash shows the report)", summary));
  }
  if (!config->safeboot.empty()) {
    notice(fmt::format("safe mode (bcdedit safeboot {}): boot-, system- and auto-start drivers are not started; "
                       "bcdedit /deletevalue safeboot, then ntbox reboot, boots normally",
                       config->safeboot));
  }
  // Boot-, system- then auto-start drivers, as the boot loader, the I/O manager and the SCM would.
  for (const std::uint32_t start : {SERVICE_BOOT_START, SERVICE_SYSTEM_START, SERVICE_AUTO_START}) {
    if (!config->safeboot.empty()) break;
    for (const auto& status : machine->QueryServices()) {
      if (status.config.start != start) continue;
      if (state.Skips(status.config.name)) {
        notice(fmt::format("automatic recovery: the {} driver is not started at boot, since a boot that started it "
                           "never completed; sc config {} start= demand (or sc delete {}) ends this",
                           status.config.name, status.config.name, status.config.name));
        continue;
      }
      state.starting = status.config.name;
      (void)state.Save(stateFile);
      std::lock_guard lock(machine->mutex_);
      if (auto r = machine->StartLocked(status.config); !r) {
        if (machine->crashReport()) {
          return Fail("the machine bugchecked while starting " + status.config.name + " at boot; report " +
                      machine->CrashReportWhere() + "; the next boot skips it (automatic recovery)");
        }
        machine->Notice(fmt::format("the {} service failed to start at boot: error {}: {}\n", status.config.name,
                                    r.error().win32, r.error().message));
      }
    }
  }
  state.starting.clear();
  (void)state.Save(stateFile);
  return machine;
}

Machine::Machine(MachineDir dir, std::unique_ptr<Registry> registry, BootConfig active)
    : dir_(std::move(dir)),
      registry_(std::move(registry)),
      active_(active),
      bootTime_(std::chrono::steady_clock::now()),
      mutex_(nt::ke::TheKernelLock()) {}

Machine::~Machine() {
  if (offline()) return;
  EndStartedPrograms();
  Attached attached;
  {
    std::lock_guard lock(mutex_);
    if (client_ && !kernel_->stopped()) {
      // The client's handles close as a process's do when it ends: drivers see cleanup and close.
      nt::ps::Process* client = client_.get();
      if (!kernel_->RunGuarded([client] { client->CloseAllHandles(); })) Abandon(std::move(client_));
    } else if (client_) {
      Abandon(std::move(client_));  // after a crash no driver code runs again
    }
    client_.reset();
  }
  // No DPC, work item or system thread runs once the images go.
  kernel_->StopThreads();
  {
    std::lock_guard lock(abandonedMutex_);
    for (nt::ps::Process* p : abandoned_) p->DropSpace();
  }
  std::lock_guard lock(mutex_);
  // Windows does not unload drivers at shutdown; their images simply go away.
  std::lock_guard state(stateMutex_);
  runtime_.clear();
  scm_.reset();
  console_.reset();
  kernel_.reset();
}

void Machine::Notice(std::string text) {
  if (!offline()) kernel_->DebugOutput(nt::kNtboxComponent, 0, std::move(text));
}

std::string Machine::ToImagePath(std::string_view binPath, const fs::path& cwd) {
  std::string path(binPath);
  if (path.size() >= 2 && path.front() == '"' && path.back() == '"') path = path.substr(1, path.size() - 2);
  if (StartsWithNoCase(path, "\\??\\") || StartsWithNoCase(path, "\\SystemRoot\\") ||
      StartsWithNoCase(path, "System32\\")) {
    return path;
  }
  if (path.size() >= 3 && std::isalpha(static_cast<unsigned char>(path[0])) && path[1] == ':' &&
      (path[2] == '\\' || path[2] == '/')) {
    std::string out = "\\??\\";
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(path[0])));
    out += path.substr(1);
    std::replace(out.begin(), out.end(), '/', '\\');
    return out;
  }
  // A Linux path: the Z: drive is the host's root, as Wine maps it.
  const fs::path absolute = fs::absolute(cwd / path).lexically_normal();
  std::string out = "\\??\\Z:" + absolute.string();
  std::replace(out.begin(), out.end(), '/', '\\');
  return out;
}

Result<fs::path> Machine::HostPath(std::string_view imagePath) const {
  std::string path(imagePath);
  std::replace(path.begin(), path.end(), '\\', '/');
  if (StartsWithNoCase(path, "/SystemRoot/")) return dir_.drive('C') / "Windows" / path.substr(12);
  if (StartsWithNoCase(path, "System32/")) return dir_.drive('C') / "Windows" / path;
  if (StartsWithNoCase(path, "/?" "?/")) path = path.substr(4);
  if (path.size() >= 2 && path[1] == ':') {
    const char drive = static_cast<char>(std::toupper(static_cast<unsigned char>(path[0])));
    const std::string rest = path.size() > 2 ? path.substr(path[2] == '/' ? 3 : 2) : std::string();
    if (drive == 'Z') return fs::path("/") / rest;
    if (drive == 'C') return dir_.drive('C') / rest;
    return std::unexpected(Win32Failure(
        ERROR_PATH_NOT_FOUND, fmt::format("the machine has no {}: drive (C: is the machine's drive, Z: the "
                                          "Linux root)",
                                          drive)));
  }
  return std::unexpected(Win32Failure(ERROR_PATH_NOT_FOUND, "ImagePath '" + std::string(imagePath) +
                                                                "' is not a path ntbox can resolve"));
}

std::optional<ServiceConfig> Machine::ReadConfig(std::string_view name) {
  const std::string key = ServiceKey(name);
  const auto canonical = registry_->CanonicalPath(key);
  if (!canonical) return std::nullopt;
  ServiceConfig c;
  c.name = canonical->substr(canonical->rfind('\\') + 1);
  for (const RegValue& v : registry_->Values(*canonical)) {
    const std::string field = AsciiLower(v.name);
    if (field == "type") {
      c.type = v.AsDword().value_or(0);
    } else if (field == "start") {
      c.start = v.AsDword().value_or(SERVICE_DEMAND_START);
    } else if (field == "errorcontrol") {
      c.errorControl = v.AsDword().value_or(1);
    } else if (field == "imagepath") {
      c.imagePath = v.AsString().value_or("");
    } else if (field == "displayname") {
      c.displayName = v.AsString().value_or("");
    } else if (field == "group") {
      c.group = v.AsString().value_or("");
    } else if (field == "description") {
      c.description = v.AsString().value_or("");
    }
  }
  return c;
}

bool Machine::MarkedForDelete(std::string_view name) {
  const auto flag = registry_->GetValue(ServiceKey(name), "DeleteFlag");
  return flag && flag->AsDword().value_or(0) != 0;
}

ServiceStatus Machine::StatusOf(const ServiceConfig& config) {
  ServiceStatus s;
  s.config = config;
  {
    std::lock_guard lock(stateMutex_);
    if (const auto it = runtime_.find(AsciiLower(config.name)); it != runtime_.end()) {
      s.state = it->second.state;
      s.win32ExitCode = it->second.win32ExitCode;
    }
  }
  s.markedForDelete = MarkedForDelete(config.name);
  return s;
}

Result<ServiceStatus> Machine::CreateService(ServiceConfig config) {
  std::lock_guard lock(mutex_);
  if (config.name.empty() || config.name.find_first_of("\\/") != std::string::npos || config.name.size() > 256) {
    return std::unexpected(Win32Failure(123, "The filename, directory name, or volume label syntax is incorrect."));
  }
  if (config.type != SERVICE_KERNEL_DRIVER && config.type != SERVICE_FILE_SYSTEM_DRIVER) {
    return std::unexpected(Win32Failure(ERROR_INVALID_PARAMETER));
  }
  if (config.start > SERVICE_DISABLED || config.imagePath.empty()) {
    return std::unexpected(Win32Failure(ERROR_INVALID_PARAMETER));
  }
  if (registry_->KeyExists(ServiceKey(config.name))) {
    return std::unexpected(Win32Failure(MarkedForDelete(config.name) ? ERROR_SERVICE_MARKED_FOR_DELETE
                                                                     : ERROR_SERVICE_EXISTS));
  }
  if (config.displayName.empty()) config.displayName = config.name;
  if (auto written = WriteConfig(config); !written) return std::unexpected(written.error());
  {
    std::lock_guard state(stateMutex_);
    runtime_.erase(AsciiLower(config.name));
  }
  return StatusOf(config);
}

// Queries take no kernel lock: they answer while driver code runs (the registry and the state
// table keep their own locks).
Result<ServiceStatus> Machine::QueryService(std::string_view name) {
  const auto config = ReadConfig(name);
  if (!config) return std::unexpected(Win32Failure(ERROR_SERVICE_DOES_NOT_EXIST));
  return StatusOf(*config);
}

std::vector<ServiceStatus> Machine::QueryServices() {
  std::vector<ServiceStatus> out;
  for (const auto& name : registry_->Subkeys(kServicesKey)) {
    const auto config = ReadConfig(name);
    if (config && (config->type == SERVICE_KERNEL_DRIVER || config->type == SERVICE_FILE_SYSTEM_DRIVER)) {
      out.push_back(StatusOf(*config));
    }
  }
  return out;
}

std::size_t Machine::RunningDrivers() const {
  std::lock_guard lock(stateMutex_);
  return static_cast<std::size_t>(std::count_if(runtime_.begin(), runtime_.end(), [](const auto& r) {
    return r.second.state == ServiceState::kRunning;
  }));
}

bool Machine::BusyFor(std::chrono::milliseconds wait) {
  if (!mutex_.TryLockFor(wait)) return true;
  mutex_.unlock();
  return false;
}

Machine::Runtime& Machine::RuntimeOf(std::string_view name) {
  std::lock_guard lock(stateMutex_);
  return runtime_[AsciiLower(name)];  // map nodes stay put: the reference outlives the lock
}

void Machine::SetState(Runtime& rt, ServiceState state, std::optional<std::uint32_t> win32ExitCode) {
  std::lock_guard lock(stateMutex_);
  rt.state = state;
  if (win32ExitCode) rt.win32ExitCode = *win32ExitCode;
}


Result<ServiceStatus> Machine::StartService(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto config = ReadConfig(name);
  if (!config) return std::unexpected(Win32Failure(ERROR_SERVICE_DOES_NOT_EXIST));
  return StartLocked(*config);
}

Result<ServiceStatus> Machine::StartLocked(const ServiceConfig& config) {
  if (offline()) return Fail("the machine is not running (its configuration is open offline)", 0, 1062);
  if (kernel_->stopped()) return Fail("the machine has stopped with a bugcheck; boot it again", 0, 1);
  Runtime& rt = RuntimeOf(config.name);
  // Another command's DriverEntry or DriverUnload may be under way (preempted, so this one runs).
  if (rt.state != ServiceState::kStopped) return std::unexpected(Win32Failure(ERROR_SERVICE_ALREADY_RUNNING));
  if (MarkedForDelete(config.name)) return std::unexpected(Win32Failure(ERROR_SERVICE_MARKED_FOR_DELETE));
  if (config.start == SERVICE_DISABLED) return std::unexpected(Win32Failure(ERROR_SERVICE_DISABLED));
  auto fail = [this, &rt, &config](Error e) -> Result<ServiceStatus> {
    SetState(rt, ServiceState::kStopped, e.win32);
    // sc delete while DriverEntry ran marked it: it goes now that it has stopped.
    if (MarkedForDelete(config.name)) (void)registry_->DeleteKey(ServiceKey(config.name));
    return std::unexpected(std::move(e));
  };
  // Pending before any code of the image runs: a second start finds it so.
  SetState(rt, ServiceState::kStartPending);
  auto path = HostPath(config.imagePath);
  if (!path) return fail(path.error());
  // Read as the caller may (support/HostFiles.h: a descriptor its client handed over, or its client
  // asked), so no look at the path here first: the server may not see it.
  auto image = pe::PeImage::ParseFile(path->string());
  if (!image && image.error().win32 == ERROR_FILE_NOT_FOUND) {
    return fail(Win32Failure(ERROR_FILE_NOT_FOUND, "the image " + config.imagePath + " (" + path->string() +
                                                       ") does not exist"));
  }
  if (!image) return fail(Win32Failure(ERROR_BAD_EXE_FORMAT, image.error().message));
  const SignatureCheck signature = VerifyAuthenticode(*image, dir_.certs() / "trusted");
  if (const std::uint32_t error = SignatureLoadError(signature, active_.testSigning)) {
    std::string why = signature.state == SignatureState::kUnsigned ? "the image is not signed" : signature.detail;
    if (error == 1275) why += "; test signing is off (bcdedit /set testsigning on, then ntbox reboot)";
    return fail(Win32Failure(error, why));
  }
  Attached attached;
  auto driver = nt::Driver::Load(*kernel_, std::move(*image), path->string(), config.name);
  if (!driver) {
    Error e = driver.error();
    if (!e.win32) e.win32 = ERROR_BAD_EXE_FORMAT;
    return fail(std::move(e));
  }
  const auto status = (*driver)->CallEntry();
  if (!status) {
    SetState(rt, ServiceState::kStopped);
    (void)driver->release();  // its memory stays as the crash left it
    kernel_->BugChecked(status.error());
    return std::unexpected(Error{StopReport(), 0, 0});
  }
  if (!nt::NT_SUCCESS(*status)) {
    // A failed DriverEntry is not followed by DriverUnload; the image goes away.
    driver->reset();
    const std::uint32_t win32 = nt::RtlNtStatusToDosError(*status);
    const auto name = nt::NtStatusName(*status);
    Error e = Win32Failure(win32, fmt::format("{} (DriverEntry returned 0x{:08X}{})", nt::Win32ErrorMessage(win32),
                                              static_cast<std::uint32_t>(*status),
                                              name.empty() ? "" : " " + std::string(name)));
    e.ntstatus = *status;
    return fail(std::move(e));
  }
  if (kernel_->stopped()) {
    // DriverEntry returned, but the machine stopped meanwhile (its DPC, timer or thread bugchecked).
    SetState(rt, ServiceState::kStopped);
    (void)driver->release();
    return std::unexpected(Error{StopReport(), 0, 0});
  }
  rt.driver = std::move(*driver);
  SetState(rt, ServiceState::kRunning, 0);
  return StatusOf(config);
}

nt::NTSTATUS Machine::ControlServiceForKernel(std::string_view service, bool load) {
  auto r = load ? StartService(service) : StopService(service);
  if (r) return nt::STATUS_SUCCESS;
  if (r.error().ntstatus) return r.error().ntstatus;  // DriverEntry's own
  switch (r.error().win32) {
    case ERROR_SERVICE_DOES_NOT_EXIST:  // no such key
    case ERROR_SERVICE_NOT_ACTIVE:      // no \Driver\<name> to unload
    case ERROR_FILE_NOT_FOUND:          // no image
      return nt::STATUS_OBJECT_NAME_NOT_FOUND;
    case ERROR_SERVICE_ALREADY_RUNNING:
      return static_cast<nt::NTSTATUS>(0xC000010E);  // STATUS_IMAGE_ALREADY_LOADED
    case ERROR_INVALID_SERVICE_CONTROL:  // no DriverUnload
    case ERROR_SERVICE_CANNOT_ACCEPT_CTRL:
      return nt::STATUS_INVALID_DEVICE_REQUEST;
    case ERROR_BAD_EXE_FORMAT:
      return static_cast<nt::NTSTATUS>(0xC000007B);  // STATUS_INVALID_IMAGE_FORMAT
    case 577:
      return static_cast<nt::NTSTATUS>(0xC0000428);  // STATUS_INVALID_IMAGE_HASH
    case 1275:
      return static_cast<nt::NTSTATUS>(0xC000036C);  // STATUS_DRIVER_BLOCKED
    default:  // a disabled service, a stopped machine: no NTSTATUS says it more closely

      return nt::STATUS_UNSUCCESSFUL;
  }
}

Result<ServiceStatus> Machine::StopService(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto config = ReadConfig(name);
  if (!config) return std::unexpected(Win32Failure(ERROR_SERVICE_DOES_NOT_EXIST));
  if (offline()) return Fail("the machine is not running (its configuration is open offline)", 0, 1062);
  if (kernel_->stopped()) return Fail("the machine has stopped with a bugcheck; boot it again", 0, 1);
  Runtime& rt = RuntimeOf(config->name);
  if (rt.state == ServiceState::kStartPending || rt.state == ServiceState::kStopPending) {
    return std::unexpected(Win32Failure(ERROR_SERVICE_CANNOT_ACCEPT_CTRL));
  }
  if (rt.state != ServiceState::kRunning || !rt.driver) {
    return std::unexpected(Win32Failure(ERROR_SERVICE_NOT_ACTIVE));
  }
  // Without DriverUnload the I/O manager cannot unload the driver: it keeps running.
  if (!rt.driver->HasUnload()) return std::unexpected(Win32Failure(ERROR_INVALID_SERVICE_CONTROL));
  if (const std::size_t open = rt.driver->OpenFiles()) {
    return std::unexpected(Win32Failure(
        ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
        fmt::format("The service cannot accept control messages at this time. ({} handle{} to its devices "
                    "still open)",
                    open, open == 1 ? " is" : "s are")));
  }
  Attached attached;
  SetState(rt, ServiceState::kStopPending);
  if (auto unloaded = rt.driver->CallUnload(); !unloaded) {
    (void)rt.driver.release();
    SetState(rt, ServiceState::kStopped);
    kernel_->BugChecked(unloaded.error());
    return std::unexpected(Error{StopReport(), 0, 0});
  }
  for (const auto& leak : kernel_->PoolLeaksOf(rt.driver->module())) Notice(leak);
  rt.driver.reset();
  SetState(rt, ServiceState::kStopped, 0);
  ServiceStatus status = StatusOf(*config);
  if (status.markedForDelete) (void)registry_->DeleteKey(ServiceKey(config->name));
  return status;
}

Result<nt::ps::Process*> Machine::Client() {
  if (!client_) {
    auto process = nt::ps::Process::Create("ntbox-client");
    if (!process) return std::unexpected(process.error());
    client_ = std::move(*process);
  }
  return client_.get();
}

namespace {

std::u16string NtNameOf(std::string_view name) {
  std::string s(name);
  for (auto& c : s) {
    if (c == '/') c = '\\';
  }
  if (s.starts_with("\\\\.\\") || s.starts_with("\\\\?\\")) s = "\\??\\" + s.substr(4);
  else if (s.size() >= 2 && s[1] == ':') s = "\\??\\" + s;
  return nt::ob::Widen(s);
}

IoResult ToIoResult(const nt::io::IoStatus& s) {
  return IoResult{s.status, s.information, s.status >= 0 && s.status != nt::STATUS_PENDING ? 0u
                                                                                            : nt::RtlNtStatusToDosError(s.status)};
}

}  // namespace

template <class F>
Result<IoResult> Machine::ClientCall(F&& call) {
  std::lock_guard lock(mutex_);
  if (offline()) return Fail("the machine is not running (its configuration is open offline)", 0, 1062);
  if (kernel_->stopped()) return Fail("the machine has stopped with a bugcheck; boot it again", 0, 1);
  auto client = Client();
  if (!client) return std::unexpected(client.error());
  Attached attached;
  nt::io::IoStatus status;
  if (!Guarded([&] { status = call(**client); })) return std::unexpected(Error{StopReport(), 0, 0});
  return ToIoResult(status);
}

Result<void> Machine::RunInKernel(FunctionRef<void()> call) {
  std::lock_guard lock(mutex_);
  if (offline()) return Fail("the machine is not running (its configuration is open offline)", 0, 1062);
  if (kernel_->stopped()) return Fail("the machine has stopped with a bugcheck; boot it again", 0, 1);
  Attached attached;
  if (!Guarded(call)) return std::unexpected(Error{StopReport(), 0, 0});
  return {};
}

bool Machine::WaitIdle(std::chrono::milliseconds timeout, std::string* pending) {
  if (offline()) return true;
  Attached attached;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint32_t seen = 0;
    std::string now;
    {
      std::lock_guard lock(nt::ke::TheKernelLock());
      if (kernel_->stopped()) return true;
      seen = nt::ke::ActivitySequence();
      now = kernel_->PendingActivity();
    }
    if (now.empty()) return true;
    if (pending) *pending = now;
    if (!nt::ke::WaitActivityChange(seen, deadline)) return false;
  }
}

Result<void> Machine::ChangeRegistry(FunctionRef<nt::NTSTATUS()> change) {
  nt::NTSTATUS status = nt::STATUS_SUCCESS;
  if (auto r = RunInKernel([&] { status = change(); }); !r) return r;
  if (nt::NT_SUCCESS(status)) return {};
  const std::uint32_t win32 = nt::RtlNtStatusToDosError(status);
  const auto name = nt::NtStatusName(status);
  return std::unexpected(Win32Failure(win32, fmt::format("{} (0x{:08X}{})", nt::Win32ErrorMessage(win32),
                                                         static_cast<std::uint32_t>(status),
                                                         name.empty() ? "" : " " + std::string(name))));
}

bool Machine::Guarded(FunctionRef<void()> call) {
  const bool ran = kernel_->RunGuarded(call);
  nt::ke::CurrentThread()->SetIrql(nt::PASSIVE_LEVEL);
  return ran;
}

bool Machine::Call(nt::ps::Process&, FunctionRef<void()> call) {
  std::lock_guard lock(mutex_);
  return Guarded(call);
}

void Machine::Abandon(std::unique_ptr<nt::ps::Process> process) {
  std::lock_guard lock(abandonedMutex_);
  abandoned_.push_back(process.release());
}

void Machine::StartProgram(std::unique_ptr<user::Program> program) {
  user::Program* p = program.get();
  {
    std::lock_guard lock(startedMutex_);
    started_.insert(p);
    ++startedRunning_;
  }
  std::thread([this, p, program = std::move(program)]() mutable {
    const user::ProgramExit exit = program->Run();
    // Nobody's ntbox run reports how a started program ended: an unhandled exception is said where
    // the developer looks (DebugView), with the line ntbox run gives.
    if (exit.exit.kind == cpu::UserExitKind::kException) {
      Notice(fmt::format("{}: {}; the program ended with exit code {:#010x}\n", program->options().name,
                         exit.description, exit.exitCode));
    }
    {
      std::lock_guard lock(startedMutex_);
      started_.erase(p);
    }
    program.reset();  // outside the kernel lock: its handles are closed, its console may go
    std::lock_guard lock(startedMutex_);
    --startedRunning_;
    startedGone_.notify_all();
  }).detach();
}

void Machine::EndStartedPrograms() {
  std::unique_lock lock(startedMutex_);
  while (startedRunning_ > 0) {
    for (user::Program* p : started_) p->Terminate(static_cast<std::uint32_t>(nt::STATUS_CONTROL_C_EXIT));
    startedGone_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

Result<std::unique_ptr<user::Program>> Machine::LoadProgram(const user::ProgramOptions& options) {
  std::lock_guard lock(mutex_);
  if (offline()) return Fail("the machine is not running (its configuration is open offline)", 0, 1062);
  if (kernel_->stopped()) return Fail("the machine has stopped with a bugcheck; boot it again", 0, 1);
  return user::Program::Load(options, *this);
}

std::string Machine::Win32PathOf(const fs::path& path) { return nt::Win32PathOfHost(path); }

Result<Handle> Machine::OpenDevice(std::string_view name, std::uint32_t access) {
  const std::u16string ntName = NtNameOf(name);
  std::uint64_t handle = 0;
  auto r = ClientCall([&](nt::ps::Process& client) -> nt::io::IoStatus {
    auto opened = nt::io::OpenFile(client, ntName, access);
    if (!opened) return {opened.error(), 0};
    handle = *opened;
    return {nt::STATUS_SUCCESS, 0};
  });
  if (!r) return std::unexpected(r.error());
  if (r->status < 0) {
    return Fail(fmt::format("cannot open {}: {} (NTSTATUS 0x{:08X})", name, nt::Win32ErrorMessage(r->win32),
                            static_cast<std::uint32_t>(r->status)),
                r->status, r->win32);
  }
  return static_cast<Handle>(handle);
}

Result<void> Machine::CloseHandle(Handle handle) {
  auto r = ClientCall([&](nt::ps::Process& client) -> nt::io::IoStatus {
    return {nt::io::Close(client, static_cast<std::uint64_t>(handle)), 0};
  });
  if (!r) return std::unexpected(r.error());
  if (r->status < 0) return Fail("the handle is invalid", r->status, r->win32);
  return {};
}

Result<IoResult> Machine::DeviceIoControl(Handle handle, std::uint32_t code, void* input, std::uint32_t inputLength,
                                          void* output, std::uint32_t outputLength) {
  return ClientCall([&](nt::ps::Process& client) {
    return nt::io::DeviceIoControl(client, static_cast<std::uint64_t>(handle), code, input, inputLength, output,
                                   outputLength);
  });
}

Result<IoResult> Machine::DeviceIoControl(Handle handle, std::uint32_t code, std::span<const std::uint8_t> input,
                                          std::vector<std::uint8_t>& output, std::uint32_t outputSize) {
  std::span<std::uint8_t> in = input.empty() ? std::span<std::uint8_t>{} : AllocateUserBuffer(input.size());
  std::span<std::uint8_t> out = outputSize ? AllocateUserBuffer(outputSize) : std::span<std::uint8_t>{};
  if ((!input.empty() && in.empty()) || (outputSize && out.empty())) return Fail("out of user memory", 0, 8);
  std::copy(input.begin(), input.end(), in.begin());
  auto r = DeviceIoControl(handle, code, in.empty() ? nullptr : in.data(), static_cast<std::uint32_t>(input.size()),
                           out.empty() ? nullptr : out.data(), outputSize);
  if (r) output.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(r->information, outputSize)));
  std::lock_guard lock(mutex_);
  if (client_ && client_->space()) {
    if (!in.empty()) client_->space()->Free(in.data());
    if (!out.empty()) client_->space()->Free(out.data());
  }
  return r;
}

Result<IoResult> Machine::ReadFile(Handle handle, void* buffer, std::uint32_t length) {
  return ClientCall([&](nt::ps::Process& client) {
    return nt::io::ReadFile(client, static_cast<std::uint64_t>(handle), buffer, length);
  });
}

Result<IoResult> Machine::WriteFile(Handle handle, const void* buffer, std::uint32_t length) {
  return ClientCall([&](nt::ps::Process& client) {
    return nt::io::WriteFile(client, static_cast<std::uint64_t>(handle), buffer, length);
  });
}

std::span<std::uint8_t> Machine::AllocateUserBuffer(std::size_t size) {
  std::lock_guard lock(mutex_);
  auto client = Client();
  if (!client || !(*client)->space()) return {};
  void* p = (*client)->space()->Allocate(size);
  return p ? std::span<std::uint8_t>(static_cast<std::uint8_t*>(p), size) : std::span<std::uint8_t>{};
}

// A service's key as sc create and sc config leave it: one transaction.
Result<void> Machine::WriteConfig(const ServiceConfig& config) {
  const std::string key = ServiceKey(config.name);
  return registry_->Atomically([&]() -> Result<void> {
    for (const RegValue& v : {RegValue::Dword("Type", config.type), RegValue::Dword("Start", config.start),
                              RegValue::Dword("ErrorControl", config.errorControl),
                              RegValue::String("ImagePath", config.imagePath, REG_EXPAND_SZ),
                              RegValue::String("DisplayName", config.displayName)}) {
      if (auto r = registry_->SetValue(key, v); !r) return r;
    }
    // An empty description is none (as ChangeServiceConfig2 with "" deletes it).
    if (!config.description.empty()) {
      if (auto r = registry_->SetValue(key, RegValue::String("Description", config.description)); !r) return r;
    } else if (registry_->GetValue(key, "Description")) {
      if (auto r = registry_->DeleteValue(key, "Description"); !r) return r;
    }
    if (config.group.empty()) return {};
    return registry_->SetValue(key, RegValue::String("Group", config.group));
  });
}

Result<ServiceStatus> Machine::ConfigureService(std::string_view name,
                                               const std::function<void(ServiceConfig&)>& change) {
  std::lock_guard lock(mutex_);
  auto config = ReadConfig(name);
  if (!config) return std::unexpected(Win32Failure(ERROR_SERVICE_DOES_NOT_EXIST));
  if (MarkedForDelete(config->name)) return std::unexpected(Win32Failure(ERROR_SERVICE_MARKED_FOR_DELETE));
  change(*config);
  if ((config->type != SERVICE_KERNEL_DRIVER && config->type != SERVICE_FILE_SYSTEM_DRIVER) ||
      config->start > SERVICE_DISABLED || config->imagePath.empty()) {
    return std::unexpected(Win32Failure(ERROR_INVALID_PARAMETER));
  }
  if (auto written = WriteConfig(*config); !written) return std::unexpected(written.error());
  ForgetBootFailure(config->name);
  return StatusOf(*config);
}

void Machine::ForgetBootFailure(std::string_view service) {
  BootState state = BootState::Load(dir_.bootState());
  if (state.Forget(service)) (void)state.Save(dir_.bootState());
}

Result<ServiceStatus> Machine::DeleteService(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto config = ReadConfig(name);
  if (!config) return std::unexpected(Win32Failure(ERROR_SERVICE_DOES_NOT_EXIST));
  ForgetBootFailure(config->name);
  if (MarkedForDelete(config->name)) return std::unexpected(Win32Failure(ERROR_SERVICE_MARKED_FOR_DELETE));
  ServiceStatus status = StatusOf(*config);
  if (status.state != ServiceState::kStopped) {
    // As Windows does: marked now, removed when it stops or at the next boot.
    if (auto r = registry_->SetValue(ServiceKey(config->name), RegValue::Dword("DeleteFlag", 1)); !r) {
      return std::unexpected(r.error());
    }
    status.markedForDelete = true;
    return status;
  }
  if (auto r = registry_->DeleteKey(ServiceKey(config->name)); !r) return std::unexpected(r.error());
  std::lock_guard state(stateMutex_);
  runtime_.erase(AsciiLower(config->name));
  return status;
}

Result<void> Machine::BugChecked(const nt::BugCheck& record) {
  const std::string report = nt::FormatBugCheckReport(record, *kernel_);
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  // Two stops in one second (two machines, one folder) keep both reports.
  fs::path file = dir_.crashes() / (std::string(stamp) + fmt::format("-{:x}.txt", record.code));
  for (int n = 2; fs::exists(file); ++n) file = dir_.crashes() / (std::string(stamp) + fmt::format("-{:x}-{}.txt", record.code, n));
  const std::string json = nt::FormatBugCheckJson(record, *kernel_);
  auto writeAll = [&]() -> Result<void> {
    auto written = WriteFileAtomically(file, report);
    if (written) written = WriteFileAtomically(fs::path(file).replace_extension(".json"), json);
    if (written) written = WriteFileAtomically(dir_.crashes() / "last.txt", report);
    if (written) written = WriteFileAtomically(dir_.crashes() / kUnseenCrashMarker, CrashSummary(report) + "\n");
    if (written) written = WriteFileAtomically(dir_.crashes() / "last.json", json);
    return written;
  };
  auto written = writeAll();
  // A full disk: the space held back at boot is the report's.
  if (!written && dir_.ReleaseCrashSpace()) written = writeAll();
  if (!written) {
    std::error_code ec;
    for (const fs::path& p : {file, fs::path(file).replace_extension(".json")}) {
      fs::remove(p.string() + ".tmp", ec);
      fs::remove(p, ec);
    }
  }
  std::function<void()> listener;
  {
    std::lock_guard lock(crashMutex_);
    crashReport_ = report;
    if (written) crashFile_ = file;
    else crashSaveError_ = written.error().message;
    listener = crashListener_;
  }
  crashWritten_.notify_all();
  Mark(fmt::format("the machine stopped with {}", CrashSummary(report)));
  if (listener) listener();
  return written;
}

void Machine::Publish(const nt::DebugRecord& record) {
  const LoggedRecord logged = log_->Append(record);
  std::lock_guard lock(listenersMutex_);
  for (const auto& [id, listener] : listeners_) listener(logged);
}

void Machine::Mark(std::string text) {
  nt::DebugRecord record;
  record.seconds = static_cast<double>(kernel_->InterruptTime()) / 1e7;
  record.component = nt::kMarkerComponent;
  record.text = std::move(text);
  Publish(record);
}

std::string Machine::StopReport() const {
  // The stop may have come from another thread (a DPC's), whose report is being written.
  std::unique_lock lock(crashMutex_);
  crashWritten_.wait_for(lock, std::chrono::seconds(10), [this] { return crashReport_.has_value(); });
  return crashReport_.value_or("the machine has stopped");
}

std::optional<std::string> Machine::crashReport() const {
  std::lock_guard lock(crashMutex_);
  return crashReport_;
}

std::string Machine::CrashReportWhere() const {
  std::lock_guard lock(crashMutex_);
  if (crashFile_) return "saved to " + dir_.Shown(*crashFile_).string();
  return "not saved (" + crashSaveError_ + "); the whole report reached this command";
}

std::optional<fs::path> Machine::crashFile() const {
  std::lock_guard lock(crashMutex_);
  return crashFile_;
}

void Machine::SetCrashListener(std::function<void()> listener) {
  std::lock_guard lock(crashMutex_);
  crashListener_ = std::move(listener);
}

std::vector<Machine::ModuleRange> Machine::LoadedModules() {
  // Without the kernel lock: lm answers while driver code keeps it.
  std::vector<ModuleRange> out;
  if (offline()) return out;
  for (const auto& m : kernel_->ModuleInfos()) out.push_back({m.base, m.end, m.name, m.path});
  const auto [base, end] = nt::HostImageRange();
  if (base) out.push_back({base, end, "nt", "ntoskrnl.exe (the ntbox kernel personality)"});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  return out;
}

Machine::VerifierStatus Machine::QueryVerifier() {
  std::lock_guard lock(mutex_);
  if (offline()) return {};
  VerifierStatus status{kernel_->config().verifier, kernel_->pool().statistics(), {}};
  const auto outstanding = kernel_->pool().Outstanding();
  for (const nt::Module* m : kernel_->Modules()) {
    if (!m->verified) continue;
    VerifiedDriver d{m->fileName};
    for (const auto& a : outstanding) {
      if (!m->image->contains(a.caller)) continue;
      const bool paged = (a.type & 1) != 0;  // PagedPool and its variants are odd
      (paged ? d.pagedAllocations : d.nonPagedAllocations) += 1;
      (paged ? d.pagedBytes : d.nonPagedBytes) += a.size;
    }
    status.drivers.push_back(std::move(d));
  }
  return status;
}

std::vector<nt::Kernel::UnloadedModule> Machine::UnloadedModules() {
  if (offline()) return {};
  return kernel_->UnloadedModules();  // under the kernel's own lock, as LoadedModules
}

int Machine::AddDebugListener(DebugListener listener) {
  std::lock_guard lock(listenersMutex_);
  listeners_.emplace(nextListener_, std::move(listener));
  return nextListener_++;
}

void Machine::RemoveDebugListener(int id) {
  std::lock_guard lock(listenersMutex_);
  listeners_.erase(id);
}

}  // namespace ntbox::machine
