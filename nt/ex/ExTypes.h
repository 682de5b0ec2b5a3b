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

}  // namespace ntbox::nt
