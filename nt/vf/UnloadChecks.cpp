#include "nt/vf/UnloadChecks.h"

#include <array>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/ex/WorkQueue.h"
#include "nt/io/IoServices.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Processors.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ps/Notify.h"
#include "nt/ob/ObCallbacks.h"
#include "nt/cm/CmCallbacks.h"
#include "nt/etw/Etw.h"
#include "nt/ps/SystemThread.h"
#include "nt/support/Symbolize.h"

namespace ntbox::nt::vf {

namespace {

struct Violation {
  ULONG code = 0;
  std::array<ULONG64, 4> parameters{};
  std::string detail;
};

// Under the kernel lock, which must be let go before raising: a raise never unwinds.
std::optional<Violation> LiveWork(const Module& module) {
  Kernel& kernel = Kernel::Current();
  const std::uint64_t begin = module.image->base();
  const std::uint64_t end = module.image->end();
  std::lock_guard lock(ke::TheKernelLock());
  const auto live = kernel.processors().LiveIn(begin, end);
  if (!live.timers.empty()) {
    const KTIMER* timer = live.timers.front();
    const std::uint64_t routine = timer->Dpc ? reinterpret_cast<std::uint64_t>(timer->Dpc->DeferredRoutine) : 0;
    return Violation{bugcheck::TIMER_OR_DPC_INVALID, {0, reinterpret_cast<std::uint64_t>(timer), begin, end},
                     fmt::format("{} unloaded with a timer still set{}", module.fileName,
                                 routine ? " (its DPC routine " + Symbolize(routine) + ")" : std::string())};
  }
  if (!live.dpcs.empty()) {
    const KDPC* dpc = live.dpcs.front();
    return Violation{bugcheck::TIMER_OR_DPC_INVALID, {1, reinterpret_cast<std::uint64_t>(dpc), begin, end},
                     fmt::format("{} unloaded with a DPC still queued (routine {})", module.fileName,
                                 Symbolize(reinterpret_cast<std::uint64_t>(dpc->DeferredRoutine)))};
  }
  if (const auto items = kernel.workQueues().LiveIn(begin, end); !items.empty()) {
    const auto routine = reinterpret_cast<std::uint64_t>(items.front()->WorkerRoutine);
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS,
                     {routine, 8, reinterpret_cast<std::uint64_t>(items.front()), 0},
                     fmt::format("{} unloaded with a work item still queued (routine {})", module.fileName,
                                 Symbolize(routine))};
  }
  if (const auto threads = kernel.systemThreads().LiveIn(begin, end); !threads.empty()) {
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, {threads.front(), 8, 0, 0},
                     fmt::format("{} unloaded with {} system thread{} still running (started at {})",
                                 module.fileName, threads.size(), threads.size() == 1 ? "" : "s",
                                 Symbolize(threads.front()))};
  }
  if (const auto routines = kernel.notifyRoutines().In(begin, end); !routines.empty()) {
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, {routines.front(), 8, 0, 0},
                     fmt::format("{} unloaded with its notify routine {} still registered", module.fileName,
                                 Symbolize(routines.front()))};
  }
  if (const auto routines = etw::ProvidersIn(begin, end); !routines.empty()) {
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, {routines.front(), 8, 0, 0},
                     fmt::format("{} unloaded with its ETW provider still registered (EtwUnregister; its enable "
                                 "callback {})",
                                 module.fileName, Symbolize(routines.front()))};
  }
  if (const auto routines = cm::RegistryCallbacksIn(begin, end); !routines.empty()) {
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, {routines.front(), 8, 0, 0},
                     fmt::format("{} unloaded with its registry callback {} still registered (CmUnRegisterCallback)",
                                 module.fileName, Symbolize(routines.front()))};
  }
  if (const auto routines = ob::ObjectCallbacksIn(begin, end); !routines.empty()) {
    return Violation{bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, {routines.front(), 8, 0, 0},
                     fmt::format("{} unloaded with its object callback {} still registered (ObUnRegisterCallbacks)",
                                 module.fileName, Symbolize(routines.front()))};
  }
  return std::nullopt;
}

}  // namespace

void CheckUnload(const Module& module, const DRIVER_OBJECT* driver, std::uint64_t unloadRoutine) {
  if (!module.verified) return;
  for (const auto& line : io::LeftoversOf(driver, module.fileName)) {
    Kernel::Current().DebugOutput(kNtboxComponent, 0, "Driver Verifier: " + line + "\n");
  }
  if (const auto v = LiveWork(module)) {
    RaiseBugCheck(v->code, v->parameters[0], v->parameters[1], v->parameters[2], v->parameters[3], v->detail,
                  unloadRoutine);
  }
  Kernel& kernel = Kernel::Current();
  if (!(kernel.config().verifier.flags & flags::kPoolTracking)) return;
  const auto leaks = kernel.PoolLeaksOf(module);
  if (leaks.empty()) return;
  // Each allocation on a line of its own first: the report's last debug output lists them.
  for (const auto& line : leaks) kernel.DebugOutput(kNtboxComponent, 0, line);
  RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62,
                reinterpret_cast<std::uint64_t>(&module.fileNameString), 0, leaks.size(),
                fmt::format("{} unloaded without freeing {} pool allocation{} (listed in the debug output)",
                            module.fileName, leaks.size(), leaks.size() == 1 ? "" : "s"),
                unloadRoutine);
}

}  // namespace ntbox::nt::vf
