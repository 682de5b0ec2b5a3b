#include "nt/ex/WorkQueue.h"

#include <algorithm>

#include "cpu/HostState.h"

#include <mutex>

#include "nt/Kernel.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"

namespace ntbox::nt {
namespace ex {
namespace {

// Threads per queue: enough that an item waiting on another item's work does not stall the queue.
constexpr std::array<int, 3> kThreads = {3, 3, 1};
constexpr ULONG WORKER_THREAD_RETURNED_AT_BAD_IRQL = 0xE1;

bool Within(const void* p, std::uint64_t begin, std::uint64_t end) {
  const auto a = reinterpret_cast<std::uint64_t>(p);
  return a >= begin && a < end;
}

// Windows' check after every work item: the routine must come back at PASSIVE_LEVEL.
void CheckReturnIrql(const void* routine, const void* item) {
  const ke::KernelThread* t = ke::CurrentThread();
  if (t->Irql() == PASSIVE_LEVEL) return;
  RaiseBugCheck(WORKER_THREAD_RETURNED_AT_BAD_IRQL, reinterpret_cast<ULONG64>(routine), t->Irql(),
                reinterpret_cast<ULONG64>(item), reinterpret_cast<ULONG64>(item),
                "a work item routine returned at an IRQL above PASSIVE_LEVEL", reinterpret_cast<ULONG64>(routine));
}

}  // namespace

WorkQueues::WorkQueues() {
  std::uint32_t processor = 0;
  for (int type = 0; type < 3; ++type) {
    for (int i = 0; i < kThreads[type]; ++i) threads_.emplace_back([this, type, processor] { Run(type, processor); });
    ++processor;
  }
}

WorkQueues::~WorkQueues() {
  {
    std::lock_guard lock(ke::TheKernelLock());
    done_ = true;
    ke::WakeWaiters();
  }
  for (auto& t : threads_) t.join();
}

void WorkQueues::Queue(WORK_QUEUE_ITEM* item, int type) {
  if (type < 0 || type > 2) type = DelayedWorkQueue;
  item->List.Flink = reinterpret_cast<LIST_ENTRY*>(&queues_[type]);  // non-null: queued
  queues_[type].push_back(item);
  ke::WakeWaiters();
}

std::size_t WorkQueues::Pending(std::uint64_t* routine) const {
  std::size_t n = running_.size();
  if (!running_.empty()) *routine = running_.front();
  for (const auto& q : queues_) {
    if (!q.empty() && n == 0) *routine = reinterpret_cast<std::uint64_t>(q.front()->WorkerRoutine);
    n += q.size();
  }
  return n;
}

std::vector<const WORK_QUEUE_ITEM*> WorkQueues::LiveIn(std::uint64_t begin, std::uint64_t end) const {
  std::vector<const WORK_QUEUE_ITEM*> out;
  for (const auto& q : queues_) {
    for (const WORK_QUEUE_ITEM* item : q) {
      if (Within(item, begin, end) || Within(reinterpret_cast<const void*>(item->WorkerRoutine), begin, end)) {
        out.push_back(item);
      }
    }
  }
  return out;
}

void WorkQueues::Run(int type, std::uint32_t processor) {
  ke::ThreadAttachment attachment(processor % Kernel::Current().config().processors);
  auto& queue = queues_[type];
  std::lock_guard lock(ke::TheKernelLock());
  for (;;) {
    if (ke::WaitUntil([&] { return done_ || !queue.empty(); }) != ke::WaitOutcome::kReady || done_) break;
    WORK_QUEUE_ITEM* item = queue.front();
    queue.pop_front();
    // The item may be queued again (or freed) by its own routine.
    item->List.Flink = nullptr;
    const PWORKER_THREAD_ROUTINE routine = item->WorkerRoutine;
    PVOID parameter = item->Parameter;
    ++itemsRun_;
    running_.push_back(reinterpret_cast<std::uint64_t>(routine));
    (void)Kernel::Current().RunGuarded([&] {
      cpu::CallDriver(routine, parameter);
      CheckReturnIrql(reinterpret_cast<const void*>(routine), item);
    });
    running_.erase(std::find(running_.begin(), running_.end(), reinterpret_cast<std::uint64_t>(routine)));
    attachment.thread().SetIrql(PASSIVE_LEVEL);
  }
}

}  // namespace ex

void NTAPI ExQueueWorkItem(WORK_QUEUE_ITEM* WorkItem, int QueueType) {
  Kernel::Current().workQueues().Queue(WorkItem, QueueType);
}

// The driver allocates IoSizeofWorkItem() bytes for IoInitializeWorkItem, so this is plain data.
struct IO_WORKITEM {
  WORK_QUEUE_ITEM item;
  PVOID ioObject;
  PVOID routine;
  PVOID context;
  ULONG extended;  // routine is a PIO_WORKITEM_ROUTINE_EX
  ULONG queued;
};

namespace {

void NTAPI RunIoWorkItem(PVOID parameter) {
  auto* w = static_cast<IO_WORKITEM*>(parameter);
  PVOID object = w->ioObject;
  PVOID routine = w->routine;
  w->queued = 0;
  if (w->extended) {
    reinterpret_cast<PIO_WORKITEM_ROUTINE_EX>(routine)(object, w->context, w);
  } else {
    reinterpret_cast<PIO_WORKITEM_ROUTINE>(routine)(static_cast<DEVICE_OBJECT*>(object), w->context);
  }
  ex::CheckReturnIrql(routine, parameter);
  // The reference IoQueueWorkItem took keeps the driver's device (and so its code) alive until now.
  if (object) ob::DereferenceObject(object);
}

void QueueIoWorkItem(IO_WORKITEM* w, PVOID routine, bool extended, int type, PVOID context) {
  w->routine = routine;
  w->extended = extended ? 1 : 0;
  w->context = context;
  w->queued = 1;
  if (w->ioObject && ob::HeaderOf(w->ioObject)) ob::ReferenceObject(w->ioObject);
  w->item.WorkerRoutine = &RunIoWorkItem;
  w->item.Parameter = w;
  Kernel::Current().workQueues().Queue(&w->item, type);
}

}  // namespace

ULONG NTAPI IoSizeofWorkItem() { return sizeof(IO_WORKITEM); }

void NTAPI IoInitializeWorkItem(PVOID IoObject, IO_WORKITEM* IoWorkItem) {
  *IoWorkItem = IO_WORKITEM{};
  IoWorkItem->ioObject = ob::HeaderOf(IoObject) ? IoObject : nullptr;
}

void NTAPI IoUninitializeWorkItem(IO_WORKITEM*) {}

IO_WORKITEM* NTAPI IoAllocateWorkItem(DEVICE_OBJECT* DeviceObject) {
  auto* w = new IO_WORKITEM{};
  IoInitializeWorkItem(DeviceObject, w);
  return w;
}

void NTAPI IoFreeWorkItem(IO_WORKITEM* IoWorkItem) { delete IoWorkItem; }

void NTAPI IoQueueWorkItem(IO_WORKITEM* IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, int QueueType,
                           PVOID Context) {
  QueueIoWorkItem(IoWorkItem, reinterpret_cast<PVOID>(WorkerRoutine), false, QueueType, Context);
}

void NTAPI IoQueueWorkItemEx(IO_WORKITEM* IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, int QueueType,
                             PVOID Context) {
  QueueIoWorkItem(IoWorkItem, reinterpret_cast<PVOID>(WorkerRoutine), true, QueueType, Context);
}

}  // namespace ntbox::nt
