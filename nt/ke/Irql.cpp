// The exported IRQL routines. Real x64 drivers mostly use the inline CR8 forms, which the trap
// handler (cpu/) emulates on the same per-thread state.
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt {

KIRQL NTAPI KeGetCurrentIrql() {
  const ke::KernelThread* t = ke::CurrentThread();
  return t ? t->irql : PASSIVE_LEVEL;
}

KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql) {
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->irql;
  if (NewIrql < old) {
    // Raising to a lower level is a caller bug Windows stops on.
    RaiseBugCheck(bugcheck::IRQL_NOT_GREATER_OR_EQUAL, old, NewIrql, 0, 0,
                  "KeRaiseIrql to an IRQL below the current one",
                  reinterpret_cast<ULONG64>(__builtin_return_address(0)));
  }
  t->SetIrql(NewIrql);
  return old;
}

KIRQL NTAPI KeRaiseIrqlToDpcLevel() {
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL old = t->irql;
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
  if (NewIrql > t->irql) {
    RaiseBugCheck(bugcheck::IRQL_NOT_LESS_OR_EQUAL, 0, t->irql, NewIrql, 0,
                  "KeLowerIrql to an IRQL above the current one",
                  reinterpret_cast<ULONG64>(__builtin_return_address(0)));
  }
  t->SetIrql(NewIrql);
}

}  // namespace ntbox::nt
