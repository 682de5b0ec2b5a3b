// Cancel-safe IRP queues: the driver keeps the queue and its lock; the I/O manager owns the
// cancel logic. An inserted IRP is marked pending and gets ntbox's cancel routine; whoever clears
// that routine first (a remover or IoCancelIrp) owns the IRP, so an IRP is never both removed and
// cancelled. The IRP's DriverContext[3] points at the caller's IO_CSQ_IRP_CONTEXT, or the queue.
#include <atomic>

#include "cpu/HostState.h"

#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoTypes.h"

namespace ntbox::nt {
namespace {

PVOID& ContextSlot(IRP* irp) { return irp->Tail.Overlay.DriverContext[3]; }

IO_CSQ* QueueOf(PVOID context) {
  auto* c = static_cast<IO_CSQ_IRP_CONTEXT*>(context);
  return c->Type == IO_TYPE_CSQ_IRP_CONTEXT ? c->Csq : static_cast<IO_CSQ*>(context);
}

void ForgetIrp(IRP* irp) {
  auto* c = static_cast<IO_CSQ_IRP_CONTEXT*>(ContextSlot(irp));
  if (c && c->Type == IO_TYPE_CSQ_IRP_CONTEXT) c->Irp = nullptr;
  ContextSlot(irp) = nullptr;
}

// IoCancelIrp calls it with the cancel spin lock held.
void NTAPI CsqCancelRoutine(DEVICE_OBJECT*, IRP* irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  IO_CSQ* csq = QueueOf(ContextSlot(irp));
  KIRQL irql;
  cpu::CallDriver(csq->CsqAcquireLock, csq, &irql);
  cpu::CallDriver(csq->CsqRemoveIrp, csq, irp);
  ForgetIrp(irp);
  cpu::CallDriver(csq->CsqReleaseLock, csq, irql);
  cpu::CallDriver(csq->CsqCompleteCanceledIrp, csq, irp);
}

NTSTATUS Initialize(IO_CSQ* csq, ULONG type, PVOID insert, PIO_CSQ_REMOVE_IRP remove, PIO_CSQ_PEEK_NEXT_IRP peek,
                    PIO_CSQ_ACQUIRE_LOCK acquire, PIO_CSQ_RELEASE_LOCK release,
                    PIO_CSQ_COMPLETE_CANCELED_IRP complete) {
  csq->Type = type;
  csq->CsqInsertIrp = insert;
  csq->CsqRemoveIrp = remove;
  csq->CsqPeekNextIrp = peek;
  csq->CsqAcquireLock = acquire;
  csq->CsqReleaseLock = release;
  csq->CsqCompleteCanceledIrp = complete;
  csq->ReservePointer = nullptr;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI IoCsqInitialize(IO_CSQ* Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                               PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                               PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                               PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return Initialize(Csq, IO_TYPE_CSQ, reinterpret_cast<PVOID>(CsqInsertIrp), CsqRemoveIrp, CsqPeekNextIrp,
                    CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

NTSTATUS NTAPI IoCsqInitializeEx(IO_CSQ* Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                                 PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                                 PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                                 PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return Initialize(Csq, IO_TYPE_CSQ_EX, reinterpret_cast<PVOID>(CsqInsertIrp), CsqRemoveIrp, CsqPeekNextIrp,
                    CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

NTSTATUS NTAPI IoCsqInsertIrpEx(IO_CSQ* Csq, IRP* Irp, IO_CSQ_IRP_CONTEXT* Context, PVOID InsertContext) {
  KIRQL irql;
  cpu::CallDriver(Csq->CsqAcquireLock, Csq, &irql);
  if (Csq->Type == IO_TYPE_CSQ_EX) {
    const NTSTATUS status = cpu::CallDriver(reinterpret_cast<PIO_CSQ_INSERT_IRP_EX>(Csq->CsqInsertIrp), Csq, Irp, InsertContext);
    if (!NT_SUCCESS(status)) {
      cpu::CallDriver(Csq->CsqReleaseLock, Csq, irql);
      return status;
    }
  } else {
    cpu::CallDriver(reinterpret_cast<PIO_CSQ_INSERT_IRP>(Csq->CsqInsertIrp), Csq, Irp);
  }
  if (Context) {
    Context->Type = IO_TYPE_CSQ_IRP_CONTEXT;
    Context->Irp = Irp;
    Context->Csq = Csq;
    ContextSlot(Irp) = Context;
  } else {
    ContextSlot(Irp) = Csq;
  }
  Irp->Tail.Overlay.CurrentStackLocation->Control |= SL_PENDING_RETURNED;  // IoMarkIrpPending
  io::ExchangeCancelRoutine(Irp, &CsqCancelRoutine);
  // Cancelled before the routine was set: IoCancelIrp found none to call, so cancel it here.
  if (Irp->Cancel && io::ExchangeCancelRoutine(Irp, nullptr)) {
    cpu::CallDriver(Csq->CsqRemoveIrp, Csq, Irp);
    ForgetIrp(Irp);
    cpu::CallDriver(Csq->CsqReleaseLock, Csq, irql);
    cpu::CallDriver(Csq->CsqCompleteCanceledIrp, Csq, Irp);
    return STATUS_SUCCESS;
  }
  cpu::CallDriver(Csq->CsqReleaseLock, Csq, irql);
  return STATUS_SUCCESS;
}

void NTAPI IoCsqInsertIrp(IO_CSQ* Csq, IRP* Irp, IO_CSQ_IRP_CONTEXT* Context) {
  (void)IoCsqInsertIrpEx(Csq, Irp, Context, nullptr);
}

IRP* NTAPI IoCsqRemoveIrp(IO_CSQ* Csq, IO_CSQ_IRP_CONTEXT* Context) {
  KIRQL irql;
  cpu::CallDriver(Csq->CsqAcquireLock, Csq, &irql);
  IRP* irp = Context->Irp;
  if (irp) {
    if (io::ExchangeCancelRoutine(irp, nullptr)) {
      cpu::CallDriver(Csq->CsqRemoveIrp, Csq, irp);
      ForgetIrp(irp);
    } else {
      irp = nullptr;  // being cancelled: the cancel routine completes it
    }
  }
  cpu::CallDriver(Csq->CsqReleaseLock, Csq, irql);
  return irp;
}

IRP* NTAPI IoCsqRemoveNextIrp(IO_CSQ* Csq, PVOID PeekContext) {
  KIRQL irql;
  cpu::CallDriver(Csq->CsqAcquireLock, Csq, &irql);
  IRP* irp = cpu::CallDriver(Csq->CsqPeekNextIrp, Csq, nullptr, PeekContext);
  while (irp) {
    if (io::ExchangeCancelRoutine(irp, nullptr)) {
      cpu::CallDriver(Csq->CsqRemoveIrp, Csq, irp);
      ForgetIrp(irp);
      break;
    }
    irp = cpu::CallDriver(Csq->CsqPeekNextIrp, Csq, irp, PeekContext);  // being cancelled: skip it
  }
  cpu::CallDriver(Csq->CsqReleaseLock, Csq, irql);
  return irp;
}

}  // namespace ntbox::nt
