#include <atomic>

#include "cpu/HostState.h"
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "cpu/SafeCopy.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/PoolArena.h"
#include "nt/kd/DebugPrint.h"
#include "nt/io/IoExports.h"
#include "nt/ke/Dispatcher.h"
#include "nt/io/IrpBlock.h"
#include "nt/io/Overlapped.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/SpinLock.h"
#include "nt/ke/Thread.h"
#include "nt/support/Symbolize.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace {

// The IRP's state as the report shows it, read without trusting the pointer.
void CaptureIrp(IrpSnapshot& out, const IRP* irp) {
  out.address = reinterpret_cast<ULONG64>(irp);
  IRP copy;
  if (!irp || !cpu::SafeCopy(&copy, irp, sizeof copy) || copy.Type != IO_TYPE_IRP) return;
  out.flags = copy.Flags;
  out.status = static_cast<ULONG>(copy.IoStatus.Status);
  out.information = copy.IoStatus.Information;
  out.systemBuffer = reinterpret_cast<ULONG64>(copy.AssociatedIrp.SystemBuffer);
  out.userBuffer = reinterpret_cast<ULONG64>(copy.UserBuffer);
  out.mdl = reinterpret_cast<ULONG64>(copy.MdlAddress);
  out.thread = reinterpret_cast<ULONG64>(copy.Tail.Overlay.Thread);
  out.cancelRoutine = reinterpret_cast<ULONG64>(copy.CancelRoutine);
  out.stackCount = copy.StackCount;
  out.currentLocation = copy.CurrentLocation;
  out.cancel = copy.Cancel != 0;
  out.pendingReturned = copy.PendingReturned != 0;
  out.requestorMode = static_cast<std::uint8_t>(copy.RequestorMode);
  const int n = std::clamp<int>(copy.StackCount, 0, static_cast<int>(out.stack.size()));
  IO_STACK_LOCATION locations[8];
  if (n == 0 || !cpu::SafeCopy(locations, irp + 1, n * sizeof(IO_STACK_LOCATION))) return;
  for (int i = 0; i < n; ++i) {
    const IO_STACK_LOCATION& l = locations[i];
    auto& o = out.stack[i];
    o.major = l.MajorFunction;
    o.minor = l.MinorFunction;
    o.flags = l.Flags;
    o.control = l.Control;
    o.device = reinterpret_cast<ULONG64>(l.DeviceObject);
    o.file = reinterpret_cast<ULONG64>(l.FileObject);
    o.completionRoutine = reinterpret_cast<ULONG64>(l.CompletionRoutine);
    o.context = reinterpret_cast<ULONG64>(l.Context);
    o.arguments = {reinterpret_cast<ULONG64>(l.Parameters.Others.Argument1),
                   reinterpret_cast<ULONG64>(l.Parameters.Others.Argument2),
                   reinterpret_cast<ULONG64>(l.Parameters.Others.Argument3),
                   reinterpret_cast<ULONG64>(l.Parameters.Others.Argument4)};
  }
  out.locations = static_cast<std::uint8_t>(n);
}

// A stop about irp: the report carries the IRP's state as it was at the stop.
[[noreturn]] void RaiseIrpBugCheck(const IRP* irp, ULONG code, ULONG64 p1, ULONG64 p2, ULONG64 p3, ULONG64 p4,
                                   std::string_view detail, ULONG64 caller = 0) {
  BugCheck record = MakeBugCheck(code, p1, p2, p3, p4, detail, caller);
  CaptureIrp(record.irp, irp);
  RaiseBugCheck(record);
}


constexpr ULONG NO_MORE_IRP_STACK_LOCATIONS = 0x35;
constexpr ULONG MULTIPLE_IRP_COMPLETE_REQUESTS = 0x44;

// IRPs completed since boot: a dispatch routine's IRP is surely still live (and unfreed) when no
// completion happened while the routine ran.
std::atomic<std::uint64_t> g_completions{0};

std::size_t StackBytes(CCHAR stackSize) { return static_cast<std::size_t>(stackSize) * sizeof(IO_STACK_LOCATION); }

void InitializeIrp(IRP* irp, CCHAR stackSize) {
  std::memset(irp, 0, sizeof(IRP) + StackBytes(stackSize));
  irp->Type = IO_TYPE_IRP;
  irp->Size = static_cast<USHORT>(sizeof(IRP) + StackBytes(stackSize));
  irp->StackCount = stackSize;
  irp->CurrentLocation = static_cast<CHAR>(stackSize + 1);
  irp->Tail.Overlay.CurrentStackLocation = reinterpret_cast<IO_STACK_LOCATION*>(irp + 1) + stackSize;
  irp->ThreadListEntry.Flink = irp->ThreadListEntry.Blink = &irp->ThreadListEntry;
}

void FreeMdlChain(IRP* irp) {
  for (MDL* mdl = irp->MdlAddress; mdl;) {
    MDL* next = mdl->Next;
    if (mdl->MdlFlags & MDL_PAGES_LOCKED) MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    mdl = next;
  }
  irp->MdlAddress = nullptr;
}

// What the I/O manager does once every driver has finished with the IRP.
void FinishCompletion(IRP* irp) {
  io::IrpBlock* block = io::BlockOf(irp);
  if (!block) return;
  const bool copyBack = (irp->Flags & IRP_BUFFERED_IO) && (irp->Flags & IRP_INPUT_OPERATION) &&
                        irp->IoStatus.Status >= 0 && irp->AssociatedIrp.SystemBuffer;
  switch (block->origin) {
    case io::IrpOrigin::kSystemService: {
      if (copyBack && irp->UserBuffer) {
        const auto n = std::min<ULONG_PTR>(irp->IoStatus.Information, block->userOutputLength);
        if (!cpu::SafeCopy(irp->UserBuffer, irp->AssociatedIrp.SystemBuffer, n)) {
          irp->IoStatus.Status = STATUS_ACCESS_VIOLATION;
        }
      }
      FreeMdlChain(irp);
      if (io::CompleteOverlapped(block)) return;
      block->done.store(1, std::memory_order_release);
      // Most requests complete before their sender would wait: no one to wake then.
      if (block->waiting) ke::WakeWaiters();
      return;
    }
    case io::IrpOrigin::kSynchronous: {
      if (copyBack && block->kernelOutput) {
        const auto n = std::min<ULONG_PTR>(irp->IoStatus.Information, block->userOutputLength);
        std::memcpy(block->kernelOutput, irp->AssociatedIrp.SystemBuffer, n);
      }
      if (irp->UserIosb) *irp->UserIosb = irp->IoStatus;
      FreeMdlChain(irp);
      KEVENT* event = irp->UserEvent;
      io::FreeIrpBlock(block);
      if (event) KeSetEvent(event, 0, FALSE);
      return;
    }
    case io::IrpOrigin::kAsynchronous:
    case io::IrpOrigin::kDriver:
      // The owner frees it; an IRP the I/O manager cannot finish is left as it is.
      if (irp->UserIosb) *irp->UserIosb = irp->IoStatus;
      return;
  }
}

// The cancel spin lock: one lock for the whole system, as on Windows.
KSPIN_LOCK g_cancelSpinLock = 0;  // IoAcquireCancelSpinLock

// The verifier's I/O rules at a dispatch routine's return: the IRQL it was called at (0xC9/0x05)
// and no spin lock acquired in it still held.
void CheckDispatchReturn(DEVICE_OBJECT* device, PDRIVER_DISPATCH dispatch, KIRQL before, std::uint32_t held) {
  const auto routine = reinterpret_cast<ULONG64>(dispatch);
  const KIRQL after = ke::CurrentThread()->Irql();
  if (after != before && vf::Watches(routine, vf::flags::kIoVerification)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x05, reinterpret_cast<ULONG64>(device), before, after,
                  fmt::format("the dispatch routine {} returned at IRQL {}; it was called at IRQL {}", Symbolize(routine),
                              after, before),
                  routine);
  }
  ke::CheckReturnWithoutSpinLock(held, routine, "the dispatch routine");
}

// WDM driver error 0x23D, reported as 0xC9: the code, the routine, the IRP and the device.
void CheckPendingMarked(DEVICE_OBJECT* device, PDRIVER_DISPATCH dispatch, IRP* irp) {
  const auto routine = reinterpret_cast<ULONG64>(dispatch);
  if (!vf::Watches(routine, vf::flags::kIoVerification)) return;
  RaiseIrpBugCheck(irp, bugcheck::DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x23D, routine, reinterpret_cast<ULONG64>(irp),
                reinterpret_cast<ULONG64>(device),
                fmt::format("the dispatch routine {} returned STATUS_PENDING without IoMarkIrpPending",
                            Symbolize(routine)),
                routine);
}

}  // namespace

namespace io {

namespace {

// A thread's last freed IRP blocks of the common sizes, as Windows' per-processor IRP lookaside
// lists: the next request of that size takes one without the pool's lock. Blocks up to 1 KiB
// (an IRP with a few stack locations and a small system buffer); the rest go back to the pool.
class IrpCache {
 public:
  static constexpr std::size_t kMaxBytes = 1024;
  ~IrpCache() {
    for (const auto& e : entries_) {
      if (e.block) FreeSystemBlock(e.block, e.bytes);
    }
  }
  void* Take(std::size_t bytes) {
    for (auto& e : entries_) {
      if (e.block && e.bytes == bytes) return std::exchange(e.block, nullptr);
    }
    return nullptr;
  }
  bool Keep(void* block, std::size_t bytes) {
    if (bytes > kMaxBytes) return false;
    for (auto& e : entries_) {
      if (!e.block) {
        e = {block, bytes};
        return true;
      }
    }
    return false;
  }

 private:
  struct Entry {
    void* block = nullptr;
    std::size_t bytes = 0;
  };
  Entry entries_[4];
};

thread_local IrpCache t_irpCache;

}  // namespace

IrpBlock* AllocateIrpBlock(CCHAR stackSize, IrpOrigin origin, ULONG bufferSize) {
  if (stackSize < 1) stackSize = 1;
  const std::size_t irpBytes = (sizeof(IRP) + StackBytes(stackSize) + 15) & ~std::size_t{15};
  const std::size_t total = offsetof(IrpBlock, irp) + irpBytes + ((bufferSize + 15) & ~15u);
  // In pool, not the host heap: a driver writing past its system buffer damages pool only.
  const std::size_t bytes = (total + 15) & ~std::size_t{15};
  void* memory = t_irpCache.Take(bytes);
  if (memory) {
    std::memset(memory, 0, bytes);  // as the pool gives it
  } else {
    memory = AllocateSystemBlock(bytes);
  }
  if (!memory) return nullptr;
  auto* block = static_cast<IrpBlock*>(memory);
  block->magic = kIrpMagic;
  block->bytes = bytes;
  block->origin = origin;
  new (&block->done) std::atomic<std::uint32_t>(0);
  block->userOutputLength = 0;
  block->kernelOutput = nullptr;
  block->waiting = 0;
  block->async = nullptr;
  InitializeIrp(&block->irp, stackSize);
  if (bufferSize) block->irp.AssociatedIrp.SystemBuffer = SystemBufferOf(block);
  return block;
}

void* SystemBufferOf(IrpBlock* block) {
  const std::size_t irpBytes = (sizeof(IRP) + StackBytes(block->irp.StackCount) + 15) & ~std::size_t{15};
  return reinterpret_cast<std::uint8_t*>(&block->irp) + irpBytes;
}

IrpBlock* BlockOf(IRP* irp) {
  if (!irp) return nullptr;
  auto* block = reinterpret_cast<IrpBlock*>(reinterpret_cast<std::uint8_t*>(irp) - offsetof(IrpBlock, irp));
  return block->magic == kIrpMagic ? block : nullptr;
}

void FreeIrpBlock(IrpBlock* block) {
  block->magic = 0;
  block->irp.Type = 0;
  if (!t_irpCache.Keep(block, block->bytes)) FreeSystemBlock(block, block->bytes);
}

void WaitForCompletion(IrpBlock* block) {
  // The kernel lock is let go meanwhile: a DPC, a work item or a system thread completes the IRP.
  block->waiting = 1;
  ke::KernelThread* t = ke::CurrentThread();
  bool cancelled = false;
  for (;;) {
    const auto outcome = ke::WaitUntil([block, t, &cancelled] {
      return block->done.load(std::memory_order_acquire) != 0 || (!cancelled && t && t->terminateRequested);
    });
    if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
    if (block->done.load(std::memory_order_acquire) != 0) return;
    // The program is being ended (Ctrl-C, TerminateProcess): as Windows does for a dying thread,
    // its request is cancelled, and the thread waits for the driver to complete it.
    cancelled = true;
    if (!IoCancelIrp(&block->irp)) {
      Kernel::Current().DebugOutput(kNtboxComponent, 0,
                                    "the ending program's request has no cancel routine; waiting for the "
                                    "driver to complete it\n");
    }
  }
}

}  // namespace io

IRP* NTAPI IoAllocateIrp(CCHAR StackSize, BOOLEAN) {
  io::IrpBlock* block = io::AllocateIrpBlock(StackSize, io::IrpOrigin::kDriver);
  return block ? &block->irp : nullptr;
}

void NTAPI IoFreeIrp(IRP* Irp) {
  io::IrpBlock* block = io::BlockOf(Irp);
  if (!block || Irp->Type != IO_TYPE_IRP) {
    RaiseIrpBugCheck(Irp, MULTIPLE_IRP_COMPLETE_REQUESTS, reinterpret_cast<ULONG64>(Irp), 0, 0, 0,
                  "IoFreeIrp of something that is not a live IRP (freed twice?)", 0);
  }
  FreeMdlChain(Irp);
  io::FreeIrpBlock(block);
}

void NTAPI IoInitializeIrp(IRP* Irp, USHORT, CCHAR StackSize) { InitializeIrp(Irp, StackSize); }

void NTAPI IoReuseIrp(IRP* Irp, NTSTATUS Status) {
  const UCHAR flags = Irp->AllocationFlags;
  InitializeIrp(Irp, Irp->StackCount);
  Irp->AllocationFlags = flags;
  Irp->IoStatus.Status = Status;
}

NTSTATUS NTAPI IofCallDriver(DEVICE_OBJECT* DeviceObject, IRP* Irp) {
  --Irp->CurrentLocation;
  if (Irp->CurrentLocation <= 0) {
    RaiseIrpBugCheck(Irp, NO_MORE_IRP_STACK_LOCATIONS, reinterpret_cast<ULONG64>(Irp), 0, 0, 0,
                  "IoCallDriver with no stack location left for the next driver");
  }
  IO_STACK_LOCATION* sl = --Irp->Tail.Overlay.CurrentStackLocation;
  sl->DeviceObject = DeviceObject;
  const PDRIVER_DISPATCH dispatch = DeviceObject->DriverObject->MajorFunction[sl->MajorFunction];
  ke::KernelThread* t = ke::CurrentThread();
  const KIRQL irql = t->Irql();
  const std::uint32_t held = t->spinLocksHeld;
  const std::uint64_t completions = g_completions.load(std::memory_order_relaxed);
  const NTSTATUS status = cpu::CallDriver(dispatch, DeviceObject, Irp);
  if (t->Irql() != irql || t->spinLocksHeld != held) CheckDispatchReturn(DeviceObject, dispatch, irql, held);
  // STATUS_PENDING for an IRP the routine still holds (not passed down, not completed) must come
  // with IoMarkIrpPending on its stack location.
  if (status == STATUS_PENDING && g_completions.load(std::memory_order_relaxed) == completions &&
      Irp->Tail.Overlay.CurrentStackLocation == sl && !(sl->Control & SL_PENDING_RETURNED)) {
    CheckPendingMarked(DeviceObject, dispatch, Irp);
  }
  return status;
}

NTSTATUS NTAPI IoCallDriver(DEVICE_OBJECT* DeviceObject, IRP* Irp) { return IofCallDriver(DeviceObject, Irp); }

void NTAPI IofCompleteRequest(IRP* Irp, CCHAR) {
  const auto caller = reinterpret_cast<ULONG64>(__builtin_return_address(0));
  if (Irp->Type != IO_TYPE_IRP || Irp->CurrentLocation > Irp->StackCount + 1) {
    RaiseIrpBugCheck(Irp, MULTIPLE_IRP_COMPLETE_REQUESTS, reinterpret_cast<ULONG64>(Irp), 0, 0, 0,
                  "IoCompleteRequest on an IRP that was already completed", caller);
  }
  // The verifier is asked only when a rule is broken: completion is the I/O hot path.
  auto verified = [caller] { return vf::Watches(caller, vf::flags::kIoVerification); };
  if (Irp->IoStatus.Status == STATUS_PENDING || static_cast<ULONG>(Irp->IoStatus.Status) == 0xFFFFFFFF) {
    if (verified()) {
      RaiseIrpBugCheck(Irp, bugcheck::DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x06, static_cast<ULONG>(Irp->IoStatus.Status),
                    reinterpret_cast<ULONG64>(Irp), 0,
                    fmt::format("IoCompleteRequest with IoStatus.Status {:#010x}, a status that says the IRP is not done",
                                static_cast<ULONG>(Irp->IoStatus.Status)),
                    caller);
    }
    RaiseIrpBugCheck(Irp, MULTIPLE_IRP_COMPLETE_REQUESTS, reinterpret_cast<ULONG64>(Irp), 0, 0, 0,
                  "IoCompleteRequest with IoStatus.Status == STATUS_PENDING", caller);
  }
  if (Irp->CancelRoutine && verified()) {
    const auto routine = reinterpret_cast<ULONG64>(Irp->CancelRoutine);
    RaiseIrpBugCheck(Irp, bugcheck::DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x07, routine, reinterpret_cast<ULONG64>(Irp), 0,
                  fmt::format("IoCompleteRequest while the cancel routine {} is still set", Symbolize(routine)), caller);
  }
  g_completions.fetch_add(1, std::memory_order_relaxed);
  IO_STACK_LOCATION* sl = Irp->Tail.Overlay.CurrentStackLocation;
  ++Irp->CurrentLocation;
  ++Irp->Tail.Overlay.CurrentStackLocation;
  for (; Irp->CurrentLocation <= Irp->StackCount + 1;
       ++sl, ++Irp->CurrentLocation, ++Irp->Tail.Overlay.CurrentStackLocation) {
    Irp->PendingReturned = (sl->Control & SL_PENDING_RETURNED) != 0;
    const NTSTATUS status = Irp->IoStatus.Status;
    const UCHAR control = sl->Control;
    const PIO_COMPLETION_ROUTINE routine = sl->CompletionRoutine;
    PVOID context = sl->Context;
    const bool invoke = routine && ((status >= 0 && (control & SL_INVOKE_ON_SUCCESS)) ||
                                    (status < 0 && (control & SL_INVOKE_ON_ERROR)) ||
                                    (Irp->Cancel && (control & SL_INVOKE_ON_CANCEL)));
    sl->Control = 0;
    sl->CompletionRoutine = nullptr;
    sl->Context = nullptr;
    if (invoke) {
      DEVICE_OBJECT* device = Irp->CurrentLocation == Irp->StackCount + 1
                                  ? nullptr
                                  : Irp->Tail.Overlay.CurrentStackLocation->DeviceObject;
      if (cpu::CallDriver(routine, device, Irp, context) == STATUS_MORE_PROCESSING_REQUIRED) return;
    } else if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount) {
      Irp->Tail.Overlay.CurrentStackLocation->Control |= SL_PENDING_RETURNED;
    }
  }
  FinishCompletion(Irp);
}

void NTAPI IoCompleteRequest(IRP* Irp, CCHAR PriorityBoost) { IofCompleteRequest(Irp, PriorityBoost); }

NTSTATUS NTAPI IoSetCompletionRoutineEx(DEVICE_OBJECT*, IRP* Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                        PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                        BOOLEAN InvokeOnCancel) {
  // The driver stays loaded while its IRPs are out (no unload races here), so this is the plain form.
  IO_STACK_LOCATION* next = Irp->Tail.Overlay.CurrentStackLocation - 1;
  next->CompletionRoutine = CompletionRoutine;
  next->Context = Context;
  next->Control = static_cast<UCHAR>((InvokeOnSuccess ? SL_INVOKE_ON_SUCCESS : 0) |
                                     (InvokeOnError ? SL_INVOKE_ON_ERROR : 0) |
                                     (InvokeOnCancel ? SL_INVOKE_ON_CANCEL : 0));
  return STATUS_SUCCESS;
}

void NTAPI IoAcquireCancelSpinLock(KIRQL* Irql) {
  *Irql = KeAcquireSpinLockRaiseToDpc(&g_cancelSpinLock);
}

void NTAPI IoReleaseCancelSpinLock(KIRQL Irql) { KeReleaseSpinLock(&g_cancelSpinLock, Irql); }

BOOLEAN NTAPI IoCancelIrp(IRP* Irp) {
  KIRQL irql;
  IoAcquireCancelSpinLock(&irql);
  Irp->Cancel = TRUE;
  const PDRIVER_CANCEL routine = io::ExchangeCancelRoutine(Irp, nullptr);
  if (!routine) {
    IoReleaseCancelSpinLock(irql);
    return FALSE;
  }
  Irp->CancelIrql = irql;
  // The routine releases the cancel spin lock.
  DEVICE_OBJECT* device = Irp->CurrentLocation <= Irp->StackCount
                              ? Irp->Tail.Overlay.CurrentStackLocation->DeviceObject
                              : nullptr;
  cpu::CallDriver(routine, device, Irp);
  return TRUE;
}

namespace {

// The buffers of a request the kernel builds for a driver, by transfer method.
IRP* BuildRequest(io::IrpOrigin origin, UCHAR major, DEVICE_OBJECT* device, ULONG method, PVOID input,
                  ULONG inputLength, PVOID output, ULONG outputLength) {
  const bool buffered = method == METHOD_BUFFERED;
  const ULONG systemBytes = buffered ? std::max(inputLength, outputLength)
                                     : (method != METHOD_NEITHER && major == IRP_MJ_DEVICE_CONTROL) ? inputLength : 0;
  io::IrpBlock* block = io::AllocateIrpBlock(device->StackSize, origin, systemBytes);
  if (!block) return nullptr;
  IRP* irp = &block->irp;
  irp->RequestorMode = KernelMode;
  IO_STACK_LOCATION* sl = irp->Tail.Overlay.CurrentStackLocation - 1;
  sl->MajorFunction = major;
  if (systemBytes) {
    if (input && inputLength) std::memcpy(irp->AssociatedIrp.SystemBuffer, input, inputLength);
    irp->Flags |= IRP_BUFFERED_IO;
  }
  if (buffered) {
    irp->UserBuffer = output;
    if (output && outputLength) irp->Flags |= IRP_INPUT_OPERATION;
    block->kernelOutput = output;
    block->userOutputLength = outputLength;
  } else if (method == METHOD_NEITHER) {
    irp->UserBuffer = output;
  } else if (output && outputLength) {
    irp->MdlAddress = IoAllocateMdl(output, outputLength, FALSE, FALSE, nullptr);
    if (irp->MdlAddress) MmBuildMdlForNonPagedPool(irp->MdlAddress);
    irp->UserBuffer = output;
  }
  return irp;
}

}  // namespace

IRP* NTAPI IoBuildDeviceIoControlRequest(ULONG IoControlCode, DEVICE_OBJECT* DeviceObject, PVOID InputBuffer,
                                         ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                         BOOLEAN InternalDeviceIoControl, KEVENT* Event,
                                         IO_STATUS_BLOCK* IoStatusBlock) {
  const UCHAR major = InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL;
  IRP* irp = BuildRequest(io::IrpOrigin::kSynchronous, IRP_MJ_DEVICE_CONTROL, DeviceObject, IoControlCode & 3,
                          InputBuffer, InputBufferLength, OutputBuffer, OutputBufferLength);
  if (!irp) return nullptr;
  IO_STACK_LOCATION* sl = irp->Tail.Overlay.CurrentStackLocation - 1;
  sl->MajorFunction = major;
  sl->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
  sl->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
  sl->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
  if ((IoControlCode & 3) == METHOD_NEITHER) sl->Parameters.DeviceIoControl.Type3InputBuffer = InputBuffer;
  irp->UserEvent = Event;
  irp->UserIosb = IoStatusBlock;
  return irp;
}

namespace {

IRP* BuildFsdRequest(io::IrpOrigin origin, ULONG MajorFunction, DEVICE_OBJECT* DeviceObject, PVOID Buffer,
                     ULONG Length, LARGE_INTEGER* StartingOffset) {
  const bool transfer = MajorFunction == IRP_MJ_READ || MajorFunction == IRP_MJ_WRITE;
  const ULONG method = !transfer                                 ? METHOD_NEITHER
                       : (DeviceObject->Flags & DO_BUFFERED_IO) ? METHOD_BUFFERED
                       : (DeviceObject->Flags & DO_DIRECT_IO)   ? METHOD_OUT_DIRECT
                                                                : METHOD_NEITHER;
  const bool read = MajorFunction == IRP_MJ_READ;
  IRP* irp = BuildRequest(origin, static_cast<UCHAR>(MajorFunction), DeviceObject, method,
                          read ? nullptr : Buffer, read ? 0 : Length, read ? Buffer : nullptr, read ? Length : 0);
  if (!irp) return nullptr;
  if (!read) irp->Flags &= ~IRP_INPUT_OPERATION;
  if (method == METHOD_NEITHER) irp->UserBuffer = Buffer;
  if (method == METHOD_OUT_DIRECT && !read && Buffer && Length) {
    irp->MdlAddress = IoAllocateMdl(Buffer, Length, FALSE, FALSE, nullptr);
    if (irp->MdlAddress) MmBuildMdlForNonPagedPool(irp->MdlAddress);
  }
  IO_STACK_LOCATION* sl = irp->Tail.Overlay.CurrentStackLocation - 1;
  if (transfer) {
    sl->Parameters.Read.Length = Length;
    if (StartingOffset) sl->Parameters.Read.ByteOffset = *StartingOffset;
  }
  return irp;
}

}  // namespace

IRP* NTAPI IoBuildSynchronousFsdRequest(ULONG MajorFunction, DEVICE_OBJECT* DeviceObject, PVOID Buffer, ULONG Length,
                                        LARGE_INTEGER* StartingOffset, KEVENT* Event, IO_STATUS_BLOCK* IoStatusBlock) {
  IRP* irp = BuildFsdRequest(io::IrpOrigin::kSynchronous, MajorFunction, DeviceObject, Buffer, Length, StartingOffset);
  if (!irp) return nullptr;
  irp->UserEvent = Event;
  irp->UserIosb = IoStatusBlock;
  return irp;
}

IRP* NTAPI IoBuildAsynchronousFsdRequest(ULONG MajorFunction, DEVICE_OBJECT* DeviceObject, PVOID Buffer, ULONG Length,
                                         LARGE_INTEGER* StartingOffset, IO_STATUS_BLOCK* IoStatusBlock) {
  IRP* irp = BuildFsdRequest(io::IrpOrigin::kAsynchronous, MajorFunction, DeviceObject, Buffer, Length, StartingOffset);
  if (irp) irp->UserIosb = IoStatusBlock;
  return irp;
}

}  // namespace ntbox::nt
