// Device queues: the FIFO (or sort-key ordered) list of entries waiting for a busy device, as
// IoStartPacket keeps IRPs for a driver's StartIo. Insertion into an idle queue does not queue: it
// marks the queue busy and tells the caller to start the work itself. Removal from an empty queue
// marks it idle. Driver code runs one thread at a time under the kernel lock, and these routines
// call no driver code, so the queue's own spin lock is not taken here.
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {
namespace {

constexpr CSHORT kDeviceQueueObject = 0x14;

KDEVICE_QUEUE_ENTRY* EntryOf(LIST_ENTRY* link) {
  return reinterpret_cast<KDEVICE_QUEUE_ENTRY*>(reinterpret_cast<char*>(link) -
                                                offsetof(KDEVICE_QUEUE_ENTRY, DeviceListEntry));
}

void Unlink(KDEVICE_QUEUE_ENTRY* entry) {
  LIST_ENTRY* link = &entry->DeviceListEntry;
  link->Blink->Flink = link->Flink;
  link->Flink->Blink = link->Blink;
  entry->Inserted = FALSE;
}

void InsertBefore(LIST_ENTRY* next, KDEVICE_QUEUE_ENTRY* entry) {
  LIST_ENTRY* link = &entry->DeviceListEntry;
  link->Flink = next;
  link->Blink = next->Blink;
  next->Blink->Flink = link;
  next->Blink = link;
  entry->Inserted = TRUE;
}

// An idle queue becomes busy and the caller starts the entry; false then.
bool Claim(KDEVICE_QUEUE* queue, KDEVICE_QUEUE_ENTRY* entry) {
  if (queue->Busy) return true;
  queue->Busy = TRUE;
  entry->Inserted = FALSE;
  return false;
}

}  // namespace

void NTAPI KeInitializeDeviceQueue(KDEVICE_QUEUE* DeviceQueue) {
  DeviceQueue->Type = kDeviceQueueObject;
  DeviceQueue->Size = sizeof(KDEVICE_QUEUE);
  DeviceQueue->DeviceListHead.Flink = DeviceQueue->DeviceListHead.Blink = &DeviceQueue->DeviceListHead;
  DeviceQueue->Lock = 0;
  DeviceQueue->Busy = FALSE;
}

BOOLEAN NTAPI KeInsertDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry) {
  if (!Claim(DeviceQueue, DeviceQueueEntry)) return FALSE;
  InsertBefore(&DeviceQueue->DeviceListHead, DeviceQueueEntry);
  return TRUE;
}

// Ordered by key, ascending; an entry goes after those with an equal key.
BOOLEAN NTAPI KeInsertByKeyDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry,
                                       ULONG SortKey) {
  DeviceQueueEntry->SortKey = SortKey;
  if (!Claim(DeviceQueue, DeviceQueueEntry)) return FALSE;
  LIST_ENTRY* head = &DeviceQueue->DeviceListHead;
  LIST_ENTRY* next = head->Flink;
  while (next != head && EntryOf(next)->SortKey <= SortKey) next = next->Flink;
  InsertBefore(next, DeviceQueueEntry);
  return TRUE;
}

KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveDeviceQueue(KDEVICE_QUEUE* DeviceQueue) {
  LIST_ENTRY* head = &DeviceQueue->DeviceListHead;
  if (head->Flink == head) {
    DeviceQueue->Busy = FALSE;
    return nullptr;
  }
  KDEVICE_QUEUE_ENTRY* entry = EntryOf(head->Flink);
  Unlink(entry);
  return entry;
}

// The first entry whose key is at least SortKey; the first of all when none is.
KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveByKeyDeviceQueue(KDEVICE_QUEUE* DeviceQueue, ULONG SortKey) {
  LIST_ENTRY* head = &DeviceQueue->DeviceListHead;
  if (head->Flink == head) {
    DeviceQueue->Busy = FALSE;
    return nullptr;
  }
  LIST_ENTRY* link = head->Flink;
  while (link != head && EntryOf(link)->SortKey < SortKey) link = link->Flink;
  KDEVICE_QUEUE_ENTRY* entry = EntryOf(link != head ? link : head->Flink);
  Unlink(entry);
  return entry;
}

// As KeRemoveByKeyDeviceQueue, but an idle queue stays idle.
KDEVICE_QUEUE_ENTRY* NTAPI KeRemoveByKeyDeviceQueueIfBusy(KDEVICE_QUEUE* DeviceQueue, ULONG SortKey) {
  if (!DeviceQueue->Busy) return nullptr;
  return KeRemoveByKeyDeviceQueue(DeviceQueue, SortKey);
}

BOOLEAN NTAPI KeRemoveEntryDeviceQueue(KDEVICE_QUEUE* DeviceQueue, KDEVICE_QUEUE_ENTRY* DeviceQueueEntry) {
  (void)DeviceQueue;
  if (!DeviceQueueEntry->Inserted) return FALSE;
  Unlink(DeviceQueueEntry);
  return TRUE;
}

}  // namespace ntbox::nt
