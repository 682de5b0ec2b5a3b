// Ex exports: fast mutexes, resources, push locks, interlocked and S-lists, lookaside lists.
#pragma once
#include "nt/ex/ExTypes.h"
#include "nt/ke/KeTypes.h"

namespace ntbox::nt {

// ex/FastMutex.cpp
void NTAPI ExInitializeFastMutex(FAST_MUTEX* FastMutex);
void NTAPI ExAcquireFastMutex(FAST_MUTEX* FastMutex);
BOOLEAN NTAPI ExTryToAcquireFastMutex(FAST_MUTEX* FastMutex);
void NTAPI ExReleaseFastMutex(FAST_MUTEX* FastMutex);
void NTAPI ExAcquireFastMutexUnsafe(FAST_MUTEX* FastMutex);
void NTAPI ExReleaseFastMutexUnsafe(FAST_MUTEX* FastMutex);

// ex/Resource.cpp
NTSTATUS NTAPI ExInitializeResourceLite(ERESOURCE* Resource);
NTSTATUS NTAPI ExReinitializeResourceLite(ERESOURCE* Resource);
NTSTATUS NTAPI ExDeleteResourceLite(ERESOURCE* Resource);
BOOLEAN NTAPI ExAcquireResourceExclusiveLite(ERESOURCE* Resource, BOOLEAN Wait);
BOOLEAN NTAPI ExAcquireResourceSharedLite(ERESOURCE* Resource, BOOLEAN Wait);
BOOLEAN NTAPI ExAcquireSharedStarveExclusive(ERESOURCE* Resource, BOOLEAN Wait);
BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(ERESOURCE* Resource, BOOLEAN Wait);
void NTAPI ExReleaseResourceLite(ERESOURCE* Resource);
void NTAPI ExReleaseResourceForThreadLite(ERESOURCE* Resource, ERESOURCE_THREAD ResourceThreadId);
void NTAPI ExConvertExclusiveToSharedLite(ERESOURCE* Resource);
BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(ERESOURCE* Resource);
ULONG NTAPI ExIsResourceAcquiredSharedLite(ERESOURCE* Resource);
ULONG NTAPI ExGetExclusiveWaiterCount(ERESOURCE* Resource);
ULONG NTAPI ExGetSharedWaiterCount(ERESOURCE* Resource);
PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(ERESOURCE* Resource);
PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(ERESOURCE* Resource);
void NTAPI ExReleaseResourceAndLeaveCriticalRegion(ERESOURCE* Resource);
void NTAPI ExInitializePushLock(ULONG_PTR* PushLock);
void NTAPI ExAcquirePushLockExclusiveEx(ULONG_PTR* PushLock, ULONG Flags);
void NTAPI ExAcquirePushLockSharedEx(ULONG_PTR* PushLock, ULONG Flags);
void NTAPI ExReleasePushLockExclusiveEx(ULONG_PTR* PushLock, ULONG Flags);
void NTAPI ExReleasePushLockSharedEx(ULONG_PTR* PushLock, ULONG Flags);

// ex/Lists.cpp
LIST_ENTRY* NTAPI ExInterlockedInsertHeadList(LIST_ENTRY* ListHead, LIST_ENTRY* ListEntry, KSPIN_LOCK* Lock);
LIST_ENTRY* NTAPI ExInterlockedInsertTailList(LIST_ENTRY* ListHead, LIST_ENTRY* ListEntry, KSPIN_LOCK* Lock);
LIST_ENTRY* NTAPI ExInterlockedRemoveHeadList(LIST_ENTRY* ListHead, KSPIN_LOCK* Lock);
SINGLE_LIST_ENTRY* NTAPI ExInterlockedPushEntryList(SINGLE_LIST_ENTRY* ListHead, SINGLE_LIST_ENTRY* ListEntry,
                                                   KSPIN_LOCK* Lock);
SINGLE_LIST_ENTRY* NTAPI ExInterlockedPopEntryList(SINGLE_LIST_ENTRY* ListHead, KSPIN_LOCK* Lock);
ULONG NTAPI ExInterlockedAddUlong(ULONG* Addend, ULONG Increment, KSPIN_LOCK* Lock);
LARGE_INTEGER NTAPI ExInterlockedAddLargeInteger(LARGE_INTEGER* Addend, LARGE_INTEGER Increment, KSPIN_LOCK* Lock);
void NTAPI InitializeSListHead(SLIST_HEADER* SListHead);
USHORT NTAPI ExQueryDepthSList(SLIST_HEADER* SListHead);
SLIST_ENTRY* NTAPI RtlFirstEntrySList(const SLIST_HEADER* ListHead);
SLIST_ENTRY* NTAPI ExpInterlockedPushEntrySList(SLIST_HEADER* ListHead, SLIST_ENTRY* ListEntry);
SLIST_ENTRY* NTAPI ExpInterlockedPopEntrySList(SLIST_HEADER* ListHead);
SLIST_ENTRY* NTAPI ExpInterlockedFlushSList(SLIST_HEADER* ListHead);
void NTAPI ExInitializeNPagedLookasideList(NPAGED_LOOKASIDE_LIST* Lookaside, PALLOCATE_FUNCTION Allocate,
                                          PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth);
void NTAPI ExInitializePagedLookasideList(PAGED_LOOKASIDE_LIST* Lookaside, PALLOCATE_FUNCTION Allocate,
                                         PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth);
void NTAPI ExDeleteNPagedLookasideList(NPAGED_LOOKASIDE_LIST* Lookaside);
void NTAPI ExDeletePagedLookasideList(PAGED_LOOKASIDE_LIST* Lookaside);
NTSTATUS NTAPI ExInitializeLookasideListEx(LOOKASIDE_LIST_EX* Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                           PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags, SIZE_T Size,
                                           ULONG Tag, USHORT Depth);
void NTAPI ExDeleteLookasideListEx(LOOKASIDE_LIST_EX* Lookaside);
void NTAPI ExFlushLookasideListEx(LOOKASIDE_LIST_EX* Lookaside);

// NLS tables for programs (ex/Nls.cpp).
NTSTATUS NTAPI NtInitializeNlsFiles(PVOID* BaseAddress, ULONG* DefaultLocaleId, LARGE_INTEGER* DefaultCasingTableSize);
NTSTATUS NTAPI NtGetNlsSectionPtr(ULONG SectionType, ULONG SectionData, PVOID ContextData, PVOID* SectionPointer,
                                  SIZE_T* SectionSize);
NTSTATUS NTAPI NtQueryDefaultLocale(BOOLEAN UserProfile, ULONG* DefaultLocaleId);
NTSTATUS NTAPI NtQueryDefaultUILanguage(USHORT* DefaultUILanguageId);
NTSTATUS NTAPI NtQueryInstallUILanguage(USHORT* InstallUILanguageId);

NTSTATUS NTAPI NtQuerySystemInformation(ULONG SystemInformationClass, PVOID SystemInformation, ULONG Length,
                                        ULONG* ReturnLength);

// Waitable timers of programs (ex/Timer.cpp).
NTSTATUS NTAPI NtCreateTimer(HANDLE* TimerHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, int TimerType);
NTSTATUS NTAPI NtOpenTimer(HANDLE* TimerHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtSetTimer(HANDLE TimerHandle, LARGE_INTEGER* DueTime, PVOID TimerApcRoutine, PVOID TimerContext,
                          BOOLEAN ResumeTimer, LONG Period, BOOLEAN* PreviousState);
NTSTATUS NTAPI NtCancelTimer(HANDLE TimerHandle, BOOLEAN* CurrentState);
NTSTATUS NTAPI NtQueryTimer(HANDLE TimerHandle, ULONG TimerInformationClass, PVOID TimerInformation, ULONG Length,
                            ULONG* ReturnLength);

// Timers the system allocates (ex/ExTimer.cpp); the EX_TIMER is opaque to drivers.
PVOID NTAPI ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext, ULONG Attributes);
BOOLEAN NTAPI ExSetTimer(PVOID Timer, LONGLONG DueTime, LONGLONG Period, EXT_SET_PARAMETERS* Parameters);
BOOLEAN NTAPI ExCancelTimer(PVOID Timer, PVOID Parameters);
BOOLEAN NTAPI ExDeleteTimer(PVOID Timer, BOOLEAN Cancel, BOOLEAN Wait, EXT_DELETE_PARAMETERS* Parameters);

}  // namespace ntbox::nt
