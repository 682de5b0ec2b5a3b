// Kernel (Ke) layouts shared with drivers (x64 WDK): dispatcher objects, DPCs, timers, and the
// KUSER_SHARED_DATA fields drivers read inline.
#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

struct DISPATCHER_HEADER {
  union {
    struct {
      UCHAR Type;
      union {
        UCHAR TimerControlFlags;
        UCHAR Absolute;
        UCHAR Abandoned;
        BOOLEAN Signalling;
      };
      union {
        UCHAR ThreadControlFlags;
        UCHAR Hand;
        UCHAR Size;
      };
      union {
        UCHAR TimerMiscFlags;
        BOOLEAN DebugActive;
        BOOLEAN DpcActive;
      };
    };
    volatile LONG Lock;
  };
  LONG SignalState;
  LIST_ENTRY WaitListHead;
};
static_assert(sizeof(DISPATCHER_HEADER) == 0x18);
static_assert(offsetof(DISPATCHER_HEADER, TimerControlFlags) == 0x1);
static_assert(offsetof(DISPATCHER_HEADER, Size) == 0x2);
static_assert(offsetof(DISPATCHER_HEADER, DpcActive) == 0x3);
static_assert(offsetof(DISPATCHER_HEADER, SignalState) == 0x4);
static_assert(offsetof(DISPATCHER_HEADER, WaitListHead) == 0x8);

struct KEVENT {
  DISPATCHER_HEADER Header;
};
static_assert(sizeof(KEVENT) == 0x18);

// DISPATCHER_HEADER.Type of each dispatcher object.
namespace dispatcher_type {
constexpr UCHAR kNotificationEvent = 0;
constexpr UCHAR kSynchronizationEvent = 1;
constexpr UCHAR kMutant = 2;
constexpr UCHAR kProcess = 3;
constexpr UCHAR kQueue = 4;
constexpr UCHAR kSemaphore = 5;
constexpr UCHAR kThread = 6;
constexpr UCHAR kNotificationTimer = 8;
constexpr UCHAR kSynchronizationTimer = 9;
}  // namespace dispatcher_type

// What every KeInitializeXxx of a dispatcher object does to its header.
inline void InitializeDispatcherHeader(DISPATCHER_HEADER& h, UCHAR type, std::size_t objectBytes, LONG signalState) {
  h.Type = type;
  h.Size = static_cast<UCHAR>(objectBytes / sizeof(LONG));
  h.SignalState = signalState;
  h.WaitListHead.Flink = h.WaitListHead.Blink = &h.WaitListHead;
}

struct KSEMAPHORE {
  DISPATCHER_HEADER Header;
  LONG Limit;
};
static_assert(sizeof(KSEMAPHORE) == 0x20);
static_assert(offsetof(KSEMAPHORE, Limit) == 0x18);

// KMUTEX is a KMUTANT.
struct KMUTANT {
  DISPATCHER_HEADER Header;
  LIST_ENTRY MutantListEntry;
  PVOID OwnerThread;
  UCHAR Abandoned;
  UCHAR ApcDisable;
};
static_assert(sizeof(KMUTANT) == 0x38);
static_assert(offsetof(KMUTANT, OwnerThread) == 0x28);
static_assert(offsetof(KMUTANT, Abandoned) == 0x30);

struct KWAIT_BLOCK {
  std::uint8_t opaque[0x30];
};

// Affinity (ke/Affinity.cpp): one bit a processor, in processor group 0.
using KAFFINITY = ULONG_PTR;
using LOGICAL = ULONG;
struct GROUP_AFFINITY {
  KAFFINITY Mask;
  USHORT Group;
  USHORT Reserved[3];
};
static_assert(sizeof(GROUP_AFFINITY) == 0x10);
static_assert(offsetof(GROUP_AFFINITY, Group) == 0x8);
using PKIPI_BROADCAST_WORKER = ULONG_PTR(NTAPI*)(ULONG_PTR Argument);

struct KDPC;
using PKDEFERRED_ROUTINE = void(NTAPI*)(KDPC* Dpc, PVOID DeferredContext, PVOID SystemArgument1,
                                        PVOID SystemArgument2);

struct KDPC {
  UCHAR Type;
  UCHAR Importance;
  volatile USHORT Number;
  LIST_ENTRY DpcListEntry;
  PKDEFERRED_ROUTINE DeferredRoutine;
  PVOID DeferredContext;
  PVOID SystemArgument1;
  PVOID SystemArgument2;
  volatile PVOID DpcData;
};
static_assert(sizeof(KDPC) == 0x40);
static_assert(offsetof(KDPC, Importance) == 0x1);
static_assert(offsetof(KDPC, Number) == 0x2);
static_assert(offsetof(KDPC, DpcListEntry) == 0x8);
static_assert(offsetof(KDPC, DeferredRoutine) == 0x18);
static_assert(offsetof(KDPC, DeferredContext) == 0x20);
static_assert(offsetof(KDPC, SystemArgument1) == 0x28);
static_assert(offsetof(KDPC, SystemArgument2) == 0x30);
static_assert(offsetof(KDPC, DpcData) == 0x38);

struct KTIMER {
  DISPATCHER_HEADER Header;
  LARGE_INTEGER DueTime;
  LIST_ENTRY TimerListEntry;
  KDPC* Dpc;
  ULONG Processor;
  ULONG Period;
};
static_assert(sizeof(KTIMER) == 0x40);
static_assert(offsetof(KTIMER, DueTime) == 0x18);
static_assert(offsetof(KTIMER, TimerListEntry) == 0x20);
static_assert(offsetof(KTIMER, Dpc) == 0x30);
static_assert(offsetof(KTIMER, Period) == 0x3C);

struct KSPIN_LOCK_QUEUE {
  KSPIN_LOCK_QUEUE* volatile Next;
  KSPIN_LOCK* volatile Lock;
};
struct KLOCK_QUEUE_HANDLE {
  KSPIN_LOCK_QUEUE LockQueue;
  KIRQL OldIrql;
};
static_assert(sizeof(KLOCK_QUEUE_HANDLE) == 0x18);
static_assert(offsetof(KLOCK_QUEUE_HANDLE, OldIrql) == 0x10);

// FAST_MUTEX and KGUARDED_MUTEX share a layout: Count bit 0 set means free (FM_LOCK_BIT).
struct FAST_MUTEX {
  volatile LONG Count;
  PVOID Owner;
  ULONG Contention;
  KEVENT Event;
  ULONG OldIrql;
};
static_assert(sizeof(FAST_MUTEX) == 0x38);
static_assert(offsetof(FAST_MUTEX, Owner) == 0x8);
static_assert(offsetof(FAST_MUTEX, Contention) == 0x10);
static_assert(offsetof(FAST_MUTEX, Event) == 0x18);
static_assert(offsetof(FAST_MUTEX, OldIrql) == 0x30);
constexpr LONG FM_LOCK_BIT = 0x1;

struct KGUARDED_MUTEX {
  volatile LONG Count;
  PVOID Owner;
  ULONG Contention;
  DISPATCHER_HEADER Gate;
  SHORT KernelApcDisable;
  SHORT SpecialApcDisable;
};
static_assert(sizeof(KGUARDED_MUTEX) == 0x38);
static_assert(offsetof(KGUARDED_MUTEX, Gate) == 0x18);
static_assert(offsetof(KGUARDED_MUTEX, KernelApcDisable) == 0x30);

struct KDEVICE_QUEUE {
  CSHORT Type;
  CSHORT Size;
  LIST_ENTRY DeviceListHead;
  KSPIN_LOCK Lock;
  BOOLEAN Busy;
};
static_assert(sizeof(KDEVICE_QUEUE) == 0x28);

struct KDEVICE_QUEUE_ENTRY {
  LIST_ENTRY DeviceListEntry;
  ULONG SortKey;
  BOOLEAN Inserted;
};
static_assert(sizeof(KDEVICE_QUEUE_ENTRY) == 0x18);

struct KAPC {
  UCHAR Type;
  UCHAR SpareByte0;
  UCHAR Size;
  UCHAR SpareByte1;
  ULONG SpareLong0;
  PVOID Thread;
  LIST_ENTRY ApcListEntry;
  PVOID KernelRoutine;
  PVOID RundownRoutine;
  PVOID NormalRoutine;
  PVOID NormalContext;
  PVOID SystemArgument1;
  PVOID SystemArgument2;
  CCHAR ApcStateIndex;
  KPROCESSOR_MODE ApcMode;
  BOOLEAN Inserted;
};
static_assert(sizeof(KAPC) == 0x58);

// A 64-bit time the kernel updates without a lock: readers retry until High1Time == High2Time.
struct KSYSTEM_TIME {
  ULONG LowPart;
  LONG High1Time;
  LONG High2Time;
};
static_assert(sizeof(KSYSTEM_TIME) == 0xC);

// The fields of KUSER_SHARED_DATA (mapped read-only at 0xFFFFF78000000000) that drivers and
// the WDK's inline macros read; the rest of the page stays zero.
namespace shared_data {
constexpr std::uint64_t kAddress = 0xFFFFF78000000000ull;
constexpr std::uint32_t kTickCountMultiplier = 0x004;
constexpr std::uint32_t kInterruptTime = 0x008;
constexpr std::uint32_t kSystemTime = 0x014;
constexpr std::uint32_t kTimeZoneBias = 0x020;
constexpr std::uint32_t kImageNumberLow = 0x02C;
constexpr std::uint32_t kImageNumberHigh = 0x02E;
constexpr std::uint32_t kNtSystemRoot = 0x030;
constexpr std::uint32_t kNtBuildNumber = 0x260;
constexpr std::uint32_t kNtProductType = 0x264;
constexpr std::uint32_t kProductTypeIsValid = 0x268;
constexpr std::uint32_t kNativeProcessorArchitecture = 0x26A;
constexpr std::uint32_t kNtMajorVersion = 0x26C;
constexpr std::uint32_t kNtMinorVersion = 0x270;
constexpr std::uint32_t kProcessorFeatures = 0x274;
constexpr std::uint32_t kKdDebuggerEnabled = 0x2D4;
constexpr std::uint32_t kTickCount = 0x320;
constexpr std::uint32_t kActiveProcessorCount = 0x3C0;
constexpr std::uint32_t kPageSize = 0x1000;
}  // namespace shared_data

// The start of KUSER_SHARED_DATA as x64 Windows 10 lays it out, up to the last field drivers
// read. Its full size differs between Windows versions and is not part of the contract.
struct KUSER_SHARED_DATA {
  ULONG TickCountLowDeprecated;
  ULONG TickCountMultiplier;
  KSYSTEM_TIME InterruptTime;
  KSYSTEM_TIME SystemTime;
  KSYSTEM_TIME TimeZoneBias;
  USHORT ImageNumberLow;
  USHORT ImageNumberHigh;
  WCHAR NtSystemRoot[260];
  ULONG MaxStackTraceDepth;
  ULONG CryptoExponent;
  ULONG TimeZoneId;
  ULONG LargePageMinimum;
  ULONG Reserved2[6];
  ULONG NtBuildNumber;
  ULONG NtProductType;
  BOOLEAN ProductTypeIsValid;
  BOOLEAN Reserved0;
  USHORT NativeProcessorArchitecture;
  ULONG NtMajorVersion;
  ULONG NtMinorVersion;
  BOOLEAN ProcessorFeatures[64];
  UCHAR Reserved3[0x2D4 - 0x2B4];
  BOOLEAN KdDebuggerEnabled;
  UCHAR Reserved4[0x320 - 0x2D5];
  union {
    KSYSTEM_TIME TickCount;
    ULONG64 TickCountQuad;
  };
  UCHAR Reserved5[0x3C0 - 0x330];
  ULONG ActiveProcessorCount;
};
static_assert(offsetof(KUSER_SHARED_DATA, TickCountMultiplier) == shared_data::kTickCountMultiplier);
static_assert(offsetof(KUSER_SHARED_DATA, InterruptTime) == shared_data::kInterruptTime);
static_assert(offsetof(KUSER_SHARED_DATA, SystemTime) == shared_data::kSystemTime);
static_assert(offsetof(KUSER_SHARED_DATA, TimeZoneBias) == shared_data::kTimeZoneBias);
static_assert(offsetof(KUSER_SHARED_DATA, ImageNumberLow) == shared_data::kImageNumberLow);
static_assert(offsetof(KUSER_SHARED_DATA, NtSystemRoot) == shared_data::kNtSystemRoot);
static_assert(offsetof(KUSER_SHARED_DATA, NtBuildNumber) == shared_data::kNtBuildNumber);
static_assert(offsetof(KUSER_SHARED_DATA, NtProductType) == shared_data::kNtProductType);
static_assert(offsetof(KUSER_SHARED_DATA, NativeProcessorArchitecture) == shared_data::kNativeProcessorArchitecture);
static_assert(offsetof(KUSER_SHARED_DATA, NtMajorVersion) == shared_data::kNtMajorVersion);
static_assert(offsetof(KUSER_SHARED_DATA, NtMinorVersion) == shared_data::kNtMinorVersion);
static_assert(offsetof(KUSER_SHARED_DATA, ProcessorFeatures) == shared_data::kProcessorFeatures);
static_assert(offsetof(KUSER_SHARED_DATA, KdDebuggerEnabled) == shared_data::kKdDebuggerEnabled);
static_assert(offsetof(KUSER_SHARED_DATA, TickCount) == shared_data::kTickCount);
static_assert(offsetof(KUSER_SHARED_DATA, ActiveProcessorCount) == shared_data::kActiveProcessorCount);

}  // namespace ntbox::nt
