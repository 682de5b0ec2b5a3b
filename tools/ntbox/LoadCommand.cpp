// ntbox load DRIVER.sys: a throwaway in-process kernel loads the driver, calls DriverEntry,
// prints its debug output as it happens, calls DriverUnload if set and sums up in one line.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "machine/KernelRegistry.h"
#include "machine/Sandbox.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/Pool.h"
#include "nt/io/Driver.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/BugCheckReport.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/rtl/Printf.h"
#include "nt/support/SymbolHelper.h"
#include "nt/support/Symbolize.h"
#include "support/Colour.h"
#include "support/HostFiles.h"
#include "pe/PeDebug.h"
#include "support/InputFile.h"
#include "tools/ntbox/Commands.h"

namespace ntbox::tools {
namespace {

struct LoadOptions {
  std::string path;
  std::string service;
  std::string osVersion = "10.0.19045";
  bool noUnload = false;
  bool noVerifier = false;
  bool noRewrite = false;
  bool json = false;
};

std::string StatusText(nt::NTSTATUS status) {
  const std::string_view name = nt::NtStatusName(status);
  return name.empty() ? fmt::format("0x{:08X}", static_cast<std::uint32_t>(status))
                      : fmt::format("0x{:08X} ({})", static_cast<std::uint32_t>(status), name);
}

// What a load says: as it happens, on the terminal; or with --json gathered into one object (the
// driver, DriverEntry's status, the outcome, its debug output and ntbox's notices, leaks, the
// stop's report) printed at the end with the exit status. Errors stay on stderr either way. Debug
// records come from any thread (a DPC's), so the object changes under a lock.
class LoadReport {
 public:
  explicit LoadReport(const LoadOptions& options) {
    if (!options.json) return;
    json_ = nlohmann::json{{"driver", options.path},
                           {"service", options.service},
                           {"output", nlohmann::json::array()},
                           {"notices", nlohmann::json::array()},
                           {"leaks", nlohmann::json::array()},
                           {"outcome", "refused"}};
  }

  void Debug(const nt::DebugRecord& record) {
    if (json_) {
      Set(record.component == nt::kNtboxComponent ? "notices" : "output", nt::rtl::AnsiToUtf8(record.text), true);
      return;
    }
    if (record.component == nt::kNtboxComponent) {
      std::fflush(stdout);
      std::fputs(("ntbox: " + record.text).c_str(), stderr);
      std::fflush(stderr);
      return;
    }
    std::fputs(nt::rtl::AnsiToUtf8(record.text).c_str(), stdout);
    std::fflush(stdout);
  }

  int Stop(const nt::BugCheck& record, nt::Kernel& kernel) {
    if (json_) {
      Set("outcome", "bugcheck");
      Set("stop", nlohmann::json::parse(nt::FormatBugCheckJson(record, kernel), nullptr, false));
      return kExitBugCheck;
    }
    std::fflush(stdout);
    std::fputs(ColourText("\n" + nt::FormatBugCheckReport(record, kernel), STDOUT_FILENO).c_str(), stdout);
    std::fflush(stdout);
    return kExitBugCheck;
  }

  // Reports pool the driver still holds; returns how many allocations leaked.
  std::size_t Leaks(nt::Kernel& kernel, const nt::Module& module) {
    const auto leaks = kernel.PoolLeaksOf(module);
    for (const auto& line : leaks) {
      if (json_) {
        Set("leaks", line, true);
      } else {
        std::fputs(("ntbox: " + line).c_str(), stderr);
      }
    }
    return leaks.size();
  }

  // DriverEntry's status; a failure ends the load (as on Windows, DriverUnload does not follow).
  std::optional<int> Entry(nt::NTSTATUS status) {
    std::fflush(stdout);
    if (json_) {
      Set("entryStatus", static_cast<std::uint32_t>(status));
      Set("entryStatusName", std::string(nt::NtStatusName(status)));
      if (!nt::NT_SUCCESS(status)) Set("outcome", "failed");
    } else if (!nt::NT_SUCCESS(status)) {
      std::printf("DriverEntry returned %s: the driver failed to load\n", StatusText(status).c_str());
    }
    if (!nt::NT_SUCCESS(status)) return kExitDriverFailed;
    return std::nullopt;
  }

  // The end of a load that went through: outcome names it for --json, text for the terminal.
  int Done(nt::NTSTATUS status, std::string_view outcome, const std::string& text) {
    std::fflush(stdout);
    if (json_) {
      Set("outcome", std::string(outcome));
    } else {
      std::printf("DriverEntry returned %s; %s\n", StatusText(status).c_str(), text.c_str());
    }
    return kExitOk;
  }

  // The exit status, after the object with --json.
  int Finish(int code) {
    if (!json_) return code;
    std::lock_guard lock(mutex_);
    (*json_)["exit"] = code;
    std::printf("%s\n", json_->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return code;
  }

 private:
  void Set(const char* key, nlohmann::json value, bool append = false) {
    std::lock_guard lock(mutex_);
    if (append) {
      (*json_)[key].push_back(std::move(value));
    } else {
      (*json_)[key] = std::move(value);
    }
  }

  std::mutex mutex_;
  std::optional<nlohmann::json> json_;
};

int RunLoad(const LoadOptions& options, LoadReport& report) {
  const auto version = nt::ParseOsVersion(options.osVersion);
  if (!version) {
    std::fprintf(stderr, "ntbox load: --os-version must look like 10.0.19045, not '%s'\n", options.osVersion.c_str());
    return kExitUsage;
  }
  // Confined before the kernel starts its threads and before any driver code runs: nothing is
  // writable (its registry is in memory), no helper but the symbol reader runs. Started by root,
  // the process keeps the image open and becomes nobody first.
  std::map<std::string, int> image;
  for (const auto& file : pe::ImageAndPdb(options.path)) {
    if (const int fd = OpenInputFile(file); fd >= 0) image.emplace(HostFileKey(file), fd);
  }
  HostFileScope handed(std::move(image));
  if (::geteuid() == 0) {
    if (auto dropped = machine::GiveUpRoot({}); !dropped) {
      std::fprintf(stderr, "ntbox load: %s\n", dropped.error().message.c_str());
      return kExitRefused;
    }
  }
  const char* require = std::getenv("NTBOX_REQUIRE_SANDBOX");
  if (auto confined = machine::ConfineProcess({{}, {nt::SymbolHelperPath()}, nt::SymbolHelperEnvironment(),
                                               require && std::string_view(require) == "1"});
      !confined) {
    std::fprintf(stderr, "ntbox load: %s\n", confined.error().message.c_str());
    return kExitRefused;
  } else {
    for (const auto& m : confined->missing) std::fprintf(stderr, "ntbox load: sandbox: not in force: %s\n", m.c_str());
  }
  nt::KernelConfig config;
  config.version = *version;
  if (options.noVerifier) config.verifier.flags = 0;
  config.rewrite = !options.noRewrite;
  // A registry of its own that lives as long as the driver: its service key, and whatever the driver
  // writes.
  auto registry = machine::Registry::Open(":memory:");
  if (!registry) {
    std::fprintf(stderr, "ntbox load: %s\n", registry.error().message.c_str());
    return kExitRefused;
  }
  machine::KernelRegistry kernelRegistry(**registry);
  config.registry = &kernelRegistry;
  nt::Kernel kernel(config);
  nt::ke::ThreadAttachment attach;
  kernel.SetDebugSink([&report](const nt::DebugRecord& record) { report.Debug(record); });
  // A stop on another thread (a DPC's processor, a system thread, a work item) while DriverEntry
  // or DriverUnload runs or waits: reported once that call returns. A wait the stop ended comes
  // back as the stop's own unwinding; the report is the stop's.
  kernel.SetBugCheckHandler([](const nt::BugCheck&) {});
  auto stoppedElsewhere = [&]() { return kernel.stopRecord(); };
  auto reportOf = [&](const nt::BugCheck& b) {
    if (b.code == nt::ke::kStopUnwindCode) {
      if (auto stop = kernel.stopRecord()) return *stop;
    }
    return b;
  };

  auto driver = nt::Driver::Load(kernel, options.path, options.service);
  if (!driver) {
    const auto& e = driver.error();
    PrintError(fmt::format("ntbox load: cannot load '{}': {}\n", options.path, e.message));
    if (e.win32) std::fprintf(stderr, "ntbox load: (Windows would report error %u)\n", e.win32);
    return kExitRefused;
  }
  const nt::Module& module = (*driver)->module();
  // \REGISTRY\MACHINE\...\Services\<name>: the key DriverEntry is given.
  if (auto r = (*registry)->CreateKey(Utf16ToUtf8((*driver)->registryPath()).substr(10)); !r) {
    std::fprintf(stderr, "ntbox load: %s\n", r.error().message.c_str());
    return kExitRefused;
  }

  // Driver code runs under the kernel lock, as in a machine (Machine::StartService): without it
  // DriverEntry ran beside the processors' DPCs (a KeFlushQueuedDpcs could return before its DPC ran).
  const auto status = [&] {
    std::lock_guard lock(nt::ke::TheKernelLock());
    return (*driver)->CallEntry();
  }();
  if (!status) return report.Stop(reportOf(status.error()), kernel);
  if (auto stop = stoppedElsewhere()) return report.Stop(*stop, kernel);
  if (const auto failed = report.Entry(*status)) return *failed;
  std::string outcome;
  if (options.noUnload) {
    outcome = "left loaded (--no-unload)";
  } else if (!(*driver)->HasUnload()) {
    outcome = "no DriverUnload: the driver cannot be unloaded (sc stop would fail with 1052)";
  } else {
    const auto unloaded = [&] {
      std::lock_guard lock(nt::ke::TheKernelLock());
      return (*driver)->CallUnload();
    }();
    if (!unloaded) return report.Stop(reportOf(unloaded.error()), kernel);
    if (auto stop = stoppedElsewhere()) return report.Stop(*stop, kernel);
    outcome = "unloaded";
    if (const std::size_t leaks = report.Leaks(kernel, module)) {
      outcome += fmt::format(", {} pool allocation{} leaked", leaks, leaks == 1 ? "" : "s");
    }
  }
  const std::string_view key = options.noUnload ? "loaded" : !(*driver)->HasUnload() ? "no unload" : "unloaded";
  return report.Done(*status, key, outcome);
}

}  // namespace

std::function<int()> AddLoadCommand(CLI::App& app) {
  auto options = std::make_shared<LoadOptions>();
  CLI::App* cmd = app.add_subcommand(
      "load", "Load a driver into a throwaway kernel: DriverEntry, its debug output, DriverUnload");
  cmd->add_option("driver", options->path, "the driver image (.sys)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--service", options->service,
                  "service name for DriverObject->DriverName and RegistryPath (default: file name)");
  cmd->add_option("--os-version", options->osVersion, "the Windows version the kernel reports")
      ->capture_default_str();
  cmd->add_flag("--no-unload", options->noUnload, "do not call DriverUnload");
  cmd->add_flag("--no-verifier", options->noVerifier,
                "load without Driver Verifier (on by default: verifier /standard)");
  cmd->add_flag("--no-rewrite", options->noRewrite,
                "leave the driver's cr8 accesses, cli/sti and KUSER_SHARED_DATA reads to the trap handler "
                "(rewritten at load by default)");
  cmd->add_flag("--json", options->json,
                "one JSON object: driver, service, entryStatus, outcome, output, notices, leaks, stop, exit");
  cmd->footer(
      "Exit status: 0 loaded (and unloaded), 1 DriverEntry failed, 2 bad arguments, 3 image refused, "
      "4 bugcheck.\nexample: ntbox load --service irp_complete_twice build/MyDriver.sys");
  return [cmd, options]() -> int {
    if (!cmd->parsed()) return -1;
    LoadReport report(*options);
    return report.Finish(RunLoad(*options, report));
  };
}

}  // namespace ntbox::tools
