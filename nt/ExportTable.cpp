#include "nt/ExportTable.h"

#include <array>

#include "nt/cm/CmCallbacks.h"
#include "nt/cm/CmExports.h"
#include "nt/ex/ExExports.h"
#include "nt/ex/PoolExports.h"
#include "nt/ex/WorkQueue.h"
#include "nt/etw/Etw.h"
#include "nt/ps/Notify.h"
#include "nt/ps/PsExports.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/io/DriveFile.h"
#include "nt/io/IoExports.h"
#include "nt/mm/MmExports.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObCallbacks.h"
#include "nt/rtl/Exception.h"
#include "nt/rtl/Raise.h"
#include "nt/rtl/Crt.h"
#include "nt/ps/ProcessLookup.h"
#include "nt/rtl/Registry.h"
#include "nt/rtl/RtlExports.h"
#include "nt/rtl/Win32Error.h"
#include "support/Text.h"

namespace ntbox::nt {
namespace {

constexpr std::string_view kNt = "ntoskrnl.exe";
constexpr std::string_view kHal = "hal.dll";

// Exported variables.
ULONG g_NtBuildNumber = 0xF0000000 | 19045;  // high nibble F: a free (retail) build
BOOLEAN g_KdDebuggerEnabled = FALSE;
BOOLEAN g_KdDebuggerNotPresent = TRUE;
ULONG_PTR g_MmUserProbeAddress = mm::kUserProbeAddress;
PVOID g_MmHighestUserAddress = reinterpret_cast<PVOID>(mm::kHighestUserAddress);
PVOID g_MmSystemRangeStart = reinterpret_cast<PVOID>(mm::kSystemRangeStart);
ULONG g_InitSafeBootMode = 0;
CCHAR g_KeNumberProcessors = 2;

}  // namespace

void SetInitSafeBootMode(ULONG mode) { g_InitSafeBootMode = mode; }

void SetKdDebuggerPresent(bool present) { g_KdDebuggerNotPresent = present ? FALSE : TRUE; }

void SetKdDebuggerEnabled(bool enabled) {
  g_KdDebuggerEnabled = enabled ? TRUE : FALSE;
}

namespace {

template <class F>
void* Fn(F* f) {
  return reinterpret_cast<void*>(f);
}

#define NT_FN(name, irql) Export{kNt, #name, Fn(&name), irql, false}
#define CRT_FN(name) Export{kNt, #name, Fn(&crt::name), HIGH_LEVEL, false}
#define HAL_FN(name, irql) Export{kHal, #name, Fn(&name), irql, false}
// ZwX: the system service NtX called in kernel mode.
#define NT_ZW(name, irql) Export{kNt, "Zw" #name, Fn(&ke::ZwOf<&Nt##name>::Call), irql, false}
// Exports that may raise on the driver's behalf enter through a stub capturing its context.
#define NT_CAPTURING(name, irql) Export{kNt, #name, reinterpret_cast<void*>(&ntbox_capture_##name), irql, false}
#define NT_DATA(name) Export{kNt, #name, &g_##name, HIGH_LEVEL, true}

const auto kExports = std::to_array<Export>({
    // Debug output and breakpoints (kd/).
    NT_FN(DbgPrint, HIGH_LEVEL),
    NT_FN(DbgPrintEx, HIGH_LEVEL),
    NT_FN(vDbgPrintEx, HIGH_LEVEL),
    NT_FN(vDbgPrintExWithPrefix, HIGH_LEVEL),
    NT_FN(DbgBreakPoint, HIGH_LEVEL),
    NT_FN(DbgBreakPointWithStatus, HIGH_LEVEL),
    NT_FN(RtlAssert, HIGH_LEVEL),
    // Kernel (ke/).
    NT_FN(KeGetCurrentIrql, HIGH_LEVEL),
    NT_FN(KfRaiseIrql, HIGH_LEVEL),
    NT_FN(KeRaiseIrqlToDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeLowerIrql, HIGH_LEVEL),
    NT_FN(KeQuerySystemTime, HIGH_LEVEL),
    NT_FN(KeQuerySystemTimePrecise, HIGH_LEVEL),
    NT_FN(KeQueryTickCount, HIGH_LEVEL),
    NT_FN(KeQueryTimeIncrement, HIGH_LEVEL),
    NT_FN(KeQueryInterruptTime, HIGH_LEVEL),
    NT_FN(KeBugCheckEx, HIGH_LEVEL),
    NT_FN(KeBugCheck, HIGH_LEVEL),
    // Version (rtl/, ps/).
    NT_FN(RtlGetVersion, PASSIVE_LEVEL),
    NT_FN(PsGetVersion, PASSIVE_LEVEL),
    NT_FN(RtlNtStatusToDosError, HIGH_LEVEL),
    // Counted strings (rtl/).
    NT_FN(RtlInitUnicodeString, DISPATCH_LEVEL),
    NT_FN(RtlInitUnicodeStringEx, DISPATCH_LEVEL),
    NT_FN(RtlInitAnsiString, DISPATCH_LEVEL),
    NT_FN(RtlInitString, DISPATCH_LEVEL),
    NT_FN(RtlCopyUnicodeString, DISPATCH_LEVEL),
    NT_FN(RtlCopyString, DISPATCH_LEVEL),
    NT_FN(RtlAppendUnicodeStringToString, DISPATCH_LEVEL),
    NT_FN(RtlAppendUnicodeToString, DISPATCH_LEVEL),
    NT_FN(RtlCompareUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlCompareString, PASSIVE_LEVEL),
    NT_FN(RtlCompareMemory, HIGH_LEVEL),  // any IRQL, for resident memory
    // Bits and bitmaps (rtl/Bitmap.cpp); any IRQL for a resident bitmap.
    NT_FN(RtlFindMostSignificantBit, HIGH_LEVEL),
    NT_FN(RtlFindLeastSignificantBit, HIGH_LEVEL),
    NT_FN(RtlInitializeBitMap, HIGH_LEVEL),
    NT_FN(RtlClearAllBits, HIGH_LEVEL),
    NT_FN(RtlSetAllBits, HIGH_LEVEL),
    NT_FN(RtlClearBits, HIGH_LEVEL),
    NT_FN(RtlSetBits, HIGH_LEVEL),
    NT_FN(RtlClearBit, HIGH_LEVEL),
    NT_FN(RtlSetBit, HIGH_LEVEL),
    NT_FN(RtlTestBit, HIGH_LEVEL),
    NT_FN(RtlAreBitsClear, HIGH_LEVEL),
    NT_FN(RtlAreBitsSet, HIGH_LEVEL),
    NT_FN(RtlFindClearBits, HIGH_LEVEL),
    NT_FN(RtlFindSetBits, HIGH_LEVEL),
    NT_FN(RtlFindClearBitsAndSet, HIGH_LEVEL),
    NT_FN(RtlFindSetBitsAndClear, HIGH_LEVEL),
    NT_FN(RtlNumberOfClearBits, HIGH_LEVEL),
    NT_FN(RtlNumberOfSetBits, HIGH_LEVEL),
    NT_FN(RtlVerifyVersionInfo, PASSIVE_LEVEL),
    NT_FN(VerSetConditionMask, HIGH_LEVEL),
    NT_FN(ExUuidCreate, PASSIVE_LEVEL),
    NT_FN(KeQueryActiveProcessors, DISPATCH_LEVEL),
    NT_FN(RtlEqualUnicodeString, DISPATCH_LEVEL),
    NT_FN(RtlEqualString, DISPATCH_LEVEL),
    NT_FN(RtlPrefixUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlFreeUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlFreeAnsiString, PASSIVE_LEVEL),
    NT_FN(RtlAnsiStringToUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlUnicodeStringToAnsiString, PASSIVE_LEVEL),
    NT_FN(RtlUpcaseUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlUpcaseUnicodeChar, DISPATCH_LEVEL),
    NT_FN(RtlDowncaseUnicodeChar, DISPATCH_LEVEL),
    NT_FN(RtlUnicodeStringToInteger, PASSIVE_LEVEL),
    NT_FN(RtlIntegerToUnicodeString, PASSIVE_LEVEL),
    NT_FN(RtlCharToInteger, PASSIVE_LEVEL),
    // Pool (ex/).
    NT_FN(ExAllocatePoolWithTag, DISPATCH_LEVEL),
    NT_FN(ExAllocatePool, DISPATCH_LEVEL),
    NT_FN(ExAllocatePoolZero, DISPATCH_LEVEL),
    NT_CAPTURING(ExAllocatePool2, DISPATCH_LEVEL),
    NT_CAPTURING(ExAllocatePoolWithQuotaTag, DISPATCH_LEVEL),
    NT_CAPTURING(ExAllocatePoolWithQuota, DISPATCH_LEVEL),
    NT_FN(ExFreePool, DISPATCH_LEVEL),
    NT_FN(ExFreePoolWithTag, DISPATCH_LEVEL),
    // Memory manager (mm/).
    NT_FN(MmGetSystemRoutineAddress, PASSIVE_LEVEL),
    NT_FN(IoAllocateMdl, DISPATCH_LEVEL),
    NT_FN(IoFreeMdl, DISPATCH_LEVEL),
    NT_CAPTURING(MmProbeAndLockPages, DISPATCH_LEVEL),
    NT_FN(MmUnlockPages, DISPATCH_LEVEL),
    NT_FN(MmMapLockedPagesSpecifyCache, DISPATCH_LEVEL),
    NT_FN(MmMapLockedPages, DISPATCH_LEVEL),
    NT_FN(MmUnmapLockedPages, DISPATCH_LEVEL),
    NT_FN(MmBuildMdlForNonPagedPool, DISPATCH_LEVEL),
    NT_FN(MmSizeOfMdl, DISPATCH_LEVEL),
    NT_FN(MmIsAddressValid, DISPATCH_LEVEL),
    NT_CAPTURING(ProbeForRead, APC_LEVEL),
    NT_CAPTURING(ProbeForWrite, APC_LEVEL),
    // I/O manager (io/).
    NT_FN(IoCreateDevice, PASSIVE_LEVEL),
    NT_FN(IoDeleteDevice, PASSIVE_LEVEL),
    NT_FN(IoCreateSymbolicLink, PASSIVE_LEVEL),
    NT_FN(IoCreateUnprotectedSymbolicLink, PASSIVE_LEVEL),
    NT_FN(IoDeleteSymbolicLink, PASSIVE_LEVEL),
    NT_FN(IoGetDeviceObjectPointer, PASSIVE_LEVEL),
    NT_FN(IoAttachDeviceToDeviceStack, DISPATCH_LEVEL),
    NT_FN(IoDetachDevice, PASSIVE_LEVEL),
    NT_FN(IoGetAttachedDevice, DISPATCH_LEVEL),
    NT_FN(IoGetAttachedDeviceReference, DISPATCH_LEVEL),
    NT_FN(IoAllocateIrp, DISPATCH_LEVEL),
    NT_FN(IoFreeIrp, DISPATCH_LEVEL),
    NT_FN(IoReuseIrp, DISPATCH_LEVEL),
    NT_FN(IoInitializeIrp, DISPATCH_LEVEL),
    NT_FN(IoBuildDeviceIoControlRequest, PASSIVE_LEVEL),
    NT_FN(IoBuildSynchronousFsdRequest, PASSIVE_LEVEL),
    NT_FN(IoBuildAsynchronousFsdRequest, DISPATCH_LEVEL),
    NT_FN(IofCallDriver, DISPATCH_LEVEL),
    NT_FN(IoCallDriver, DISPATCH_LEVEL),
    NT_FN(IofCompleteRequest, DISPATCH_LEVEL),
    NT_FN(IoCompleteRequest, DISPATCH_LEVEL),
    NT_FN(IoSetCompletionRoutineEx, DISPATCH_LEVEL),
    NT_FN(IoCancelIrp, DISPATCH_LEVEL),
    NT_FN(IoAcquireCancelSpinLock, DISPATCH_LEVEL),
    NT_FN(IoReleaseCancelSpinLock, DISPATCH_LEVEL),
    NT_FN(IoGetCurrentProcess, DISPATCH_LEVEL),
    NT_FN(IoIs32bitProcess, DISPATCH_LEVEL),
    // Objects and processes (ob/, ps/).
    NT_FN(ObReferenceObjectByHandle, PASSIVE_LEVEL),
    NT_FN(ObReferenceObjectByPointer, DISPATCH_LEVEL),
    NT_FN(ObfReferenceObject, DISPATCH_LEVEL),
    NT_FN(ObfDereferenceObject, DISPATCH_LEVEL),
    NT_FN(ObDereferenceObject, DISPATCH_LEVEL),
    NT_FN(ObOpenObjectByPointer, PASSIVE_LEVEL),
    NT_FN(ZwClose, PASSIVE_LEVEL),
    // The registry (cm/).
    NT_FN(ZwCreateKey, PASSIVE_LEVEL),
    NT_FN(ZwDeleteKey, PASSIVE_LEVEL),
    NT_FN(ZwDeleteValueKey, PASSIVE_LEVEL),
    NT_FN(ZwEnumerateKey, PASSIVE_LEVEL),
    NT_FN(ZwEnumerateValueKey, PASSIVE_LEVEL),
    NT_FN(ZwFlushKey, PASSIVE_LEVEL),
    NT_FN(ZwOpenKey, PASSIVE_LEVEL),
    NT_FN(ZwOpenKeyEx, PASSIVE_LEVEL),
    NT_FN(ZwQueryKey, PASSIVE_LEVEL),
    NT_FN(ZwQueryValueKey, PASSIVE_LEVEL),
    NT_FN(ZwSetValueKey, PASSIVE_LEVEL),
    NT_FN(RtlQueryRegistryValues, PASSIVE_LEVEL),
    NT_FN(RtlQueryRegistryValuesEx, PASSIVE_LEVEL),
    NT_FN(RtlWriteRegistryValue, PASSIVE_LEVEL),
    NT_FN(RtlDeleteRegistryValue, PASSIVE_LEVEL),
    NT_FN(RtlCheckRegistryKey, PASSIVE_LEVEL),
    NT_FN(RtlCreateRegistryKey, PASSIVE_LEVEL),
    NT_FN(NtClose, PASSIVE_LEVEL),
    NT_FN(PsGetCurrentProcess, DISPATCH_LEVEL),
    NT_FN(PsGetCurrentProcessId, DISPATCH_LEVEL),
    NT_FN(PsGetProcessId, DISPATCH_LEVEL),
    NT_FN(PsLookupProcessByProcessId, APC_LEVEL),
    NT_FN(PsGetProcessImageFileName, DISPATCH_LEVEL),
    NT_FN(PsGetProcessInheritedFromUniqueProcessId, DISPATCH_LEVEL),
    NT_FN(PsGetProcessSectionBaseAddress, DISPATCH_LEVEL),
    NT_FN(PsGetThreadProcessId, DISPATCH_LEVEL),
    NT_FN(IoGetRequestorProcess, DISPATCH_LEVEL),
    NT_FN(IoGetRequestorProcessId, DISPATCH_LEVEL),
    NT_FN(KeStackAttachProcess, APC_LEVEL),
    NT_FN(KeUnstackDetachProcess, APC_LEVEL),
    NT_ZW(OpenProcess, PASSIVE_LEVEL),
    NT_ZW(OpenThread, PASSIVE_LEVEL),
    NT_ZW(MakeTemporaryObject, PASSIVE_LEVEL),
    NT_ZW(LoadDriver, PASSIVE_LEVEL),
    NT_ZW(UnloadDriver, PASSIVE_LEVEL),
    NT_FN(ObMakeTemporaryObject, PASSIVE_LEVEL),
    NT_FN(ObSetSecurityObjectByPointer, PASSIVE_LEVEL),
    NT_ZW(SetSecurityObject, PASSIVE_LEVEL),
    NT_FN(PsLookupThreadByThreadId, APC_LEVEL),
    NT_FN(ObRegisterCallbacks, PASSIVE_LEVEL),
    NT_FN(CmRegisterCallback, PASSIVE_LEVEL),
    NT_FN(CmRegisterCallbackEx, PASSIVE_LEVEL),
    NT_FN(CmUnRegisterCallback, PASSIVE_LEVEL),
    NT_FN(CmGetCallbackVersion, PASSIVE_LEVEL),
    NT_FN(CmSetCallbackObjectContext, PASSIVE_LEVEL),
    NT_FN(CmCallbackGetKeyObjectID, PASSIVE_LEVEL),
    NT_FN(CmCallbackGetKeyObjectIDEx, PASSIVE_LEVEL),
    NT_FN(CmCallbackReleaseKeyObjectIDEx, PASSIVE_LEVEL),
    NT_FN(ObUnRegisterCallbacks, PASSIVE_LEVEL),
    NT_FN(ObGetFilterVersion, PASSIVE_LEVEL),
    NT_FN(PsGetThreadProcess, DISPATCH_LEVEL),
    NT_FN(IoThreadToProcess, DISPATCH_LEVEL),
    NT_ZW(QueryInformationProcess, PASSIVE_LEVEL),
    // Named objects (ob/, ke/, ex/): the programs' services, in kernel mode.
    NT_FN(ObReferenceObjectByName, PASSIVE_LEVEL),
    NT_FN(ObQueryNameString, PASSIVE_LEVEL),
    NT_ZW(CreateDirectoryObject, PASSIVE_LEVEL),
    NT_ZW(OpenDirectoryObject, PASSIVE_LEVEL),
    NT_ZW(QueryObject, PASSIVE_LEVEL),
    NT_ZW(DuplicateObject, PASSIVE_LEVEL),
    NT_ZW(CreateMutant, PASSIVE_LEVEL),
    NT_ZW(OpenMutant, PASSIVE_LEVEL),
    NT_ZW(ReleaseMutant, PASSIVE_LEVEL),
    NT_ZW(CreateSemaphore, PASSIVE_LEVEL),
    NT_ZW(OpenSemaphore, PASSIVE_LEVEL),
    NT_ZW(ReleaseSemaphore, PASSIVE_LEVEL),
    NT_ZW(CreateTimer, PASSIVE_LEVEL),
    NT_ZW(OpenTimer, PASSIVE_LEVEL),
    NT_ZW(SetTimer, PASSIVE_LEVEL),
    NT_ZW(CancelTimer, PASSIVE_LEVEL),
    NT_FN(ExGetPreviousMode, DISPATCH_LEVEL),
    // Dispatcher objects and waits (ke/).
    NT_FN(KeInitializeEvent, HIGH_LEVEL),  // documented: any IRQL
    NT_FN(KeSetEvent, DISPATCH_LEVEL),
    NT_FN(KeResetEvent, DISPATCH_LEVEL),
    NT_FN(KeClearEvent, DISPATCH_LEVEL),
    NT_FN(KeReadStateEvent, DISPATCH_LEVEL),
    NT_FN(KeWaitForSingleObject, DISPATCH_LEVEL),
    NT_FN(KeWaitForMultipleObjects, DISPATCH_LEVEL),
    NT_FN(ZwWaitForSingleObject, PASSIVE_LEVEL),
    NT_FN(ZwCreateEvent, PASSIVE_LEVEL),
    NT_FN(ZwOpenEvent, PASSIVE_LEVEL),
    NT_FN(ZwSetEvent, PASSIVE_LEVEL),
    NT_FN(IoCreateNotificationEvent, PASSIVE_LEVEL),
    NT_FN(IoCreateSynchronizationEvent, PASSIVE_LEVEL),
    NT_FN(ZwCreateSection, PASSIVE_LEVEL),
    NT_FN(ZwOpenSection, PASSIVE_LEVEL),
    NT_FN(ZwMapViewOfSection, PASSIVE_LEVEL),
    NT_FN(ZwUnmapViewOfSection, PASSIVE_LEVEL),
    NT_FN(MmMapViewInSystemSpace, PASSIVE_LEVEL),
    NT_FN(MmUnmapViewInSystemSpace, PASSIVE_LEVEL),
    NT_FN(KeDelayExecutionThread, APC_LEVEL),
    NT_FN(KeInitializeSemaphore, PASSIVE_LEVEL),
    NT_FN(KeReadStateSemaphore, DISPATCH_LEVEL),
    NT_CAPTURING(KeReleaseSemaphore, DISPATCH_LEVEL),
    NT_FN(KeInitializeMutex, PASSIVE_LEVEL),
    NT_FN(KeReadStateMutex, DISPATCH_LEVEL),
    NT_FN(KeReleaseMutex, DISPATCH_LEVEL),
    // DPCs and timers (ke/).
    NT_FN(KeInitializeDpc, HIGH_LEVEL),
    NT_FN(KeInitializeThreadedDpc, HIGH_LEVEL),
    NT_FN(KeInsertQueueDpc, HIGH_LEVEL),
    NT_FN(KeRemoveQueueDpc, HIGH_LEVEL),
    NT_FN(KeSetTargetProcessorDpc, HIGH_LEVEL),
    NT_FN(KeSetImportanceDpc, HIGH_LEVEL),
    NT_FN(KeFlushQueuedDpcs, PASSIVE_LEVEL),
    NT_FN(KeInitializeTimer, DISPATCH_LEVEL),
    NT_FN(KeInitializeTimerEx, DISPATCH_LEVEL),
    NT_FN(KeSetTimer, DISPATCH_LEVEL),
    NT_FN(KeSetTimerEx, DISPATCH_LEVEL),
    NT_FN(KeCancelTimer, DISPATCH_LEVEL),
    NT_FN(KeReadStateTimer, DISPATCH_LEVEL),
    // Threads and processors (ps/, ke/).
    NT_FN(PsCreateSystemThread, PASSIVE_LEVEL),
    NT_FN(PsSetCreateProcessNotifyRoutine, PASSIVE_LEVEL),
    NT_FN(PsSetCreateProcessNotifyRoutineEx, PASSIVE_LEVEL),
    NT_FN(PsSetCreateThreadNotifyRoutine, PASSIVE_LEVEL),
    NT_FN(PsRemoveCreateThreadNotifyRoutine, PASSIVE_LEVEL),
    NT_FN(PsSetLoadImageNotifyRoutine, PASSIVE_LEVEL),
    NT_FN(PsRemoveLoadImageNotifyRoutine, PASSIVE_LEVEL),
    NT_FN(PsTerminateSystemThread, PASSIVE_LEVEL),
    NT_FN(PsGetCurrentThread, DISPATCH_LEVEL),
    NT_FN(KeGetCurrentThread, DISPATCH_LEVEL),
    NT_FN(PsGetCurrentThreadId, DISPATCH_LEVEL),
    NT_FN(PsGetThreadId, DISPATCH_LEVEL),
    NT_FN(PsIsSystemThread, DISPATCH_LEVEL),
    NT_FN(KeSetPriorityThread, DISPATCH_LEVEL),
    NT_FN(KeQueryPriorityThread, DISPATCH_LEVEL),
    NT_FN(KeSetBasePriorityThread, PASSIVE_LEVEL),
    NT_FN(KeGetCurrentProcessorNumber, HIGH_LEVEL),
    NT_FN(KeGetCurrentProcessorNumberEx, HIGH_LEVEL),
    NT_FN(KeQueryActiveProcessorCount, HIGH_LEVEL),
    NT_FN(KeQueryActiveProcessorCountEx, HIGH_LEVEL),
    NT_FN(KeQueryMaximumProcessorCount, HIGH_LEVEL),
    NT_FN(ZwYieldExecution, PASSIVE_LEVEL),
    // Spin locks, regions and mutexes (ke/, ex/).
    NT_FN(KeInitializeSpinLock, HIGH_LEVEL),
    NT_FN(KeAcquireSpinLockRaiseToDpc, DISPATCH_LEVEL),
    NT_FN(KeReleaseSpinLock, DISPATCH_LEVEL),
    NT_FN(KeAcquireSpinLockAtDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeReleaseSpinLockFromDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeTryToAcquireSpinLockAtDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeTestSpinLock, HIGH_LEVEL),
    NT_FN(KeAcquireSpinLockForDpc, DISPATCH_LEVEL),
    NT_FN(KeReleaseSpinLockForDpc, DISPATCH_LEVEL),
    NT_FN(KeAcquireInStackQueuedSpinLock, DISPATCH_LEVEL),
    NT_FN(KeReleaseInStackQueuedSpinLock, DISPATCH_LEVEL),
    NT_FN(KeAcquireInStackQueuedSpinLockAtDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeReleaseInStackQueuedSpinLockFromDpcLevel, DISPATCH_LEVEL),
    NT_FN(KeAcquireInStackQueuedSpinLockForDpc, DISPATCH_LEVEL),
    NT_FN(KeReleaseInStackQueuedSpinLockForDpc, DISPATCH_LEVEL),
    NT_FN(KeEnterCriticalRegion, APC_LEVEL),
    NT_FN(KeLeaveCriticalRegion, APC_LEVEL),
    NT_FN(KeEnterGuardedRegion, APC_LEVEL),
    NT_FN(KeLeaveGuardedRegion, APC_LEVEL),
    NT_FN(KeAreApcsDisabled, HIGH_LEVEL),
    NT_FN(KeAreAllApcsDisabled, HIGH_LEVEL),
    NT_FN(ExInitializeFastMutex, DISPATCH_LEVEL),
    NT_FN(ExAcquireFastMutex, APC_LEVEL),
    NT_FN(ExTryToAcquireFastMutex, APC_LEVEL),
    NT_FN(ExReleaseFastMutex, APC_LEVEL),
    NT_FN(ExAcquireFastMutexUnsafe, APC_LEVEL),
    NT_FN(ExReleaseFastMutexUnsafe, APC_LEVEL),
    NT_FN(KeInitializeGuardedMutex, DISPATCH_LEVEL),
    NT_FN(KeAcquireGuardedMutex, APC_LEVEL),
    NT_FN(KeTryToAcquireGuardedMutex, APC_LEVEL),
    NT_FN(KeReleaseGuardedMutex, APC_LEVEL),
    NT_FN(KeAcquireGuardedMutexUnsafe, APC_LEVEL),
    NT_FN(KeReleaseGuardedMutexUnsafe, APC_LEVEL),
    // Resources and push locks (ex/).
    NT_FN(ExInitializeResourceLite, DISPATCH_LEVEL),
    NT_FN(ExReinitializeResourceLite, DISPATCH_LEVEL),
    NT_FN(ExDeleteResourceLite, APC_LEVEL),
    NT_FN(ExAcquireResourceExclusiveLite, APC_LEVEL),
    NT_FN(ExAcquireResourceSharedLite, APC_LEVEL),
    NT_FN(ExAcquireSharedStarveExclusive, APC_LEVEL),
    NT_FN(ExAcquireSharedWaitForExclusive, APC_LEVEL),
    NT_FN(ExReleaseResourceLite, DISPATCH_LEVEL),
    NT_FN(ExReleaseResourceForThreadLite, DISPATCH_LEVEL),
    NT_FN(ExConvertExclusiveToSharedLite, DISPATCH_LEVEL),
    NT_FN(ExIsResourceAcquiredExclusiveLite, DISPATCH_LEVEL),
    NT_FN(ExIsResourceAcquiredSharedLite, DISPATCH_LEVEL),
    NT_FN(ExGetExclusiveWaiterCount, DISPATCH_LEVEL),
    NT_FN(ExGetSharedWaiterCount, DISPATCH_LEVEL),
    NT_FN(ExEnterCriticalRegionAndAcquireResourceExclusive, APC_LEVEL),
    NT_FN(ExEnterCriticalRegionAndAcquireResourceShared, APC_LEVEL),
    NT_FN(ExReleaseResourceAndLeaveCriticalRegion, APC_LEVEL),
    NT_FN(ExInitializePushLock, HIGH_LEVEL),
    NT_FN(ExAcquirePushLockExclusiveEx, APC_LEVEL),
    NT_FN(ExAcquirePushLockSharedEx, APC_LEVEL),
    NT_FN(ExReleasePushLockExclusiveEx, APC_LEVEL),
    NT_FN(ExReleasePushLockSharedEx, APC_LEVEL),
    // Interlocked, S- and lookaside lists (ex/).
    NT_FN(ExInterlockedInsertHeadList, HIGH_LEVEL),
    NT_FN(ExInterlockedInsertTailList, HIGH_LEVEL),
    NT_FN(ExInterlockedRemoveHeadList, HIGH_LEVEL),
    NT_FN(ExInterlockedPushEntryList, HIGH_LEVEL),
    NT_FN(ExInterlockedPopEntryList, HIGH_LEVEL),
    NT_FN(ExInterlockedAddUlong, HIGH_LEVEL),
    NT_FN(ExInterlockedAddLargeInteger, HIGH_LEVEL),
    NT_FN(InitializeSListHead, HIGH_LEVEL),
    NT_FN(ExQueryDepthSList, HIGH_LEVEL),
    NT_FN(RtlFirstEntrySList, HIGH_LEVEL),
    NT_FN(ExpInterlockedPushEntrySList, HIGH_LEVEL),
    NT_FN(ExpInterlockedPopEntrySList, HIGH_LEVEL),
    NT_FN(ExpInterlockedFlushSList, HIGH_LEVEL),
    NT_FN(ExInitializeNPagedLookasideList, DISPATCH_LEVEL),
    NT_FN(ExInitializePagedLookasideList, APC_LEVEL),
    NT_FN(ExDeleteNPagedLookasideList, DISPATCH_LEVEL),
    NT_FN(ExDeletePagedLookasideList, APC_LEVEL),
    NT_FN(ExInitializeLookasideListEx, DISPATCH_LEVEL),
    NT_FN(ExDeleteLookasideListEx, DISPATCH_LEVEL),
    NT_FN(ExFlushLookasideListEx, DISPATCH_LEVEL),
    // Remove locks and cancel-safe queues (io/).
    NT_FN(IoInitializeRemoveLockEx, PASSIVE_LEVEL),
    NT_FN(IoAcquireRemoveLockEx, DISPATCH_LEVEL),
    NT_FN(IoReleaseRemoveLockEx, DISPATCH_LEVEL),
    NT_FN(IoReleaseRemoveLockAndWaitEx, PASSIVE_LEVEL),
    NT_FN(IoCsqInitialize, DISPATCH_LEVEL),
    NT_FN(IoCsqInitializeEx, DISPATCH_LEVEL),
    NT_FN(IoCsqInsertIrp, DISPATCH_LEVEL),
    NT_FN(IoCsqInsertIrpEx, DISPATCH_LEVEL),
    NT_FN(IoCsqRemoveIrp, DISPATCH_LEVEL),
    NT_FN(IoCsqRemoveNextIrp, DISPATCH_LEVEL),
    // Affinity, calls on every processor, kernel stacks (ke/Affinity.cpp, ke/KernelStack.cpp).
    NT_FN(KeSetSystemAffinityThread, DISPATCH_LEVEL),
    NT_FN(KeRevertToUserAffinityThread, DISPATCH_LEVEL),
    NT_FN(KeSetSystemAffinityThreadEx, DISPATCH_LEVEL),
    NT_FN(KeRevertToUserAffinityThreadEx, DISPATCH_LEVEL),
    NT_FN(KeSetSystemGroupAffinityThread, DISPATCH_LEVEL),
    NT_FN(KeRevertToUserGroupAffinityThread, DISPATCH_LEVEL),
    NT_FN(KeGenericCallDpc, PASSIVE_LEVEL),
    NT_FN(KeSignalCallDpcDone, DISPATCH_LEVEL),
    NT_FN(KeSignalCallDpcSynchronize, DISPATCH_LEVEL),
    NT_FN(KeIpiGenericCall, DISPATCH_LEVEL),
    NT_FN(KeExpandKernelStackAndCallout, DISPATCH_LEVEL),
    NT_FN(KeExpandKernelStackAndCalloutEx, DISPATCH_LEVEL),
    NT_FN(IoGetStackLimits, HIGH_LEVEL),
    NT_FN(IoGetInitialStack, HIGH_LEVEL),
    // Timers the system allocates, coalescable timers (ex/ExTimer.cpp, ke/Dpc.cpp).
    NT_FN(ExAllocateTimer, DISPATCH_LEVEL),
    NT_FN(ExSetTimer, DISPATCH_LEVEL),
    NT_FN(ExCancelTimer, DISPATCH_LEVEL),
    NT_FN(ExDeleteTimer, DISPATCH_LEVEL),
    NT_FN(KeSetCoalescableTimer, DISPATCH_LEVEL),
    // Event Tracing for Windows and WPP (etw/Etw.cpp).
    NT_FN(EtwRegister, PASSIVE_LEVEL),
    NT_FN(EtwUnregister, PASSIVE_LEVEL),
    NT_FN(EtwEventEnabled, HIGH_LEVEL),
    NT_FN(EtwProviderEnabled, HIGH_LEVEL),
    NT_FN(EtwWrite, HIGH_LEVEL),
    NT_FN(EtwWriteEx, HIGH_LEVEL),
    NT_FN(EtwWriteTransfer, HIGH_LEVEL),
    NT_FN(EtwWriteString, HIGH_LEVEL),
    NT_FN(EtwSetInformation, PASSIVE_LEVEL),
    NT_FN(EtwRegisterClassicProvider, PASSIVE_LEVEL),
    NT_FN(WmiTraceMessage, HIGH_LEVEL),
    NT_FN(IoWMIRegistrationControl, PASSIVE_LEVEL),
    // Device queues and system-queued I/O with StartIo (ke/DeviceQueue.cpp, io/StartIo.cpp).
    NT_FN(KeInitializeDeviceQueue, PASSIVE_LEVEL),
    NT_FN(KeInsertDeviceQueue, DISPATCH_LEVEL),
    NT_FN(KeInsertByKeyDeviceQueue, DISPATCH_LEVEL),
    NT_FN(KeRemoveDeviceQueue, DISPATCH_LEVEL),
    NT_FN(KeRemoveByKeyDeviceQueue, DISPATCH_LEVEL),
    NT_FN(KeRemoveByKeyDeviceQueueIfBusy, DISPATCH_LEVEL),
    NT_FN(KeRemoveEntryDeviceQueue, DISPATCH_LEVEL),
    NT_FN(IoStartPacket, DISPATCH_LEVEL),
    NT_FN(IoStartNextPacket, DISPATCH_LEVEL),
    NT_FN(IoStartNextPacketByKey, DISPATCH_LEVEL),
    NT_FN(IoSetStartIoAttributes, DISPATCH_LEVEL),
    // Kernel file I/O on the machine's drive (io/).
    NT_FN(ZwCreateFile, PASSIVE_LEVEL),
    NT_FN(ZwOpenFile, PASSIVE_LEVEL),
    NT_FN(ZwReadFile, PASSIVE_LEVEL),
    NT_FN(ZwWriteFile, PASSIVE_LEVEL),
    NT_FN(ZwFlushBuffersFile, PASSIVE_LEVEL),
    NT_FN(ZwQueryInformationFile, PASSIVE_LEVEL),
    NT_FN(ZwSetInformationFile, PASSIVE_LEVEL),
    NT_FN(ZwDeleteFile, PASSIVE_LEVEL),
    // Work items (ex/, io/).
    NT_FN(ExQueueWorkItem, DISPATCH_LEVEL),
    NT_FN(IoAllocateWorkItem, DISPATCH_LEVEL),
    NT_FN(IoFreeWorkItem, DISPATCH_LEVEL),
    NT_FN(IoQueueWorkItem, DISPATCH_LEVEL),
    NT_FN(IoQueueWorkItemEx, DISPATCH_LEVEL),
    NT_FN(IoSizeofWorkItem, HIGH_LEVEL),
    NT_FN(IoInitializeWorkItem, DISPATCH_LEVEL),
    NT_FN(IoUninitializeWorkItem, DISPATCH_LEVEL),
    // Exceptions (rtl/).
    NT_CAPTURING(ExRaiseStatus, DISPATCH_LEVEL),
    NT_CAPTURING(RtlRaiseStatus, DISPATCH_LEVEL),
    NT_CAPTURING(RtlUnwindEx, PASSIVE_LEVEL),
    Export{kNt, "RtlRaiseException", reinterpret_cast<void*>(&ntbox_RtlRaiseException), HIGH_LEVEL, false},
    Export{kNt, "RtlCaptureContext", reinterpret_cast<void*>(&ntbox_RtlCaptureContext), HIGH_LEVEL, false},
    NT_FN(RtlLookupFunctionEntry, HIGH_LEVEL),
    NT_FN(RtlVirtualUnwind, HIGH_LEVEL),
    Export{kNt, "__C_specific_handler", reinterpret_cast<void*>(&C_specific_handler), HIGH_LEVEL, false},
    // C runtime (rtl/Crt).
    CRT_FN(memcpy), CRT_FN(memmove), CRT_FN(memset), CRT_FN(memcmp), CRT_FN(memchr),
    CRT_FN(strlen), CRT_FN(strnlen), CRT_FN(wcslen), CRT_FN(wcsnlen),
    CRT_FN(strcmp), CRT_FN(strncmp), CRT_FN(wcscmp), CRT_FN(wcsncmp),
    CRT_FN(_stricmp), CRT_FN(_strnicmp), CRT_FN(_wcsicmp), CRT_FN(_wcsnicmp),
    CRT_FN(strcpy), CRT_FN(strncpy), CRT_FN(strcat), CRT_FN(strncat),
    CRT_FN(wcscpy), CRT_FN(wcsncpy), CRT_FN(wcscat), CRT_FN(wcsncat),
    CRT_FN(strchr), CRT_FN(strrchr), CRT_FN(strstr), CRT_FN(wcschr), CRT_FN(wcsrchr),
    CRT_FN(wcsstr), CRT_FN(_strupr), CRT_FN(_strlwr), CRT_FN(_wcsupr), CRT_FN(_wcslwr),
    CRT_FN(toupper), CRT_FN(tolower), CRT_FN(towupper), CRT_FN(towlower),
    CRT_FN(isdigit), CRT_FN(isxdigit), CRT_FN(isspace), CRT_FN(isalpha), CRT_FN(isalnum),
    CRT_FN(isupper), CRT_FN(islower), CRT_FN(isprint), CRT_FN(iswdigit), CRT_FN(iswspace),
    CRT_FN(atoi), CRT_FN(atol), CRT_FN(strtol), CRT_FN(strtoul), CRT_FN(wcstol), CRT_FN(wcstoul),
    CRT_FN(_vsnprintf), CRT_FN(_snprintf), CRT_FN(vsprintf), CRT_FN(sprintf),
    CRT_FN(_vsnwprintf), CRT_FN(_snwprintf), CRT_FN(swprintf), CRT_FN(vswprintf),
    CRT_FN(_vscprintf),
    // Variables.
    NT_DATA(NtBuildNumber),
    NT_DATA(KdDebuggerEnabled),
    NT_DATA(KdDebuggerNotPresent),
    NT_DATA(MmUserProbeAddress),
    NT_DATA(MmHighestUserAddress),
    NT_DATA(MmSystemRangeStart),
    NT_DATA(InitSafeBootMode),
    NT_DATA(KeNumberProcessors),
    NT_DATA(IoFileObjectType),
    NT_DATA(IoDeviceObjectType),
    NT_DATA(IoDriverObjectType),
    NT_DATA(ExEventObjectType),
    NT_DATA(PsProcessType),
    NT_DATA(PsThreadType),
    NT_DATA(CmKeyObjectType),
    NT_DATA(ExSemaphoreObjectType),
    NT_DATA(MmSectionObjectType),
    NT_DATA(SeTokenObjectType),
    NT_DATA(PsInitialSystemProcess),
    // HAL.
    HAL_FN(KeQueryPerformanceCounter, HIGH_LEVEL),
    HAL_FN(KeStallExecutionProcessor, HIGH_LEVEL),
});

}  // namespace

std::span<const Export> Exports() { return kExports; }

const Export* FindExport(std::string_view dll, std::string_view name) {
  for (const Export& e : kExports) {
    if (e.name == name && EqualsNoCase(e.module, dll)) return &e;
  }
  return nullptr;
}

const Export* FindExportByOrdinal(std::string_view dll, std::uint16_t ordinal) {
  std::uint16_t n = 0;
  for (const Export& e : kExports) {
    if (EqualsNoCase(e.module, dll) && ++n == ordinal) return &e;
  }
  return nullptr;
}

std::optional<std::uint16_t> OrdinalOf(const Export& target) {
  std::uint16_t n = 0;
  for (const Export& e : kExports) {
    if (e.module == target.module) ++n;
    if (&e == &target) return n;
  }
  return std::nullopt;
}

const Export* FindSystemRoutine(std::string_view name) {
  for (const Export& e : kExports) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void SetExportedBuildNumber(ULONG build) { g_NtBuildNumber = 0xF0000000 | build; }
void SetExportedProcessorCount(std::uint32_t count) { g_KeNumberProcessors = static_cast<CCHAR>(count); }

}  // namespace ntbox::nt
