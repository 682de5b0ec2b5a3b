// Interlocked lists (a LIST_ENTRY or SINGLE_LIST_ENTRY guarded by the caller's spin lock),
// S-lists (the x64 header: depth and sequence, then the first entry) and lookaside lists, whose
// allocate and free paths drivers run inline over the S-list exports.
#include <set>

#include "cpu/HostState.h"

#include "nt/Status.h"
#include "nt/ex/ExTypes.h"
#include "nt/ex/LiveObjects.h"
#include "nt/ex/PoolExports.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/SpinLock.h"
#include "nt/vf/Verifier.h"

namespace ntbox::nt {
namespace {

ULONG64 Caller(void* returnAddress) { return reinterpret_cast<ULONG64>(returnAddress); }
ULONG64 Address(const void* p) { return reinterpret_cast<ULONG64>(p); }

// Holds the caller's spin lock for one list operation (interrupts would be off on Windows).
class ListLock {
 public:
  ListLock(KSPIN_LOCK* lock, ULONG64 caller) : lock_(lock), caller_(caller) { ke::AcquireSpinLock(lock_, caller_); }
  ~ListLock() { ke::ReleaseSpinLock(lock_, caller_); }
  ListLock(const ListLock&) = delete;
  ListLock& operator=(const ListLock&) = delete;

 private:
  KSPIN_LOCK* lock_;
  ULONG64 caller_;
};

// S-list header fields.
constexpr ULONGLONG kDepthMask = 0xFFFF;
constexpr ULONGLONG kSequenceUnit = 0x10000;
constexpr ULONGLONG kHeaderTypeX64 = 0x1;

SLIST_ENTRY* First(const SLIST_HEADER* h) { return reinterpret_cast<SLIST_ENTRY*>(h->Region & ~0xFull); }

void SetFirst(SLIST_HEADER* h, SLIST_ENTRY* e, int depthChange) {
  const ULONGLONG depth = ((h->Alignment & kDepthMask) + static_cast<ULONGLONG>(depthChange)) & kDepthMask;
  const ULONGLONG sequence = (h->Alignment & ~kDepthMask) + kSequenceUnit;
  h->Alignment = sequence | depth;
  h->Region = Address(e) | kHeaderTypeX64;
}

}  // namespace

LIST_ENTRY* NTAPI ExInterlockedInsertHeadList(LIST_ENTRY* ListHead, LIST_ENTRY* ListEntry, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  LIST_ENTRY* first = ListHead->Flink;
  ListEntry->Flink = first;
  ListEntry->Blink = ListHead;
  first->Blink = ListEntry;
  ListHead->Flink = ListEntry;
  return first == ListHead ? nullptr : first;
}

LIST_ENTRY* NTAPI ExInterlockedInsertTailList(LIST_ENTRY* ListHead, LIST_ENTRY* ListEntry, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  LIST_ENTRY* last = ListHead->Blink;
  ListEntry->Flink = ListHead;
  ListEntry->Blink = last;
  last->Flink = ListEntry;
  ListHead->Blink = ListEntry;
  return last == ListHead ? nullptr : last;
}

LIST_ENTRY* NTAPI ExInterlockedRemoveHeadList(LIST_ENTRY* ListHead, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  LIST_ENTRY* first = ListHead->Flink;
  if (first == ListHead) return nullptr;
  ListHead->Flink = first->Flink;
  first->Flink->Blink = ListHead;
  return first;
}

SINGLE_LIST_ENTRY* NTAPI ExInterlockedPushEntryList(SINGLE_LIST_ENTRY* ListHead, SINGLE_LIST_ENTRY* ListEntry,
                                                   KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  SINGLE_LIST_ENTRY* first = ListHead->Next;
  ListEntry->Next = first;
  ListHead->Next = ListEntry;
  return first;
}

SINGLE_LIST_ENTRY* NTAPI ExInterlockedPopEntryList(SINGLE_LIST_ENTRY* ListHead, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  SINGLE_LIST_ENTRY* first = ListHead->Next;
  if (first) ListHead->Next = first->Next;
  return first;
}

ULONG NTAPI ExInterlockedAddUlong(ULONG* Addend, ULONG Increment, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  const ULONG old = *Addend;
  *Addend = old + Increment;
  return old;
}

LARGE_INTEGER NTAPI ExInterlockedAddLargeInteger(LARGE_INTEGER* Addend, LARGE_INTEGER Increment, KSPIN_LOCK* Lock) {
  ListLock guard(Lock, Caller(__builtin_return_address(0)));
  const LARGE_INTEGER old = *Addend;
  Addend->QuadPart += Increment.QuadPart;
  return old;
}

// S-lists. Callers are driver code under the kernel lock, so plain updates are atomic to them.
void NTAPI InitializeSListHead(SLIST_HEADER* SListHead) {
  SListHead->Alignment = 0;
  SListHead->Region = 0;
}

USHORT NTAPI ExQueryDepthSList(SLIST_HEADER* SListHead) { return static_cast<USHORT>(SListHead->Alignment & kDepthMask); }

SLIST_ENTRY* NTAPI RtlFirstEntrySList(const SLIST_HEADER* ListHead) { return First(ListHead); }

SLIST_ENTRY* NTAPI ExpInterlockedPushEntrySList(SLIST_HEADER* ListHead, SLIST_ENTRY* ListEntry) {
  SLIST_ENTRY* first = First(ListHead);
  ListEntry->Next = first;
  SetFirst(ListHead, ListEntry, +1);
  return first;
}

SLIST_ENTRY* NTAPI ExpInterlockedPopEntrySList(SLIST_HEADER* ListHead) {
  SLIST_ENTRY* first = First(ListHead);
  if (first) SetFirst(ListHead, first->Next, -1);
  return first;
}

SLIST_ENTRY* NTAPI ExpInterlockedFlushSList(SLIST_HEADER* ListHead) {
  SLIST_ENTRY* first = First(ListHead);
  ListHead->Alignment = (ListHead->Alignment & ~kDepthMask) + kSequenceUnit;
  ListHead->Region = kHeaderTypeX64;
  return first;
}

// Lookaside lists.
namespace {

constexpr USHORT kMinimumDepth = 4;
constexpr USHORT kMaximumDepth = 256;
constexpr SIZE_T kMinimumBlockSize = sizeof(SLIST_ENTRY*);  // LOOKASIDE_MINIMUM_BLOCK_SIZE

// Initialized lists, for the verifier's re-initialize and delete rules (0xC4/0xCA, 0xCB).
std::set<const void*>& LiveLists() {
  static auto* lists = new std::set<const void*>();
  return *lists;
}

}  // namespace

const void* ex::LiveLookasideIn(std::uint64_t begin, std::uint64_t end, bool forget) {
  return FirstIn(LiveLists(), begin, end, forget);
}

namespace {

PVOID NTAPI DefaultAllocateEx(POOL_TYPE type, SIZE_T bytes, ULONG tag, LOOKASIDE_LIST_EX*) {
  return ExAllocatePoolWithTag(type, bytes, tag);
}

void NTAPI DefaultFreeEx(PVOID buffer, LOOKASIDE_LIST_EX*) { ExFreePool(buffer); }

void Initialize(GENERAL_LOOKASIDE_POOL& l, const void* list, POOL_TYPE type, SIZE_T size, ULONG tag, ULONG64 caller) {
  if (vf::Watches(caller, vf::flags::kMiscellaneousChecks)) {
    if (LiveLists().contains(list)) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCA, Address(list), 0, 0,
                    "a lookaside list was initialized again without being deleted", caller);
    }
    if (size < kMinimumBlockSize) {
      RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCD, Address(list), size, kMinimumBlockSize,
                    "a lookaside list with a block size below the minimum", caller);
    }
  }
  LiveLists().insert(list);
  l.ListHead.Alignment = 0;
  l.ListHead.Region = 0;
  l.Depth = kMinimumDepth;
  l.MaximumDepth = kMaximumDepth;
  l.TotalAllocates = l.AllocateMisses = l.TotalFrees = l.FreeMisses = 0;
  l.Type = type;
  l.Tag = tag;
  l.Size = static_cast<ULONG>(size);
  l.ListEntry.Flink = l.ListEntry.Blink = &l.ListEntry;
  l.LastTotalAllocates = l.LastAllocateMisses = 0;
  l.Future[0] = l.Future[1] = 0;
}

void Delete(GENERAL_LOOKASIDE_POOL& l, const void* list, bool ex, ULONG64 caller) {
  if (!LiveLists().erase(list) && vf::Watches(caller, vf::flags::kMiscellaneousChecks)) {
    RaiseBugCheck(bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCB, Address(list), 0, 0,
                  "a lookaside list was deleted that is not initialized", caller);
  }
  while (SLIST_ENTRY* e = ExpInterlockedPopEntrySList(&l.ListHead)) {
    if (ex) {
      cpu::CallDriver(l.FreeEx, e, reinterpret_cast<LOOKASIDE_LIST_EX*>(const_cast<void*>(list)));
    } else {
      cpu::CallDriver(l.Free, e);
    }
  }
}

}  // namespace

void NTAPI ExInitializeNPagedLookasideList(NPAGED_LOOKASIDE_LIST* Lookaside, PALLOCATE_FUNCTION Allocate,
                                          PFREE_FUNCTION Free, ULONG, SIZE_T Size, ULONG Tag, USHORT) {
  Initialize(Lookaside->L, Lookaside, NonPagedPool, Size, Tag, Caller(__builtin_return_address(0)));
  Lookaside->L.Allocate = Allocate ? Allocate : &ExAllocatePoolWithTag;
  Lookaside->L.Free = Free ? Free : &ExFreePool;
}

void NTAPI ExInitializePagedLookasideList(PAGED_LOOKASIDE_LIST* Lookaside, PALLOCATE_FUNCTION Allocate,
                                         PFREE_FUNCTION Free, ULONG, SIZE_T Size, ULONG Tag, USHORT) {
  Initialize(Lookaside->L, Lookaside, PagedPool, Size, Tag, Caller(__builtin_return_address(0)));
  Lookaside->L.Allocate = Allocate ? Allocate : &ExAllocatePoolWithTag;
  Lookaside->L.Free = Free ? Free : &ExFreePool;
}

void NTAPI ExDeleteNPagedLookasideList(NPAGED_LOOKASIDE_LIST* Lookaside) {
  Delete(Lookaside->L, Lookaside, false, Caller(__builtin_return_address(0)));
}

void NTAPI ExDeletePagedLookasideList(PAGED_LOOKASIDE_LIST* Lookaside) {
  Delete(Lookaside->L, Lookaside, false, Caller(__builtin_return_address(0)));
}

NTSTATUS NTAPI ExInitializeLookasideListEx(LOOKASIDE_LIST_EX* Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                           PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG, SIZE_T Size, ULONG Tag,
                                           USHORT) {
  Initialize(Lookaside->L, Lookaside, PoolType, Size, Tag, Caller(__builtin_return_address(0)));
  Lookaside->L.AllocateEx = Allocate ? Allocate : &DefaultAllocateEx;
  Lookaside->L.FreeEx = Free ? Free : &DefaultFreeEx;
  return STATUS_SUCCESS;
}

void NTAPI ExDeleteLookasideListEx(LOOKASIDE_LIST_EX* Lookaside) {
  Delete(Lookaside->L, Lookaside, true, Caller(__builtin_return_address(0)));
}

void NTAPI ExFlushLookasideListEx(LOOKASIDE_LIST_EX* Lookaside) {
  while (SLIST_ENTRY* e = ExpInterlockedPopEntrySList(&Lookaside->L.ListHead)) cpu::CallDriver(Lookaside->L.FreeEx, e, Lookaside);
}

}  // namespace ntbox::nt
