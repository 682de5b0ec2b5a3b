// System worker threads: the Critical, Delayed and HyperCritical work queues whose items run at
// PASSIVE_LEVEL in the System process (ExQueueWorkItem, IoQueueWorkItem).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "nt/Types.h"
#include "nt/ex/ExTypes.h"

namespace ntbox::nt {
struct DEVICE_OBJECT;
}

namespace ntbox::nt::ex {

enum WorkQueueType : int { CriticalWorkQueue = 0, DelayedWorkQueue = 1, HyperCriticalWorkQueue = 2 };

class WorkQueues {
 public:
  WorkQueues();
  // Stops the threads; call without the kernel lock.
  ~WorkQueues();
  WorkQueues(const WorkQueues&) = delete;
  WorkQueues& operator=(const WorkQueues&) = delete;

  // Under the kernel lock. Unknown queue types go to the delayed queue, as Windows' do.
  void Queue(WORK_QUEUE_ITEM* item, int type);
  // Items queued but not started whose item or routine lies in [begin, end) (the unload check).
  std::vector<const WORK_QUEUE_ITEM*> LiveIn(std::uint64_t begin, std::uint64_t end) const;
  std::uint64_t itemsRun() const { return itemsRun_; }
  // Items queued or running (WaitIdle), and the routine of one of them.
  std::size_t Pending(std::uint64_t* routine) const;

 private:
  void Run(int type, std::uint32_t processor);
  std::array<std::deque<WORK_QUEUE_ITEM*>, 3> queues_;
  std::vector<std::thread> threads_;
  bool done_ = false;
  std::uint64_t itemsRun_ = 0;
  std::vector<std::uint64_t> running_;  // routines running now (one a worker thread)
};

}  // namespace ntbox::nt::ex

namespace ntbox::nt {

void NTAPI ExQueueWorkItem(WORK_QUEUE_ITEM* WorkItem, int QueueType);

// IO_WORKITEM: opaque to drivers; the item keeps its device object referenced while queued.
struct IO_WORKITEM;
using PIO_WORKITEM_ROUTINE = void(NTAPI*)(DEVICE_OBJECT* DeviceObject, PVOID Context);
using PIO_WORKITEM_ROUTINE_EX = void(NTAPI*)(PVOID IoObject, PVOID Context, IO_WORKITEM* IoWorkItem);
IO_WORKITEM* NTAPI IoAllocateWorkItem(DEVICE_OBJECT* DeviceObject);
void NTAPI IoFreeWorkItem(IO_WORKITEM* IoWorkItem);
void NTAPI IoQueueWorkItem(IO_WORKITEM* IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, int QueueType, PVOID Context);
void NTAPI IoQueueWorkItemEx(IO_WORKITEM* IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, int QueueType,
                             PVOID Context);
ULONG NTAPI IoSizeofWorkItem();
void NTAPI IoInitializeWorkItem(PVOID IoObject, IO_WORKITEM* IoWorkItem);
void NTAPI IoUninitializeWorkItem(IO_WORKITEM* IoWorkItem);

}  // namespace ntbox::nt
