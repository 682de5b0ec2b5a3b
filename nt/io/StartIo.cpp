// System-queued I/O: IoStartPacket hands an IRP to the driver's StartIo when the device is idle
// and otherwise keeps it in the device object's queue; IoStartNextPacket(ByKey) starts the next
// one when the driver finishes the current IRP. StartIo runs at DISPATCH_LEVEL, one IRP at a time,
// with DeviceObject->CurrentIrp naming it. With IoSetStartIoAttributes' DeferredStartIo, a call to
// IoStartNextPacket made from inside StartIo does not recurse: the outermost call starts the next.
#include "cpu/HostState.h"
#include "nt/io/DeviceState.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/SpinLock.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt {
namespace {

IRP* IrpOf(KDEVICE_QUEUE_ENTRY* entry) {
  return reinterpret_cast<IRP*>(reinterpret_cast<char*>(entry) - offsetof(IRP, Tail.Overlay.DeviceQueueEntry));
}

// StartIo, with the verifier's rule that no spin lock it took is still held at its return.
void CallStartIo(DEVICE_OBJECT* device, IRP* irp, io::DeviceState* state) {
  const PDRIVER_STARTIO startIo = device->DriverObject->DriverStartIo;
  if (!startIo) return;
  if (state && state->nonCancelableStartIo) {
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    io::ExchangeCancelRoutine(irp, nullptr);
    IoReleaseCancelSpinLock(irql);
  }
  ke::KernelThread* t = ke::CurrentThread();
  const std::uint32_t held = t->spinLocksHeld;
  if (state) ++state->startIoDepth;
  cpu::CallDriver(startIo, device, irp);
  if (state) --state->startIoDepth;
  ke::CheckReturnWithoutSpinLock(held, reinterpret_cast<ULONG64>(startIo), "the StartIo routine");
}

// Takes the next IRP off the device queue and starts it; false when the queue was empty.
bool StartNext(DEVICE_OBJECT* device, bool cancelable, const ULONG* key) {
  KIRQL irql = 0;
  if (cancelable) IoAcquireCancelSpinLock(&irql);
  device->CurrentIrp = nullptr;
  KDEVICE_QUEUE_ENTRY* entry =
      key ? KeRemoveByKeyDeviceQueue(&device->DeviceQueue, *key) : KeRemoveDeviceQueue(&device->DeviceQueue);
  IRP* irp = entry ? IrpOf(entry) : nullptr;
  device->CurrentIrp = irp;
  if (cancelable) IoReleaseCancelSpinLock(irql);
  if (!irp) return false;
  CallStartIo(device, irp, io::StateOf(device));
  return true;
}

// After a StartIo returns: the starts it deferred, one after another.
void RunDeferredStarts(DEVICE_OBJECT* device, io::DeviceState* state) {
  while (state && state->deferredStartIo && state->startIoDepth == 0 && state->startNextDeferred) {
    state->startNextDeferred = false;
    const ULONG key = state->startNextKey;
    if (!StartNext(device, state->startNextCancelable, state->startNextByKey ? &key : nullptr)) break;
  }
}

void StartNextPacket(DEVICE_OBJECT* device, bool cancelable, const ULONG* key) {
  io::DeviceState* state = io::StateOf(device);
  if (state && state->deferredStartIo && state->startIoDepth > 0) {
    state->startNextDeferred = true;
    state->startNextCancelable = cancelable;
    state->startNextByKey = key != nullptr;
    state->startNextKey = key ? *key : 0;
    return;
  }
  StartNext(device, cancelable, key);
  RunDeferredStarts(device, state);
}

}  // namespace

void NTAPI IoStartPacket(DEVICE_OBJECT* DeviceObject, IRP* Irp, ULONG* Key, PDRIVER_CANCEL CancelFunction) {
  const KIRQL old = KfRaiseIrql(DISPATCH_LEVEL);
  KIRQL cancelIrql = 0;
  if (CancelFunction) {
    IoAcquireCancelSpinLock(&cancelIrql);
    io::ExchangeCancelRoutine(Irp, CancelFunction);
  }
  KDEVICE_QUEUE_ENTRY* entry = &Irp->Tail.Overlay.DeviceQueueEntry;
  const bool queued = Key ? KeInsertByKeyDeviceQueue(&DeviceObject->DeviceQueue, entry, *Key)
                          : KeInsertDeviceQueue(&DeviceObject->DeviceQueue, entry);
  if (!queued) {
    DeviceObject->CurrentIrp = Irp;
    if (CancelFunction) IoReleaseCancelSpinLock(cancelIrql);
    io::DeviceState* state = io::StateOf(DeviceObject);
    CallStartIo(DeviceObject, Irp, state);
    RunDeferredStarts(DeviceObject, state);
  } else if (CancelFunction && Irp->Cancel) {
    // Cancelled before its cancel routine was set: that routine runs now, and releases the lock.
    Irp->CancelIrql = cancelIrql;
    io::ExchangeCancelRoutine(Irp, nullptr);
    cpu::CallDriver(CancelFunction, DeviceObject, Irp);
  } else if (CancelFunction) {
    IoReleaseCancelSpinLock(cancelIrql);
  }
  KeLowerIrql(old);
}

void NTAPI IoStartNextPacket(DEVICE_OBJECT* DeviceObject, BOOLEAN Cancelable) {
  StartNextPacket(DeviceObject, Cancelable != FALSE, nullptr);
}

void NTAPI IoStartNextPacketByKey(DEVICE_OBJECT* DeviceObject, BOOLEAN Cancelable, ULONG Key) {
  StartNextPacket(DeviceObject, Cancelable != FALSE, &Key);
}

void NTAPI IoSetStartIoAttributes(DEVICE_OBJECT* DeviceObject, BOOLEAN DeferredStartIo, BOOLEAN NonCancelable) {
  if (io::DeviceState* state = io::StateOf(DeviceObject)) {
    state->deferredStartIo = DeferredStartIo != FALSE;
    state->nonCancelableStartIo = NonCancelable != FALSE;
  }
}

}  // namespace ntbox::nt
