// The exported IRQL routines. Real x64 drivers mostly use the inline CR8 forms, which run natively
// once rewritten at load (cpu/Rewriter.h) or trap (cpu/Trap.cpp), on the same KPCR byte.
#include "nt/ke/Irql.h"

#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {

namespace ke {

std::optional<IrqlViolation> CheckIrqlChange(IrqlChange change, KIRQL current, ULONG64 requested, bool inDpcRoutine,
                                             FunctionRef<bool()> verified, bool exported) {
  constexpr ULONG64 kHighLevel = 15;
  if (change == IrqlChange::kRaise) {
    if (requested >= current && requested <= kHighLevel) return std::nullopt;
    if (verified()) {
      return IrqlViolation{bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, {0x30, current, requested, 0},
                           "KeRaiseIrql to an IRQL below the current one (or above HIGH_LEVEL)"};
    }
    if (!exported) return std::nullopt;
    return IrqlViolation{bugcheck::IRQL_NOT_GREATER_OR_EQUAL, {current, requested, 0, 0},
                         "KeRaiseIrql to an IRQL below the current one"};
  }
  if (requested > current || requested > kHighLevel) {
    if (verified()) {
      return IrqlViolation{bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, {0x31, current, requested, 0},
                           "KeLowerIrql to an IRQL above the current one"};
    }
    if (!exported) return std::nullopt;
    return IrqlViolation{bugcheck::IRQL_NOT_LESS_OR_EQUAL, {0, current, requested, 0},
                         "KeLowerIrql to an IRQL above the current one"};
  }
  if (inDpcRoutine && requested < DISPATCH_LEVEL && verified()) {
    // A DPC routine runs at DISPATCH_LEVEL on an arbitrary thread; it may never drop below.
    return IrqlViolation{bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, {0x31, current, requested, 1},
                         "KeLowerIrql below DISPATCH_LEVEL inside a DPC routine"};
  }
  return std::nullopt;
}

}  // namespace ke

namespace {

[[noreturn]] void Raise(const ke::IrqlViolation& v, ULONG64 caller) {
  RaiseBugCheck(v.code, v.parameters[0], v.parameters[1], v.parameters[2], v.parameters[3], v.detail, caller);
}

}  // namespace

KIRQL NTAPI KeGetCurrentIrql() {
  const ke::KernelThread* t = ke::CurrentThread();
  return t ? t->Irql() : PASSIVE_LEVEL;
}

KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql) {
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->Irql();
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  if (auto v = ke::CheckIrqlChange(ke::IrqlChange::kRaise, old, NewIrql, t->inDpcRoutine,
                                   [caller] { return vf::Watches(caller, vf::flags::kIrqlChecking); }, true)) {
    Raise(*v, caller);
  }
  t->SetIrql(NewIrql);
  return old;
}

KIRQL NTAPI KeRaiseIrqlToDpcLevel() {
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->Irql();
  if (old > DISPATCH_LEVEL) {
    RaiseBugCheck(bugcheck::IRQL_NOT_GREATER_OR_EQUAL, old, DISPATCH_LEVEL, 0, 0,
                  "KeRaiseIrqlToDpcLevel above DISPATCH_LEVEL",
                  reinterpret_cast<ULONG64>(__builtin_return_address(0)));
  }
  t->SetIrql(DISPATCH_LEVEL);
  return old;
}

void NTAPI KeLowerIrql(KIRQL NewIrql) {
  ke::KernelThread* t = ke::CurrentThread();
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  if (auto v = ke::CheckIrqlChange(ke::IrqlChange::kLower, t->Irql(), NewIrql, t->inDpcRoutine,
                                   [caller] { return vf::Watches(caller, vf::flags::kIrqlChecking); }, true)) {
    Raise(*v, caller);
  }
  t->SetIrql(NewIrql);
}

}  // namespace ntbox::nt
