#include "nt/io/Overlapped.h"

#include <list>

#include "cpu/SafeCopy.h"
#include "nt/Status.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ob/ObExports.h"
#include "nt/ps/Process.h"
#include "nt/ps/UserThreads.h"
#include "nt/ke/Thread.h"

namespace ntbox::nt::io {

struct OverlappedRequest {
  IrpBlock* block;
  ps::Process* process;  // nullptr once the process has ended: complete into nothing
  FILE_OBJECT* file;     // referenced until the request is reaped
  void* overlapped;      // the program's OVERLAPPED
  void* event;           // its event object (referenced), or nullptr
  std::uint64_t apcContext = 0;  // for the file's completion port, or the APC's argument
  std::uint64_t apcRoutine = 0;
  void* thread = nullptr;        // the issuing thread's object (referenced) when there is an APC
  bool done = false;
};

namespace {

// Every overlapped request not yet reaped; changed under the kernel lock.
std::list<OverlappedRequest*>& Requests() {
  static auto* requests = new std::list<OverlappedRequest*>();
  return *requests;
}

// Completed requests not reaped yet: a send looks for them only when there are some.
std::size_t g_unreaped = 0;

// OVERLAPPED.Internal and InternalHigh.
void WriteStatus(void* overlapped, NTSTATUS status, ULONG_PTR information) {
  const std::uint64_t fields[2] = {static_cast<std::uint32_t>(status), information};
  (void)cpu::SafeCopy(overlapped, fields, sizeof fields);
}

// Frees a finished request (at PASSIVE_LEVEL, on a program's thread: the last reference to the
// file may send IRP_MJ_CLOSE).
void Reap(OverlappedRequest* r) {
  if (r->done) --g_unreaped;
  if (r->thread) ob::DereferenceObject(r->thread);
  FreeIrpBlock(r->block);
  if (r->event) ob::DereferenceObject(r->event);
  ob::DereferenceObject(r->file);
  delete r;
}

void ReapDone() {
  if (g_unreaped == 0) return;
  auto& requests = Requests();
  for (auto it = requests.begin(); it != requests.end();) {
    if ((*it)->done) {
      OverlappedRequest* r = *it;
      it = requests.erase(it);
      Reap(r);
    } else {
      ++it;
    }
  }
}

OverlappedRequest* Find(const ps::Process& process, const void* overlapped) {
  for (OverlappedRequest* r : Requests()) {
    if (r->process == &process && r->overlapped == overlapped) return r;
  }
  return nullptr;
}

}  // namespace

NTSTATUS SendOverlapped(ps::Process& process, FILE_OBJECT* file, DEVICE_OBJECT* top, IrpBlock* block,
                        const AsyncRequest& async, ULONG_PTR& information) {
  ReapDone();
  void* event = nullptr;
  if (async.event) {
    auto entry = process.handles().Reference(async.event);
    if (!entry) {
      FreeIrpBlock(block);
      return STATUS_INVALID_HANDLE;
    }
    if (ob::HeaderOf(entry->body)->type != &ob::EventType()) {
      ob::DereferenceObject(entry->body);
      FreeIrpBlock(block);
      return STATUS_OBJECT_TYPE_MISMATCH;
    }
    event = entry->body;
    KeResetEvent(static_cast<KEVENT*>(event));
  }
  ob::ReferenceObject(file);
  auto* r = new OverlappedRequest{block, &process, file, async.overlapped, event, async.apcContext, async.apcRoutine};
  if (r->apcRoutine) {
    r->thread = ke::CurrentThread()->kthread();
    ob::ReferenceObject(r->thread);
  }
  block->async = r;
  Requests().push_back(r);
  WriteStatus(async.overlapped, STATUS_PENDING, 0);
  const NTSTATUS returned = IofCallDriver(top, &block->irp);
  if (r->done) {
    information = block->irp.IoStatus.Information;
    const NTSTATUS status = block->irp.IoStatus.Status;
    Requests().remove(r);
    Reap(r);
    return status;
  }
  // Neither completed nor pending: the driver kept the IRP but said otherwise. Its answer stands.
  if (returned != STATUS_PENDING) WriteStatus(async.overlapped, returned, 0);
  information = 0;
  return returned;
}

void CompletedAtOnce(FILE_OBJECT* file, const AsyncRequest& async, NTSTATUS status, ULONG_PTR information) {
  if (async.event) {
    void* event = nullptr;
    // The handle's low bit only keeps the packet from the port.
    const auto handle = reinterpret_cast<HANDLE>(async.event & ~ob::HandleValue{1});
    if (NT_SUCCESS(ObReferenceObjectByHandle(handle, 0, g_ExEventObjectType, UserMode, &event, nullptr))) {
      KeSetEvent(static_cast<KEVENT*>(event), 0, FALSE);
      ob::DereferenceObject(event);
    }
  }
  const FileTail* tail = TailOf(file);
  if (async.apcRoutine) {
    if (ke::KernelThread* t = ke::CurrentThread()) {
      ps::QueueUserApc(t->kthread(), {async.apcRoutine, async.apcContext, reinterpret_cast<std::uint64_t>(async.overlapped), 0});
    }
  } else if (tail->completionPort && async.apcContext && !(async.event & 1)) {
    PostCompletion(tail->completionPort, {tail->completionKey, async.apcContext, status, information});
  }
}

bool CompleteOverlapped(IrpBlock* block) {
  auto* r = static_cast<OverlappedRequest*>(block->async);
  if (!r) return false;
  if (r->process) WriteStatus(r->overlapped, block->irp.IoStatus.Status, block->irp.IoStatus.Information);
  if (r->event) KeSetEvent(static_cast<KEVENT*>(r->event), 0, FALSE);
  const FileTail* tail = TailOf(r->file);
  if (r->process && r->apcRoutine) {
    ps::QueueUserApc(r->thread, {r->apcRoutine, r->apcContext, reinterpret_cast<std::uint64_t>(r->overlapped), 0});
  } else if (r->process && tail->completionPort && r->apcContext) {
    PostCompletion(tail->completionPort, {tail->completionKey, r->apcContext, block->irp.IoStatus.Status,
                                          block->irp.IoStatus.Information});
  }
  r->done = true;
  ++g_unreaped;
  block->done.store(1, std::memory_order_release);
  ke::WakeWaiters();
  return true;
}

std::size_t CancelOverlapped(ps::Process& process, const FILE_OBJECT* file, const void* overlapped) {
  std::vector<IRP*> pending;
  for (OverlappedRequest* r : Requests()) {
    if (r->process != &process || r->done) continue;
    if (file && r->file != file) continue;
    if (overlapped && r->overlapped != overlapped) continue;
    pending.push_back(&r->block->irp);
  }
  // IoCancelIrp runs the driver's cancel routine, which may complete (and change) the list.
  for (IRP* irp : pending) IoCancelIrp(irp);
  ReapDone();
  return pending.size();
}

bool WaitOverlapped(ps::Process& process, const void* overlapped) {
  OverlappedRequest* r = Find(process, overlapped);
  if (!r) return false;
  if (ke::WaitUntil([r] { return r->done; }) == ke::WaitOutcome::kStopped) return true;
  Requests().remove(r);
  Reap(r);
  return true;
}

void EndOverlapped(ps::Process& process) {
  CancelOverlapped(process, nullptr, nullptr);
  // Drivers complete cancelled IRPs promptly; one that does not keeps its IRP, completed later
  // into nothing.
  const std::int64_t deadline = ke::DueInterruptTime(-10 * 1000 * 1000);  // 1 s
  (void)ke::WaitUntil(
      [&process] {
        for (const OverlappedRequest* r : Requests()) {
          if (r->process == &process && !r->done) return false;
        }
        return true;
      },
      deadline);
  for (OverlappedRequest* r : Requests()) {
    if (r->process == &process) r->process = nullptr;
  }
  ReapDone();
}

}  // namespace ntbox::nt::io
