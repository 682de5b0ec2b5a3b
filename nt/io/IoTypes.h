// I/O manager layouts shared with drivers (x64 WDK): driver and device objects, IRPs, stack
// locations, MDLs and file objects. Offsets are asserted here and compared field by field with
// what mingw-w64's DDK headers compile to (tests/drivers/layout_probe).
#pragma once
#include "nt/Types.h"
#include "nt/ke/KeTypes.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

struct DRIVER_OBJECT;
struct DEVICE_OBJECT;
struct IRP;
struct FILE_OBJECT;
struct IO_STACK_LOCATION;

constexpr CSHORT IO_TYPE_DEVICE = 3;
constexpr CSHORT IO_TYPE_DRIVER = 4;
constexpr CSHORT IO_TYPE_FILE = 5;
constexpr CSHORT IO_TYPE_IRP = 6;
constexpr int IRP_MJ_MAXIMUM_FUNCTION = 0x1B;
// The major function codes by number, as reports and the debugger name them.
inline constexpr const char* kMajorFunctionNames[IRP_MJ_MAXIMUM_FUNCTION + 1] = {
    "IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
    "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
    "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
    "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
    "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
    "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
    "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP"};

using PDRIVER_DISPATCH = NTSTATUS(NTAPI*)(DEVICE_OBJECT* DeviceObject, IRP* Irp);
using PDRIVER_UNLOAD = void(NTAPI*)(DRIVER_OBJECT* DriverObject);
using PDRIVER_INITIALIZE = NTSTATUS(NTAPI*)(DRIVER_OBJECT* DriverObject,
                                            UNICODE_STRING* RegistryPath);
using PDRIVER_ADD_DEVICE = NTSTATUS(NTAPI*)(DRIVER_OBJECT* DriverObject,
                                            DEVICE_OBJECT* PhysicalDeviceObject);
using PDRIVER_STARTIO = void(NTAPI*)(DEVICE_OBJECT* DeviceObject, IRP* Irp);
using PIO_COMPLETION_ROUTINE = NTSTATUS(NTAPI*)(DEVICE_OBJECT* DeviceObject, IRP* Irp,
                                                PVOID Context);

struct IO_STATUS_BLOCK {
  union {
    NTSTATUS Status;
    PVOID Pointer;
  };
  ULONG_PTR Information;
};
static_assert(sizeof(IO_STATUS_BLOCK) == 0x10);
static_assert(offsetof(IO_STATUS_BLOCK, Information) == 0x8);

struct DRIVER_EXTENSION {
  DRIVER_OBJECT* DriverObject;
  PDRIVER_ADD_DEVICE AddDevice;
  ULONG Count;
  UNICODE_STRING ServiceKeyName;
};
static_assert(sizeof(DRIVER_EXTENSION) == 0x28);
static_assert(offsetof(DRIVER_EXTENSION, AddDevice) == 0x8);
static_assert(offsetof(DRIVER_EXTENSION, Count) == 0x10);
static_assert(offsetof(DRIVER_EXTENSION, ServiceKeyName) == 0x18);

struct DRIVER_OBJECT {
  CSHORT Type;
  CSHORT Size;
  DEVICE_OBJECT* DeviceObject;
  ULONG Flags;
  PVOID DriverStart;
  ULONG DriverSize;
  PVOID DriverSection;
  DRIVER_EXTENSION* DriverExtension;
  UNICODE_STRING DriverName;
  UNICODE_STRING* HardwareDatabase;
  PVOID FastIoDispatch;
  PDRIVER_INITIALIZE DriverInit;
  PDRIVER_STARTIO DriverStartIo;
  PDRIVER_UNLOAD DriverUnload;
  PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
};
static_assert(sizeof(DRIVER_OBJECT) == 0x150);
static_assert(offsetof(DRIVER_OBJECT, DeviceObject) == 0x8);
static_assert(offsetof(DRIVER_OBJECT, Flags) == 0x10);
static_assert(offsetof(DRIVER_OBJECT, DriverStart) == 0x18);
static_assert(offsetof(DRIVER_OBJECT, DriverSize) == 0x20);
static_assert(offsetof(DRIVER_OBJECT, DriverSection) == 0x28);
static_assert(offsetof(DRIVER_OBJECT, DriverExtension) == 0x30);
static_assert(offsetof(DRIVER_OBJECT, DriverName) == 0x38);
static_assert(offsetof(DRIVER_OBJECT, HardwareDatabase) == 0x48);
static_assert(offsetof(DRIVER_OBJECT, FastIoDispatch) == 0x50);
static_assert(offsetof(DRIVER_OBJECT, DriverInit) == 0x58);
static_assert(offsetof(DRIVER_OBJECT, DriverStartIo) == 0x60);
static_assert(offsetof(DRIVER_OBJECT, DriverUnload) == 0x68);
static_assert(offsetof(DRIVER_OBJECT, MajorFunction) == 0x70);

struct WAIT_CONTEXT_BLOCK {
  union {
    KDEVICE_QUEUE_ENTRY WaitQueueEntry;
    struct {
      LIST_ENTRY DmaWaitEntry;
      ULONG NumberOfChannels;
      ULONG SyncCallback : 1;
      ULONG DmaContext : 1;
      ULONG ZeroMapRegisters : 1;
      ULONG Reserved : 9;
      ULONG NumberOfRemapPages : 20;
    };
  };
  PVOID DeviceRoutine;
  PVOID DeviceContext;
  ULONG NumberOfMapRegisters;
  PVOID DeviceObject;
  PVOID CurrentIrp;
  PVOID BufferChainingDpc;
};
static_assert(sizeof(WAIT_CONTEXT_BLOCK) == 0x48);

// The WDK aligns DEVICE_OBJECT to 16 bytes (size 0x150); mingw-w64's header does not (0x148).
// Offsets agree; ntbox allocates the larger size.
struct alignas(16) DEVICE_OBJECT {
  CSHORT Type;
  USHORT Size;
  LONG ReferenceCount;
  DRIVER_OBJECT* DriverObject;
  DEVICE_OBJECT* NextDevice;
  DEVICE_OBJECT* AttachedDevice;
  IRP* CurrentIrp;
  PVOID Timer;
  ULONG Flags;
  ULONG Characteristics;
  PVOID Vpb;
  PVOID DeviceExtension;
  ULONG DeviceType;
  CCHAR StackSize;
  union {
    LIST_ENTRY ListEntry;
    WAIT_CONTEXT_BLOCK Wcb;
  } Queue;
  ULONG AlignmentRequirement;
  KDEVICE_QUEUE DeviceQueue;
  KDPC Dpc;
  ULONG ActiveThreadCount;
  PVOID SecurityDescriptor;
  KEVENT DeviceLock;
  USHORT SectorSize;
  USHORT Spare1;
  PVOID DeviceObjectExtension;
  PVOID Reserved;
};
static_assert(sizeof(DEVICE_OBJECT) == 0x150);
static_assert(offsetof(DEVICE_OBJECT, ReferenceCount) == 0x4);
static_assert(offsetof(DEVICE_OBJECT, DriverObject) == 0x8);
static_assert(offsetof(DEVICE_OBJECT, NextDevice) == 0x10);
static_assert(offsetof(DEVICE_OBJECT, AttachedDevice) == 0x18);
static_assert(offsetof(DEVICE_OBJECT, CurrentIrp) == 0x20);
static_assert(offsetof(DEVICE_OBJECT, Timer) == 0x28);
static_assert(offsetof(DEVICE_OBJECT, Flags) == 0x30);
static_assert(offsetof(DEVICE_OBJECT, Characteristics) == 0x34);
static_assert(offsetof(DEVICE_OBJECT, Vpb) == 0x38);
static_assert(offsetof(DEVICE_OBJECT, DeviceExtension) == 0x40);
static_assert(offsetof(DEVICE_OBJECT, DeviceType) == 0x48);
static_assert(offsetof(DEVICE_OBJECT, StackSize) == 0x4C);
static_assert(offsetof(DEVICE_OBJECT, Queue) == 0x50);
static_assert(offsetof(DEVICE_OBJECT, AlignmentRequirement) == 0x98);
static_assert(offsetof(DEVICE_OBJECT, DeviceQueue) == 0xA0);
static_assert(offsetof(DEVICE_OBJECT, Dpc) == 0xC8);
static_assert(offsetof(DEVICE_OBJECT, ActiveThreadCount) == 0x108);
static_assert(offsetof(DEVICE_OBJECT, SecurityDescriptor) == 0x110);
static_assert(offsetof(DEVICE_OBJECT, DeviceLock) == 0x118);
static_assert(offsetof(DEVICE_OBJECT, SectorSize) == 0x130);
static_assert(offsetof(DEVICE_OBJECT, Spare1) == 0x132);
static_assert(offsetof(DEVICE_OBJECT, DeviceObjectExtension) == 0x138);
static_assert(offsetof(DEVICE_OBJECT, Reserved) == 0x140);

struct MDL {
  MDL* Next;
  CSHORT Size;
  CSHORT MdlFlags;
  PVOID Process;
  PVOID MappedSystemVa;
  PVOID StartVa;
  ULONG ByteCount;
  ULONG ByteOffset;
};
static_assert(sizeof(MDL) == 0x30);
static_assert(offsetof(MDL, Size) == 0x8);
static_assert(offsetof(MDL, MdlFlags) == 0xA);
static_assert(offsetof(MDL, Process) == 0x10);
static_assert(offsetof(MDL, MappedSystemVa) == 0x18);
static_assert(offsetof(MDL, StartVa) == 0x20);
static_assert(offsetof(MDL, ByteCount) == 0x28);
static_assert(offsetof(MDL, ByteOffset) == 0x2C);

struct FILE_OBJECT {
  CSHORT Type;
  CSHORT Size;
  DEVICE_OBJECT* DeviceObject;
  PVOID Vpb;
  PVOID FsContext;
  PVOID FsContext2;
  PVOID SectionObjectPointer;
  PVOID PrivateCacheMap;
  NTSTATUS FinalStatus;
  FILE_OBJECT* RelatedFileObject;
  BOOLEAN LockOperation;
  BOOLEAN DeletePending;
  BOOLEAN ReadAccess;
  BOOLEAN WriteAccess;
  BOOLEAN DeleteAccess;
  BOOLEAN SharedRead;
  BOOLEAN SharedWrite;
  BOOLEAN SharedDelete;
  ULONG Flags;
  UNICODE_STRING FileName;
  LARGE_INTEGER CurrentByteOffset;
  volatile ULONG Waiters;
  volatile ULONG Busy;
  PVOID LastLock;
  KEVENT Lock;
  KEVENT Event;
  PVOID CompletionContext;
  KSPIN_LOCK IrpListLock;
  LIST_ENTRY IrpList;
  volatile PVOID FileObjectExtension;
};
static_assert(sizeof(FILE_OBJECT) == 0xD8);
static_assert(offsetof(FILE_OBJECT, DeviceObject) == 0x8);
static_assert(offsetof(FILE_OBJECT, FsContext) == 0x18);
static_assert(offsetof(FILE_OBJECT, FinalStatus) == 0x38);
static_assert(offsetof(FILE_OBJECT, RelatedFileObject) == 0x40);
static_assert(offsetof(FILE_OBJECT, LockOperation) == 0x48);
static_assert(offsetof(FILE_OBJECT, SharedDelete) == 0x4F);
static_assert(offsetof(FILE_OBJECT, Flags) == 0x50);
static_assert(offsetof(FILE_OBJECT, FileName) == 0x58);
static_assert(offsetof(FILE_OBJECT, CurrentByteOffset) == 0x68);
static_assert(offsetof(FILE_OBJECT, Waiters) == 0x70);
static_assert(offsetof(FILE_OBJECT, Busy) == 0x74);
static_assert(offsetof(FILE_OBJECT, LastLock) == 0x78);
static_assert(offsetof(FILE_OBJECT, Lock) == 0x80);
static_assert(offsetof(FILE_OBJECT, Event) == 0x98);
static_assert(offsetof(FILE_OBJECT, CompletionContext) == 0xB0);
static_assert(offsetof(FILE_OBJECT, IrpListLock) == 0xB8);
static_assert(offsetof(FILE_OBJECT, IrpList) == 0xC0);
static_assert(offsetof(FILE_OBJECT, FileObjectExtension) == 0xD0);

struct IRP {
  CSHORT Type;
  USHORT Size;
  MDL* MdlAddress;
  ULONG Flags;
  union {
    IRP* MasterIrp;
    volatile LONG IrpCount;
    PVOID SystemBuffer;
  } AssociatedIrp;
  LIST_ENTRY ThreadListEntry;
  IO_STATUS_BLOCK IoStatus;
  KPROCESSOR_MODE RequestorMode;
  BOOLEAN PendingReturned;
  CHAR StackCount;
  CHAR CurrentLocation;
  BOOLEAN Cancel;
  KIRQL CancelIrql;
  CCHAR ApcEnvironment;
  UCHAR AllocationFlags;
  IO_STATUS_BLOCK* UserIosb;
  KEVENT* UserEvent;
  union {
    struct {
      PVOID UserApcRoutine;
      PVOID UserApcContext;
    } AsynchronousParameters;
    LARGE_INTEGER AllocationSize;
  } Overlay;
  volatile PVOID CancelRoutine;
  PVOID UserBuffer;
  union {
    struct {
      union {
        KDEVICE_QUEUE_ENTRY DeviceQueueEntry;
        struct {
          PVOID DriverContext[4];
        };
      };
      PVOID Thread;
      CHAR* AuxiliaryBuffer;
      struct {
        LIST_ENTRY ListEntry;
        union {
          IO_STACK_LOCATION* CurrentStackLocation;
          ULONG PacketType;
        };
      };
      FILE_OBJECT* OriginalFileObject;
    } Overlay;
    KAPC Apc;
    PVOID CompletionKey;
  } Tail;
};
static_assert(sizeof(IRP) == 0xD0);
static_assert(offsetof(IRP, MdlAddress) == 0x8);
static_assert(offsetof(IRP, Flags) == 0x10);
static_assert(offsetof(IRP, AssociatedIrp) == 0x18);
static_assert(offsetof(IRP, ThreadListEntry) == 0x20);
static_assert(offsetof(IRP, IoStatus) == 0x30);
static_assert(offsetof(IRP, RequestorMode) == 0x40);
static_assert(offsetof(IRP, PendingReturned) == 0x41);
static_assert(offsetof(IRP, StackCount) == 0x42);
static_assert(offsetof(IRP, CurrentLocation) == 0x43);
static_assert(offsetof(IRP, Cancel) == 0x44);
static_assert(offsetof(IRP, CancelIrql) == 0x45);
static_assert(offsetof(IRP, ApcEnvironment) == 0x46);
static_assert(offsetof(IRP, AllocationFlags) == 0x47);
static_assert(offsetof(IRP, UserIosb) == 0x48);
static_assert(offsetof(IRP, UserEvent) == 0x50);
static_assert(offsetof(IRP, Overlay) == 0x58);
static_assert(offsetof(IRP, CancelRoutine) == 0x68);
static_assert(offsetof(IRP, UserBuffer) == 0x70);
static_assert(offsetof(IRP, Tail) == 0x78);
static_assert(offsetof(IRP, Tail.Overlay.Thread) == 0x98);
static_assert(offsetof(IRP, Tail.Overlay.AuxiliaryBuffer) == 0xA0);
static_assert(offsetof(IRP, Tail.Overlay.ListEntry) == 0xA8);
static_assert(offsetof(IRP, Tail.Overlay.CurrentStackLocation) == 0xB8);
static_assert(offsetof(IRP, Tail.Overlay.OriginalFileObject) == 0xC0);

struct IO_STACK_LOCATION {
  UCHAR MajorFunction;
  UCHAR MinorFunction;
  UCHAR Flags;
  UCHAR Control;
  union {
    struct {
      PVOID SecurityContext;
      ULONG Options;
      alignas(8) USHORT FileAttributes;
      USHORT ShareAccess;
      alignas(8) ULONG EaLength;
    } Create;
    struct {
      ULONG Length;
      alignas(8) ULONG Key;
      LARGE_INTEGER ByteOffset;
    } Read;
    struct {
      ULONG Length;
      alignas(8) ULONG Key;
      LARGE_INTEGER ByteOffset;
    } Write;
    struct {
      ULONG Length;
      alignas(8) int FileInformationClass;
    } QueryFile;
    struct {
      ULONG Length;
      alignas(8) int FileInformationClass;
      FILE_OBJECT* FileObject;
      union {
        struct {
          BOOLEAN ReplaceIfExists;
          BOOLEAN AdvanceOnly;
        };
        ULONG ClusterCount;
        HANDLE DeleteHandle;
      };
    } SetFile;
    struct {
      ULONG OutputBufferLength;
      alignas(8) ULONG InputBufferLength;
      alignas(8) ULONG IoControlCode;
      PVOID Type3InputBuffer;
    } DeviceIoControl;
    struct {
      PVOID Argument1;
      PVOID Argument2;
      PVOID Argument3;
      PVOID Argument4;
    } Others;
  } Parameters;
  DEVICE_OBJECT* DeviceObject;
  FILE_OBJECT* FileObject;
  PIO_COMPLETION_ROUTINE CompletionRoutine;
  PVOID Context;
};
static_assert(sizeof(IO_STACK_LOCATION) == 0x48);
static_assert(offsetof(IO_STACK_LOCATION, Parameters) == 0x8);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Create.Options) == 0x10);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Create.FileAttributes) == 0x18);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Create.ShareAccess) == 0x1A);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Create.EaLength) == 0x20);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Read.Key) == 0x10);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.Read.ByteOffset) == 0x18);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.SetFile.FileObject) == 0x18);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength) == 0x10);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode) == 0x18);
static_assert(offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer) == 0x20);
static_assert(offsetof(IO_STACK_LOCATION, DeviceObject) == 0x28);
static_assert(offsetof(IO_STACK_LOCATION, FileObject) == 0x30);
static_assert(offsetof(IO_STACK_LOCATION, CompletionRoutine) == 0x38);
static_assert(offsetof(IO_STACK_LOCATION, Context) == 0x40);

// IO_REMOVE_LOCK as free builds lay it out (checked builds append a debug block).
struct IO_REMOVE_LOCK_COMMON_BLOCK {
  BOOLEAN Removed;
  BOOLEAN Reserved[3];
  volatile LONG IoCount;
  KEVENT RemoveEvent;
};
struct IO_REMOVE_LOCK {
  IO_REMOVE_LOCK_COMMON_BLOCK Common;
};
static_assert(sizeof(IO_REMOVE_LOCK) == 0x20);
static_assert(offsetof(IO_REMOVE_LOCK, Common.IoCount) == 0x4);
static_assert(offsetof(IO_REMOVE_LOCK, Common.RemoveEvent) == 0x8);

// Cancel-safe queues: the driver's queue routines, called under its own lock.
struct IO_CSQ;
using PIO_CSQ_INSERT_IRP = void(NTAPI*)(IO_CSQ* Csq, IRP* Irp);
using PIO_CSQ_INSERT_IRP_EX = NTSTATUS(NTAPI*)(IO_CSQ* Csq, IRP* Irp, PVOID InsertContext);
using PIO_CSQ_REMOVE_IRP = void(NTAPI*)(IO_CSQ* Csq, IRP* Irp);
using PIO_CSQ_PEEK_NEXT_IRP = IRP*(NTAPI*)(IO_CSQ* Csq, IRP* Irp, PVOID PeekContext);
using PIO_CSQ_ACQUIRE_LOCK = void(NTAPI*)(IO_CSQ* Csq, KIRQL* Irql);
using PIO_CSQ_RELEASE_LOCK = void(NTAPI*)(IO_CSQ* Csq, KIRQL Irql);
using PIO_CSQ_COMPLETE_CANCELED_IRP = void(NTAPI*)(IO_CSQ* Csq, IRP* Irp);

constexpr ULONG IO_TYPE_CSQ_IRP_CONTEXT = 1;
constexpr ULONG IO_TYPE_CSQ = 2;
constexpr ULONG IO_TYPE_CSQ_EX = 3;

struct IO_CSQ {
  ULONG Type;
  PVOID CsqInsertIrp;  // PIO_CSQ_INSERT_IRP, or PIO_CSQ_INSERT_IRP_EX for IO_TYPE_CSQ_EX
  PIO_CSQ_REMOVE_IRP CsqRemoveIrp;
  PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp;
  PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock;
  PIO_CSQ_RELEASE_LOCK CsqReleaseLock;
  PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp;
  PVOID ReservePointer;
};
static_assert(sizeof(IO_CSQ) == 0x40);
static_assert(offsetof(IO_CSQ, CsqInsertIrp) == 0x8);
static_assert(offsetof(IO_CSQ, CsqCompleteCanceledIrp) == 0x30);

struct IO_CSQ_IRP_CONTEXT {
  ULONG Type;
  IRP* Irp;
  IO_CSQ* Csq;
};
static_assert(sizeof(IO_CSQ_IRP_CONTEXT) == 0x18);

}  // namespace ntbox::nt
