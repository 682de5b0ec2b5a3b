// IO_REMOVE_LOCK (the free build's layout: Removed, IoCount, RemoveEvent). IoCount starts at 1,
// a bias that IoReleaseRemoveLockAndWait drops before it waits for the count to reach zero.
#include <atomic>

#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"

namespace ntbox::nt {
namespace {

LONG Decrement(IO_REMOVE_LOCK* lock, ULONG64 caller) {
  const LONG count = std::atomic_ref<LONG>(const_cast<LONG&>(lock->Common.IoCount)).fetch_sub(1) - 1;
  if (count < 0) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xD5, reinterpret_cast<ULONG64>(lock), 0, 0,
                  "an IO_REMOVE_LOCK was released more often than it was acquired", caller);
  }
  if (count == 0) KeSetEvent(&lock->Common.RemoveEvent, 0, FALSE);
  return count;
}

}  // namespace

void NTAPI IoInitializeRemoveLockEx(IO_REMOVE_LOCK* Lock, ULONG, ULONG, ULONG, ULONG) {
  Lock->Common.Removed = FALSE;
  Lock->Common.IoCount = 1;
  KeInitializeEvent(&Lock->Common.RemoveEvent, 1 /* SynchronizationEvent */, FALSE);
}

NTSTATUS NTAPI IoAcquireRemoveLockEx(IO_REMOVE_LOCK* RemoveLock, PVOID, const char*, ULONG, ULONG) {
  std::atomic_ref<LONG>(const_cast<LONG&>(RemoveLock->Common.IoCount)).fetch_add(1);
  if (RemoveLock->Common.Removed) {
    Decrement(RemoveLock, reinterpret_cast<ULONG64>(__builtin_return_address(0)));
    return STATUS_DELETE_PENDING;
  }
  return STATUS_SUCCESS;
}

void NTAPI IoReleaseRemoveLockEx(IO_REMOVE_LOCK* RemoveLock, PVOID, ULONG) {
  Decrement(RemoveLock, reinterpret_cast<ULONG64>(__builtin_return_address(0)));
}

void NTAPI IoReleaseRemoveLockAndWaitEx(IO_REMOVE_LOCK* RemoveLock, PVOID, ULONG) {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  RemoveLock->Common.Removed = TRUE;
  Decrement(RemoveLock, caller);         // the caller's own acquire
  if (Decrement(RemoveLock, caller) > 0) {  // the bias
    KeWaitForSingleObject(&RemoveLock->Common.RemoveEvent, 0 /* Executive */, 0, FALSE, nullptr);
  }
}

}  // namespace ntbox::nt
