// I/O manager exports (io/): devices, symbolic links, IRPs, completion, cancellation, MDLs.
#pragma once
#include "nt/io/IoTypes.h"

namespace ntbox::nt {

// DEVICE_OBJECT.Flags
constexpr ULONG DO_BUFFERED_IO = 0x4;
// DRIVER_OBJECT.Flags: a driver with no image (IoCreateDriver's; ntbox's own, nt/io/HostDriver).
constexpr ULONG DRVO_BUILTIN_DRIVER = 0x4;
constexpr ULONG DO_EXCLUSIVE = 0x8;
constexpr ULONG DO_DIRECT_IO = 0x10;
constexpr ULONG DO_DEVICE_HAS_NAME = 0x40;
constexpr ULONG DO_DEVICE_INITIALIZING = 0x80;
// IRP.Flags
constexpr ULONG IRP_SYNCHRONOUS_API = 0x4;
constexpr ULONG IRP_BUFFERED_IO = 0x10;
constexpr ULONG IRP_DEALLOCATE_BUFFER = 0x20;
constexpr ULONG IRP_INPUT_OPERATION = 0x40;
constexpr ULONG IRP_CREATE_OPERATION = 0x80;
constexpr ULONG IRP_READ_OPERATION = 0x100;
constexpr ULONG IRP_WRITE_OPERATION = 0x200;
constexpr ULONG IRP_CLOSE_OPERATION = 0x400;
// IO_STACK_LOCATION.Control
constexpr UCHAR SL_PENDING_RETURNED = 0x01;
constexpr UCHAR SL_INVOKE_ON_CANCEL = 0x20;
constexpr UCHAR SL_INVOKE_ON_SUCCESS = 0x40;
constexpr UCHAR SL_INVOKE_ON_ERROR = 0x80;
// MDL.MdlFlags
constexpr CSHORT MDL_MAPPED_TO_SYSTEM_VA = 0x1;
constexpr CSHORT MDL_PAGES_LOCKED = 0x2;
constexpr CSHORT MDL_SOURCE_IS_NONPAGED_POOL = 0x4;
constexpr CSHORT MDL_ALLOCATED_FIXED_SIZE = 0x8;
constexpr CSHORT MDL_WRITE_OPERATION = 0x80;
// Major functions
constexpr UCHAR IRP_MJ_CREATE = 0x00;
constexpr UCHAR IRP_MJ_CLOSE = 0x02;
constexpr UCHAR IRP_MJ_READ = 0x03;
constexpr UCHAR IRP_MJ_WRITE = 0x04;
constexpr UCHAR IRP_MJ_QUERY_INFORMATION = 0x05;
constexpr UCHAR IRP_MJ_SET_INFORMATION = 0x06;
constexpr UCHAR IRP_MJ_FLUSH_BUFFERS = 0x09;
constexpr UCHAR IRP_MJ_DEVICE_CONTROL = 0x0E;
constexpr UCHAR IRP_MJ_INTERNAL_DEVICE_CONTROL = 0x0F;
constexpr UCHAR IRP_MJ_CLEANUP = 0x12;
// CTL_CODE methods and access
constexpr ULONG METHOD_BUFFERED = 0;
constexpr ULONG METHOD_IN_DIRECT = 1;
constexpr ULONG METHOD_OUT_DIRECT = 2;
constexpr ULONG METHOD_NEITHER = 3;
constexpr ULONG FILE_READ_ACCESS = 1;
constexpr ULONG FILE_WRITE_ACCESS = 2;
constexpr ACCESS_MASK FILE_READ_DATA = 0x1;
constexpr ACCESS_MASK FILE_WRITE_DATA = 0x2;
constexpr ACCESS_MASK FILE_ALL_ACCESS = 0x1F01FF;
constexpr ACCESS_MASK GENERIC_READ = 0x80000000;
constexpr ACCESS_MASK GENERIC_WRITE = 0x40000000;
constexpr ACCESS_MASK GENERIC_EXECUTE = 0x20000000;
constexpr ACCESS_MASK GENERIC_ALL = 0x10000000;
constexpr ACCESS_MASK SYNCHRONIZE = 0x100000;
constexpr KPROCESSOR_MODE KernelMode = 0;
constexpr KPROCESSOR_MODE UserMode = 1;

using PDRIVER_CANCEL = void(NTAPI*)(DEVICE_OBJECT* DeviceObject, IRP* Irp);

namespace io {
// IoSetCancelRoutine: whoever swaps the routine out first (a canceller or a remover) owns the IRP.
inline PDRIVER_CANCEL ExchangeCancelRoutine(IRP* irp, PDRIVER_CANCEL routine) {
  return reinterpret_cast<PDRIVER_CANCEL>(__atomic_exchange_n(
      reinterpret_cast<void**>(const_cast<PVOID*>(&irp->CancelRoutine)), reinterpret_cast<void*>(routine),
      __ATOMIC_SEQ_CST));
}
}  // namespace io

// What every MajorFunction slot a driver leaves unset points at.
NTSTATUS NTAPI IopInvalidDeviceRequest(DEVICE_OBJECT* DeviceObject, IRP* Irp);

NTSTATUS NTAPI IoCreateDevice(DRIVER_OBJECT* DriverObject, ULONG DeviceExtensionSize, UNICODE_STRING* DeviceName,
                              ULONG DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                              DEVICE_OBJECT** DeviceObject);
void NTAPI IoDeleteDevice(DEVICE_OBJECT* DeviceObject);
NTSTATUS NTAPI IoCreateSymbolicLink(UNICODE_STRING* SymbolicLinkName, UNICODE_STRING* DeviceName);
NTSTATUS NTAPI IoCreateUnprotectedSymbolicLink(UNICODE_STRING* SymbolicLinkName, UNICODE_STRING* DeviceName);
NTSTATUS NTAPI IoDeleteSymbolicLink(UNICODE_STRING* SymbolicLinkName);
NTSTATUS NTAPI IoGetDeviceObjectPointer(UNICODE_STRING* ObjectName, ACCESS_MASK DesiredAccess,
                                        FILE_OBJECT** FileObject, DEVICE_OBJECT** DeviceObject);
DEVICE_OBJECT* NTAPI IoAttachDeviceToDeviceStack(DEVICE_OBJECT* SourceDevice, DEVICE_OBJECT* TargetDevice);
void NTAPI IoDetachDevice(DEVICE_OBJECT* TargetDevice);
DEVICE_OBJECT* NTAPI IoGetAttachedDevice(DEVICE_OBJECT* DeviceObject);
DEVICE_OBJECT* NTAPI IoGetAttachedDeviceReference(DEVICE_OBJECT* DeviceObject);

IRP* NTAPI IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota);
void NTAPI IoFreeIrp(IRP* Irp);
void NTAPI IoReuseIrp(IRP* Irp, NTSTATUS Status);
void NTAPI IoInitializeIrp(IRP* Irp, USHORT PacketSize, CCHAR StackSize);
IRP* NTAPI IoBuildDeviceIoControlRequest(ULONG IoControlCode, DEVICE_OBJECT* DeviceObject, PVOID InputBuffer,
                                         ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                         BOOLEAN InternalDeviceIoControl, KEVENT* Event,
                                         IO_STATUS_BLOCK* IoStatusBlock);
IRP* NTAPI IoBuildSynchronousFsdRequest(ULONG MajorFunction, DEVICE_OBJECT* DeviceObject, PVOID Buffer, ULONG Length,
                                        LARGE_INTEGER* StartingOffset, KEVENT* Event, IO_STATUS_BLOCK* IoStatusBlock);
IRP* NTAPI IoBuildAsynchronousFsdRequest(ULONG MajorFunction, DEVICE_OBJECT* DeviceObject, PVOID Buffer, ULONG Length,
                                         LARGE_INTEGER* StartingOffset, IO_STATUS_BLOCK* IoStatusBlock);
NTSTATUS NTAPI IofCallDriver(DEVICE_OBJECT* DeviceObject, IRP* Irp);
NTSTATUS NTAPI IoCallDriver(DEVICE_OBJECT* DeviceObject, IRP* Irp);
void NTAPI IofCompleteRequest(IRP* Irp, CCHAR PriorityBoost);
void NTAPI IoCompleteRequest(IRP* Irp, CCHAR PriorityBoost);
NTSTATUS NTAPI IoSetCompletionRoutineEx(DEVICE_OBJECT* DeviceObject, IRP* Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                        PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                        BOOLEAN InvokeOnCancel);
BOOLEAN NTAPI IoCancelIrp(IRP* Irp);
void NTAPI IoAcquireCancelSpinLock(KIRQL* Irql);
void NTAPI IoReleaseCancelSpinLock(KIRQL Irql);

MDL* NTAPI IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, IRP* Irp);
void NTAPI IoFreeMdl(MDL* Mdl);
void NTAPI MmProbeAndLockPages(MDL* Mdl, KPROCESSOR_MODE AccessMode, int Operation);
void NTAPI MmUnlockPages(MDL* Mdl);
PVOID NTAPI MmMapLockedPagesSpecifyCache(MDL* Mdl, KPROCESSOR_MODE AccessMode, int CacheType, PVOID RequestedAddress,
                                         ULONG BugCheckOnFailure, ULONG Priority);
PVOID NTAPI MmMapLockedPages(MDL* Mdl, KPROCESSOR_MODE AccessMode);
void NTAPI MmUnmapLockedPages(PVOID BaseAddress, MDL* Mdl);
void NTAPI MmBuildMdlForNonPagedPool(MDL* Mdl);
SIZE_T NTAPI MmSizeOfMdl(PVOID Base, SIZE_T Length);
BOOLEAN NTAPI MmIsAddressValid(PVOID VirtualAddress);
void NTAPI ProbeForRead(const volatile void* Address, SIZE_T Length, ULONG Alignment);
void NTAPI ProbeForWrite(volatile void* Address, SIZE_T Length, ULONG Alignment);

// System-queued I/O with the driver's StartIo (io/StartIo.cpp).
void NTAPI IoStartPacket(DEVICE_OBJECT* DeviceObject, IRP* Irp, ULONG* Key, PDRIVER_CANCEL CancelFunction);
void NTAPI IoStartNextPacket(DEVICE_OBJECT* DeviceObject, BOOLEAN Cancelable);
void NTAPI IoStartNextPacketByKey(DEVICE_OBJECT* DeviceObject, BOOLEAN Cancelable, ULONG Key);
void NTAPI IoSetStartIoAttributes(DEVICE_OBJECT* DeviceObject, BOOLEAN DeferredStartIo, BOOLEAN NonCancelable);

// The kernel stack (io/StackLimits.cpp).
void NTAPI IoGetStackLimits(ULONG_PTR* LowLimit, ULONG_PTR* HighLimit);
PVOID NTAPI IoGetInitialStack();

// Loading and unloading driver services (io/LoadDriver.cpp).
NTSTATUS NTAPI NtLoadDriver(UNICODE_STRING* DriverServiceName);
NTSTATUS NTAPI NtUnloadDriver(UNICODE_STRING* DriverServiceName);

// Remove locks (io/RemoveLock.cpp).
void NTAPI IoInitializeRemoveLockEx(IO_REMOVE_LOCK* Lock, ULONG AllocateTag, ULONG MaxLockedMinutes,
                                    ULONG HighWatermark, ULONG RemlockSize);
NTSTATUS NTAPI IoAcquireRemoveLockEx(IO_REMOVE_LOCK* RemoveLock, PVOID Tag, const char* File, ULONG Line,
                                     ULONG RemlockSize);
void NTAPI IoReleaseRemoveLockEx(IO_REMOVE_LOCK* RemoveLock, PVOID Tag, ULONG RemlockSize);
void NTAPI IoReleaseRemoveLockAndWaitEx(IO_REMOVE_LOCK* RemoveLock, PVOID Tag, ULONG RemlockSize);

// Cancel-safe queues (io/Csq.cpp).
NTSTATUS NTAPI IoCsqInitialize(IO_CSQ* Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                               PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                               PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                               PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
NTSTATUS NTAPI IoCsqInitializeEx(IO_CSQ* Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                                 PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                                 PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                                 PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
NTSTATUS NTAPI IoCsqInsertIrpEx(IO_CSQ* Csq, IRP* Irp, IO_CSQ_IRP_CONTEXT* Context, PVOID InsertContext);
void NTAPI IoCsqInsertIrp(IO_CSQ* Csq, IRP* Irp, IO_CSQ_IRP_CONTEXT* Context);
IRP* NTAPI IoCsqRemoveIrp(IO_CSQ* Csq, IO_CSQ_IRP_CONTEXT* Context);
IRP* NTAPI IoCsqRemoveNextIrp(IO_CSQ* Csq, PVOID PeekContext);

}  // namespace ntbox::nt
