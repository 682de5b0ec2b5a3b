// Executive (Ex) layouts shared with drivers (x64 WDK).
#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

using PWORKER_THREAD_ROUTINE = void(NTAPI*)(PVOID Parameter);

struct WORK_QUEUE_ITEM {
  LIST_ENTRY List;
  PWORKER_THREAD_ROUTINE WorkerRoutine;
  volatile PVOID Parameter;
};
static_assert(sizeof(WORK_QUEUE_ITEM) == 0x20);
static_assert(offsetof(WORK_QUEUE_ITEM, WorkerRoutine) == 0x10);
static_assert(offsetof(WORK_QUEUE_ITEM, Parameter) == 0x18);

// POOL_TYPE values drivers pass to ExAllocatePool(WithTag).
enum POOL_TYPE : int {
  NonPagedPool = 0,
  PagedPool = 1,
  NonPagedPoolMustSucceed = 2,
  NonPagedPoolCacheAligned = 4,
  PagedPoolCacheAligned = 5,
  NonPagedPoolCacheAlignedMustS = 6,
  NonPagedPoolNx = 512,
  NonPagedPoolNxCacheAligned = 516,
  NonPagedPoolSession = 32,
  PagedPoolSession = 33,
};

// POOL_FLAGS bits of ExAllocatePool2.
namespace pool_flags {
constexpr std::uint64_t kUseQuota = 0x1;
constexpr std::uint64_t kUninitialized = 0x2;
constexpr std::uint64_t kSessionLocal = 0x4;
constexpr std::uint64_t kCacheAligned = 0x8;
constexpr std::uint64_t kRaiseOnFailure = 0x20;
constexpr std::uint64_t kNonPaged = 0x40;
constexpr std::uint64_t kNonPagedExecute = 0x80;
constexpr std::uint64_t kPaged = 0x100;
}  // namespace pool_flags

// ERESOURCE: drivers allocate it (non-paged) and never touch its fields; ntbox keeps the
// resource's state beside it, keyed by address, and only the size is a contract.
struct ERESOURCE {
  std::uint8_t opaque[0x68];
};
static_assert(sizeof(ERESOURCE) == 0x68);
using ERESOURCE_THREAD = ULONG_PTR;

// x64 S-list: the first quadword is Depth:16 Sequence:48, the second HeaderType:1 Reserved:3
// NextEntry:60 (the first entry's address, 16-byte aligned). ExQueryDepthSList is inline in
// drivers (the low 16 bits).
struct alignas(16) SLIST_ENTRY {
  SLIST_ENTRY* Next;
};
struct alignas(16) SLIST_HEADER {
  ULONGLONG Alignment;
  ULONGLONG Region;
};
static_assert(sizeof(SLIST_HEADER) == 0x10);

using PALLOCATE_FUNCTION = PVOID(NTAPI*)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
using PFREE_FUNCTION = void(NTAPI*)(PVOID Buffer);
struct LOOKASIDE_LIST_EX;
using PALLOCATE_FUNCTION_EX = PVOID(NTAPI*)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                            LOOKASIDE_LIST_EX* Lookaside);
using PFREE_FUNCTION_EX = void(NTAPI*)(PVOID Buffer, LOOKASIDE_LIST_EX* Lookaside);

// GENERAL_LOOKASIDE (cache aligned) and GENERAL_LOOKASIDE_POOL share these fields; drivers run
// the allocate and free paths inline against them.
struct GENERAL_LOOKASIDE_POOL {
  SLIST_HEADER ListHead;
  USHORT Depth;
  USHORT MaximumDepth;
  ULONG TotalAllocates;
  ULONG AllocateMisses;
  ULONG TotalFrees;
  ULONG FreeMisses;
  POOL_TYPE Type;
  ULONG Tag;
  ULONG Size;
  union {
    PALLOCATE_FUNCTION_EX AllocateEx;
    PALLOCATE_FUNCTION Allocate;
  };
  union {
    PFREE_FUNCTION_EX FreeEx;
    PFREE_FUNCTION Free;
  };
  LIST_ENTRY ListEntry;
  ULONG LastTotalAllocates;
  ULONG LastAllocateMisses;
  ULONG Future[2];
};
static_assert(sizeof(GENERAL_LOOKASIDE_POOL) == 0x60);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Depth) == 0x10);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, TotalAllocates) == 0x14);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Type) == 0x24);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Tag) == 0x28);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Size) == 0x2C);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Allocate) == 0x30);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Free) == 0x38);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, ListEntry) == 0x40);

struct alignas(64) GENERAL_LOOKASIDE : GENERAL_LOOKASIDE_POOL {};
static_assert(sizeof(GENERAL_LOOKASIDE) == 0x80);
struct NPAGED_LOOKASIDE_LIST {
  GENERAL_LOOKASIDE L;
};
struct PAGED_LOOKASIDE_LIST {
  GENERAL_LOOKASIDE L;
};
struct LOOKASIDE_LIST_EX {
  GENERAL_LOOKASIDE_POOL L;
};
static_assert(sizeof(NPAGED_LOOKASIDE_LIST) == 0x80);
static_assert(sizeof(LOOKASIDE_LIST_EX) == 0x60);

// ExAllocateTimer's parameters (ex/ExTimer.cpp).
using PEXT_CALLBACK = void(NTAPI*)(PVOID Timer, PVOID Context);
using PEXT_DELETE_CALLBACK = void(NTAPI*)(PVOID Context);

struct EXT_SET_PARAMETERS {
  ULONG Version;
  ULONG Reserved;
  LONGLONG NoWakeTolerance;
};
static_assert(sizeof(EXT_SET_PARAMETERS) == 0x10);

struct EXT_DELETE_PARAMETERS {
  ULONG Version;
  ULONG Reserved;
  PEXT_DELETE_CALLBACK DeleteCallback;
  PVOID DeleteContext;
};
static_assert(sizeof(EXT_DELETE_PARAMETERS) == 0x18);
static_assert(offsetof(EXT_DELETE_PARAMETERS, DeleteCallback) == 0x8);

}  // namespace ntbox::nt
