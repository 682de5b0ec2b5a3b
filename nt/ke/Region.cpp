// Critical and guarded regions: the thread's KernelApcDisable and SpecialApcDisable counts
// (negative inside a region, as Windows counts them). ntbox delivers no APCs, so the counts are
// what the verifier and the lock rules read (ERESOURCE and push locks want APCs disabled).
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace {

void CheckRegionIrql(ULONG64 subcode, ULONG64 caller) {
  const KIRQL irql = KeGetCurrentIrql();
  if (irql > APC_LEVEL && vf::Watches(caller, vf::flags::kIrqlChecking)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, subcode, irql, 0, 0,
                  subcode == 0x11A ? "KeEnterCriticalRegion called above APC_LEVEL"
                                   : "KeLeaveCriticalRegion called above APC_LEVEL",
                  caller);
  }
}

}  // namespace

void NTAPI KeEnterCriticalRegion() {
  CheckRegionIrql(0x11A, reinterpret_cast<ULONG64>(__builtin_return_address(0)));
  --ke::CurrentThread()->kernelApcDisable;
}

void NTAPI KeLeaveCriticalRegion() {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  CheckRegionIrql(0x11B, caller);
  ke::KernelThread* t = ke::CurrentThread();
  if (t->kernelApcDisable >= 0) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x3E, 0, 0, 0,
                  "KeLeaveCriticalRegion for a thread that is not in a critical region", caller);
  }
  ++t->kernelApcDisable;
}

void NTAPI KeEnterGuardedRegion() { --ke::CurrentThread()->specialApcDisable; }

void NTAPI KeLeaveGuardedRegion() {
  ke::KernelThread* t = ke::CurrentThread();
  if (t->specialApcDisable >= 0) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0x3E, 0, 0, 0,
                  "KeLeaveGuardedRegion for a thread that is not in a guarded region",
                  reinterpret_cast<ULONG64>(__builtin_return_address(0)));
  }
  ++t->specialApcDisable;
}

BOOLEAN NTAPI KeAreApcsDisabled() {
  const ke::KernelThread* t = ke::CurrentThread();
  return (t->kernelApcDisable || t->specialApcDisable || t->Irql() >= APC_LEVEL) ? TRUE : FALSE;
}

BOOLEAN NTAPI KeAreAllApcsDisabled() {
  const ke::KernelThread* t = ke::CurrentThread();
  return (t->specialApcDisable || t->Irql() >= APC_LEVEL) ? TRUE : FALSE;
}

}  // namespace ntbox::nt
