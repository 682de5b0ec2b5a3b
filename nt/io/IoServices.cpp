#include "nt/io/IoServices.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include <fmt/format.h>

#include "cpu/SafeCopy.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/DeviceState.h"
#include "nt/kd/DebugPrint.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/ob/ObExports.h"
#include "nt/io/IrpBlock.h"
#include "nt/io/Overlapped.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/Probe.h"
#include "nt/ps/Process.h"
#include "support/Utf16.h"

namespace ntbox::nt::io {
namespace {

constexpr ULONG FO_SYNCHRONOUS_IO = 0x2;

struct IoSecurityContext {
  PVOID SecurityQos;
  PVOID AccessState;
  ACCESS_MASK DesiredAccess;
  ULONG FullCreateOptions;
};

bool UserRange(const void* p, std::uint64_t length) {
  return mm::IsUserRange(reinterpret_cast<std::uint64_t>(p), length);
}

// The driver code behind a dispatch slot is still there (false after the image went away at
// shutdown: nothing is sent then).
bool CanDispatch(DEVICE_OBJECT* device, UCHAR major) {
  if (!device->DriverObject) return false;
  const auto routine = reinterpret_cast<std::uint64_t>(device->DriverObject->MajorFunction[major]);
  if (routine == reinterpret_cast<std::uint64_t>(&IopInvalidDeviceRequest)) return true;
  if (device->DriverObject->Flags & DRVO_BUILTIN_DRIVER) return true;  // ntbox's own code, never unloaded
  Kernel* kernel = Kernel::CurrentOrNull();
  return kernel && kernel->ModuleAt(routine);
}

IrpBlock* NewIrp(DEVICE_OBJECT* top, FILE_OBJECT* file, UCHAR major, ULONG systemBytes = 0) {
  IrpBlock* block = AllocateIrpBlock(top->StackSize, IrpOrigin::kSystemService, systemBytes);
  if (!block) return nullptr;
  IRP& irp = block->irp;
  ke::KernelThread* t = ke::CurrentThread();
  irp.RequestorMode = t ? t->previousMode : KernelMode;
  irp.Tail.Overlay.Thread = t ? t->kthread() : nullptr;
  irp.Tail.Overlay.OriginalFileObject = file;
  irp.Flags |= IRP_SYNCHRONOUS_API;
  IO_STACK_LOCATION* sl = irp.Tail.Overlay.CurrentStackLocation - 1;
  sl->MajorFunction = major;
  sl->FileObject = file;
  return block;
}

// Sends the IRP and waits for it. A driver that returns without completing or pending the IRP
// gets its returned status reported; the IRP stays with it.
IoStatus SendAndWait(DEVICE_OBJECT* top, IrpBlock* block) {
  const NTSTATUS returned = IofCallDriver(top, &block->irp);
  if (block->done.load(std::memory_order_acquire) == 0) {
    if (returned != STATUS_PENDING) return IoStatus{returned, 0};
    WaitForCompletion(block);
  }
  IoStatus result{block->irp.IoStatus.Status, block->irp.IoStatus.Information};
  FreeIrpBlock(block);
  return result;
}

void SendFileIrp(FILE_OBJECT* file, UCHAR major) {
  DEVICE_OBJECT* top = IoGetAttachedDevice(file->DeviceObject);
  if (!CanDispatch(top, major)) return;
  IrpBlock* block = NewIrp(top, file, major);
  if (!block) return;
  if (major == IRP_MJ_CLOSE) block->irp.Flags |= IRP_CLOSE_OPERATION;
  (void)SendAndWait(top, block);
}

void OnLastHandleClosed(void* body) {
  auto* file = static_cast<FILE_OBJECT*>(body);
  if (TailOf(file)->created) SendFileIrp(file, IRP_MJ_CLEANUP);
}

void OnFileDeleted(void* body) {
  auto* file = static_cast<FILE_OBJECT*>(body);
  if (TailOf(file)->hostFd >= 0) {
    CloseDriveFile(file);
    return;
  }
  if (TailOf(file)->created) SendFileIrp(file, IRP_MJ_CLOSE);
  if (FILE_OBJECT* related = file->RelatedFileObject) {
    file->RelatedFileObject = nullptr;
    ob::DereferenceObject(related);
  }
  if (DEVICE_OBJECT* device = file->DeviceObject) {
    if (DeviceState* state = StateOf(device)) state->openFiles.fetch_sub(1);
    ob::DereferenceObject(device);
  }
}

}  // namespace

FILE_OBJECT* NewFileObject(std::u16string_view name) {
  HookFileType();
  const std::size_t nameBytes = name.size() * 2;
  auto* file = static_cast<FILE_OBJECT*>(
      ob::CreateObject(ob::FileType(), sizeof(FILE_OBJECT) + sizeof(FileTail) + nameBytes + 2));
  if (!file) return nullptr;
  new (TailOf(file)) FileTail();
  file->Type = IO_TYPE_FILE;
  file->Size = sizeof(FILE_OBJECT);
  auto* copy = reinterpret_cast<char16_t*>(reinterpret_cast<std::uint8_t*>(TailOf(file)) + sizeof(FileTail));
  std::memcpy(copy, name.data(), nameBytes);
  file->FileName = UNICODE_STRING{static_cast<USHORT>(nameBytes), static_cast<USHORT>(nameBytes + 2), copy};
  file->Flags = FO_SYNCHRONOUS_IO;
  KeInitializeEvent(&file->Lock, 1, FALSE);
  KeInitializeEvent(&file->Event, 0, FALSE);
  file->IrpList.Flink = file->IrpList.Blink = &file->IrpList;
  return file;
}

void HookFileType() {
  static const bool hooked = [] {
    ob::FileType().onLastHandleClosed = &OnLastHandleClosed;
    ob::FileType().onDelete = &OnFileDeleted;
    return true;
  }();
  (void)hooked;
}

namespace {

ACCESS_MASK MapGeneric(ACCESS_MASK access) { return se::MapGenericRights(access, se::kFileGenericMapping); }

// A file object on device for the caller, after a successful IRP_MJ_CREATE.
std::expected<FILE_OBJECT*, NTSTATUS> CreateFileObject(DEVICE_OBJECT* device, std::u16string_view remainder,
                                                       ACCESS_MASK granted, ULONG shareAccess,
                                                       FILE_OBJECT* related = nullptr) {
  HookFileType();
  DeviceState* state = StateOf(device);
  if (!state || state->deleted) return std::unexpected(STATUS_NO_SUCH_DEVICE);
  if (device->Flags & DO_DEVICE_INITIALIZING) return std::unexpected(STATUS_NO_SUCH_DEVICE);
  if ((device->Flags & DO_EXCLUSIVE) && state->openFiles.load() > 0) return std::unexpected(STATUS_ACCESS_DENIED);
  // A program's open is checked against the device's DACL: the device itself always, a name below
  // it only with FILE_DEVICE_SECURE_OPEN (the driver checks those itself otherwise), as on Windows.
  constexpr ULONG FILE_DEVICE_SECURE_OPEN = 0x100;
  if (state->dacl && ExGetPreviousMode() == UserMode &&
      (remainder.empty() || (device->Characteristics & FILE_DEVICE_SECURE_OPEN)) &&
      !se::UserMayAccess(*state->dacl, granted, se::kFileGenericMapping)) {
    return std::unexpected(STATUS_ACCESS_DENIED);
  }
  FILE_OBJECT* file = NewFileObject(remainder);
  if (!file) return std::unexpected(STATUS_INSUFFICIENT_RESOURCES);
  file->DeviceObject = device;
  ob::ReferenceObject(device);
  state->openFiles.fetch_add(1);
  file->ReadAccess = (granted & FILE_READ_DATA) ? TRUE : FALSE;
  file->WriteAccess = (granted & FILE_WRITE_DATA) ? TRUE : FALSE;
  file->SharedRead = (shareAccess & 1) ? TRUE : FALSE;
  file->SharedWrite = (shareAccess & 2) ? TRUE : FALSE;
  if (related) {
    ob::ReferenceObject(related);  // until the file is deleted
    file->RelatedFileObject = related;
  }

  DEVICE_OBJECT* top = IoGetAttachedDevice(device);
  IrpBlock* block = NewIrp(top, file, IRP_MJ_CREATE);
  if (!block) {
    ob::DereferenceObject(file);
    return std::unexpected(STATUS_INSUFFICIENT_RESOURCES);
  }
  block->irp.Flags |= IRP_CREATE_OPERATION;
  IoSecurityContext security{nullptr, nullptr, granted, 0};
  IO_STACK_LOCATION* sl = block->irp.Tail.Overlay.CurrentStackLocation - 1;
  sl->Parameters.Create.SecurityContext = &security;
  sl->Parameters.Create.Options = 1u << 24;  // FILE_OPEN
  sl->Parameters.Create.ShareAccess = static_cast<USHORT>(shareAccess);
  const IoStatus status = SendAndWait(top, block);
  if (!NT_SUCCESS(status.status)) {
    ob::DereferenceObject(file);  // no cleanup or close for a failed create
    return std::unexpected(status.status);
  }
  TailOf(file)->created = true;
  return file;
}

// The file object behind a process's handle, referenced, with the handle's access.
struct FileRef {
  FILE_OBJECT* file = nullptr;
  ACCESS_MASK access = 0;
  ~FileRef() {
    if (file) ob::DereferenceObject(file);
  }
};

NTSTATUS ReferenceFile(ps::Process& process, ob::HandleValue handle, FileRef& out) {
  auto entry = process.handles().Reference(handle);
  if (!entry) return STATUS_INVALID_HANDLE;
  ob::ObjectHeader* h = ob::HeaderOf(entry->body);
  if (!h || h->type != &ob::FileType()) {
    ob::DereferenceObject(entry->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  out.file = static_cast<FILE_OBJECT*>(entry->body);
  out.access = entry->access;
  return STATUS_SUCCESS;
}

// Locks a user buffer for direct I/O: an MDL on the IRP, probed for the access the method needs.
bool LockUserBuffer(IRP& irp, void* buffer, ULONG length, bool write) {
  if (!UserRange(buffer, length)) return false;
  MDL* mdl = IoAllocateMdl(buffer, length, FALSE, FALSE, &irp);
  return mdl && mm::LockPages(mdl, write);
}

// Probes a user output buffer for writing, as the I/O manager does before buffered I/O.
bool ProbeUserWrite(void* buffer, ULONG length) {
  return length == 0 ||
         (UserRange(buffer, length) && mm::TouchPages(reinterpret_cast<std::uint64_t>(buffer), length, true));
}

IoStatus Transfer(ps::Process& process, ob::HandleValue handle, UCHAR major, void* buffer, ULONG length,
                  std::optional<std::int64_t> offset, const AsyncRequest* async) {
  ServiceContext context(process);
  FileRef ref;
  if (NTSTATUS s = ReferenceFile(process, handle, ref); !NT_SUCCESS(s)) return {s, 0};
  const bool read = major == IRP_MJ_READ;
  if (!(ref.access & (read ? FILE_READ_DATA : FILE_WRITE_DATA))) return {STATUS_ACCESS_DENIED, 0};
  if (length && !UserRange(buffer, length)) return {STATUS_ACCESS_VIOLATION, 0};
  DEVICE_OBJECT* device = ref.file->DeviceObject;
  DEVICE_OBJECT* top = IoGetAttachedDevice(device);
  const bool buffered = device->Flags & DO_BUFFERED_IO;
  const bool direct = !buffered && (device->Flags & DO_DIRECT_IO);
  IrpBlock* block = NewIrp(top, ref.file, major, buffered ? length : 0);
  if (!block) return {STATUS_INSUFFICIENT_RESOURCES, 0};
  IRP& irp = block->irp;
  irp.Flags |= read ? IRP_READ_OPERATION : IRP_WRITE_OPERATION;
  if (buffered) {
    if (length) {
      irp.Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
      if (read) {
        if (!ProbeUserWrite(buffer, length)) {
          FreeIrpBlock(block);
          return {STATUS_ACCESS_VIOLATION, 0};
        }
        irp.Flags |= IRP_INPUT_OPERATION;
        std::memset(irp.AssociatedIrp.SystemBuffer, 0, length);
      } else if (!cpu::SafeCopy(irp.AssociatedIrp.SystemBuffer, buffer, length)) {
        FreeIrpBlock(block);
        return {STATUS_ACCESS_VIOLATION, 0};
      }
    }
    irp.UserBuffer = buffer;
    block->userOutputLength = length;
  } else if (direct) {
    if (length && !LockUserBuffer(irp, buffer, length, read)) {
      IoFreeIrp(&irp);
      return {STATUS_ACCESS_VIOLATION, 0};
    }
    irp.UserBuffer = buffer;
  } else {
    irp.UserBuffer = buffer;
  }
  IO_STACK_LOCATION* sl = irp.Tail.Overlay.CurrentStackLocation - 1;
  sl->Parameters.Read.Length = length;
  sl->Parameters.Read.ByteOffset.QuadPart = offset ? *offset : ref.file->CurrentByteOffset.QuadPart;
  if (async && !(ref.file->Flags & FO_SYNCHRONOUS_IO)) {
    // Overlapped: no file position (the caller gives the offset), completion as DeviceIoControl's.
    irp.Flags &= ~IRP_SYNCHRONOUS_API;
    ULONG_PTR information = 0;
    const NTSTATUS sent = SendOverlapped(process, ref.file, top, block, *async, information);
    return {sent, information};
  }
  const IoStatus status = SendAndWait(top, block);
  if (NT_SUCCESS(status.status)) {
    ref.file->CurrentByteOffset.QuadPart = sl->Parameters.Read.ByteOffset.QuadPart +
                                           static_cast<LONGLONG>(status.information);
  }
  return status;
}

}  // namespace

ServiceContext::ServiceContext(ps::Process& process) {
  ke::KernelThread* t = ke::CurrentThread();
  previousProcess_ = t->process;
  previousMode_ = t->previousMode;
  t->process = &process;
  t->previousMode = process.space() ? UserMode : KernelMode;
}

ServiceContext::~ServiceContext() {
  ke::KernelThread* t = ke::CurrentThread();
  t->process = previousProcess_;
  t->previousMode = previousMode_;
}

std::expected<ob::HandleValue, NTSTATUS> OpenFile(ps::Process& process, std::u16string_view ntName,
                                                   ACCESS_MASK desiredAccess, ULONG shareAccess, bool overlapped) {
  ServiceContext context(process);
  auto found = Kernel::Current().objects().Find(ntName);
  if (!found) return std::unexpected(static_cast<NTSTATUS>(found.error().ntstatus));
  void* object = found->body;
  ob::ObjectHeader* h = ob::HeaderOf(object);
  if (!h || h->type != &ob::DeviceType()) {
    ob::DereferenceObject(object);
    return std::unexpected(STATUS_OBJECT_TYPE_MISMATCH);
  }
  const ACCESS_MASK granted = MapGeneric(desiredAccess);
  auto file = CreateFileObject(static_cast<DEVICE_OBJECT*>(object), found->remainder, granted, shareAccess);
  ob::DereferenceObject(object);
  if (!file) return std::unexpected(file.error());
  if (overlapped) (*file)->Flags &= ~FO_SYNCHRONOUS_IO;
  const ob::HandleValue handle = process.handles().Insert(*file, granted);
  ob::DereferenceObject(*file);  // the handle holds it now
  return handle;
}

std::expected<ob::HandleValue, NTSTATUS> OpenRelative(ps::Process& process, ob::HandleValue root,
                                                       std::u16string_view name, ACCESS_MASK desiredAccess,
                                                       ULONG shareAccess, bool overlapped) {
  ServiceContext context(process);
  FileRef ref;
  if (NTSTATUS s = ReferenceFile(process, root, ref); !NT_SUCCESS(s)) return std::unexpected(s);
  // Names relative to a directory on a drive are not supported yet.
  if (TailOf(ref.file)->hostFd >= 0) return std::unexpected(STATUS_NOT_IMPLEMENTED);
  if (!ref.file->DeviceObject) return std::unexpected(STATUS_OBJECT_TYPE_MISMATCH);
  const ACCESS_MASK granted = MapGeneric(desiredAccess);
  auto file = CreateFileObject(ref.file->DeviceObject, name, granted, shareAccess, ref.file);
  if (!file) return std::unexpected(file.error());
  if (overlapped) (*file)->Flags &= ~FO_SYNCHRONOUS_IO;
  const ob::HandleValue handle = process.handles().Insert(*file, granted);
  ob::DereferenceObject(*file);
  return handle;
}

IoStatus DeviceIoControl(ps::Process& process, ob::HandleValue handle, ULONG code, void* input, ULONG inputLength,
                         void* output, ULONG outputLength, bool internal, const AsyncRequest* async) {
  ServiceContext context(process);
  FileRef ref;
  if (NTSTATUS s = ReferenceFile(process, handle, ref); !NT_SUCCESS(s)) return {s, 0};
  const ULONG requiredAccess = (code >> 14) & 3;
  if (((requiredAccess & FILE_READ_ACCESS) && !(ref.access & FILE_READ_DATA)) ||
      ((requiredAccess & FILE_WRITE_ACCESS) && !(ref.access & FILE_WRITE_DATA))) {
    return {STATUS_ACCESS_DENIED, 0};
  }
  const ULONG method = code & 3;
  const bool user = ke::CurrentThread()->previousMode == UserMode;
  if (method != METHOD_NEITHER && user) {
    if (inputLength && !UserRange(input, inputLength)) return {STATUS_ACCESS_VIOLATION, 0};
    if (outputLength && !UserRange(output, outputLength)) return {STATUS_ACCESS_VIOLATION, 0};
  }
  DEVICE_OBJECT* top = IoGetAttachedDevice(ref.file->DeviceObject);
  const ULONG systemBytes = method == METHOD_BUFFERED ? std::max(inputLength, outputLength)
                            : method == METHOD_NEITHER ? 0
                                                       : inputLength;
  IrpBlock* block = NewIrp(top, ref.file, internal ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL,
                           systemBytes);
  if (!block) return {STATUS_INSUFFICIENT_RESOURCES, 0};
  IRP& irp = block->irp;
  if (systemBytes) {
    irp.Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
    auto* system = static_cast<std::uint8_t*>(irp.AssociatedIrp.SystemBuffer);
    if (inputLength && !cpu::SafeCopy(system, input, inputLength)) {
      FreeIrpBlock(block);
      return {STATUS_ACCESS_VIOLATION, 0};
    }
    // Windows leaves the rest as the pool had it; zeros keep host memory out of the driver's view.
    if (systemBytes > inputLength) std::memset(system + inputLength, 0, systemBytes - inputLength);
  }
  switch (method) {
    case METHOD_BUFFERED:
      if (outputLength) {
        if (!ProbeUserWrite(output, outputLength)) {
          FreeIrpBlock(block);
          return {STATUS_ACCESS_VIOLATION, 0};
        }
        irp.Flags |= IRP_INPUT_OPERATION;
      }
      irp.UserBuffer = output;
      block->userOutputLength = outputLength;
      break;
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
      if (outputLength && !LockUserBuffer(irp, output, outputLength, method == METHOD_OUT_DIRECT)) {
        IoFreeIrp(&irp);
        return {STATUS_ACCESS_VIOLATION, 0};
      }
      irp.UserBuffer = output;
      break;
    default:
      irp.UserBuffer = output;
      break;
  }
  IO_STACK_LOCATION* sl = irp.Tail.Overlay.CurrentStackLocation - 1;
  sl->Parameters.DeviceIoControl.IoControlCode = code;
  sl->Parameters.DeviceIoControl.InputBufferLength = inputLength;
  sl->Parameters.DeviceIoControl.OutputBufferLength = outputLength;
  if (method == METHOD_NEITHER) sl->Parameters.DeviceIoControl.Type3InputBuffer = input;
  if (async && !(ref.file->Flags & FO_SYNCHRONOUS_IO)) {
    irp.Flags &= ~IRP_SYNCHRONOUS_API;
    ULONG_PTR information = 0;
    const NTSTATUS status = SendOverlapped(process, ref.file, top, block, *async, information);
    return {status, information};
  }
  return SendAndWait(top, block);
}

std::size_t CancelIo(ps::Process& process, ob::HandleValue handle, const void* overlapped) {
  ServiceContext context(process);
  FileRef ref;
  if (!NT_SUCCESS(ReferenceFile(process, handle, ref))) return 0;
  return CancelOverlapped(process, ref.file, overlapped);
}

bool WaitForOverlapped(ps::Process& process, const void* overlapped) {
  ServiceContext context(process);
  return WaitOverlapped(process, overlapped);
}

void EndProcessIo(ps::Process& process) {
  ServiceContext context(process);
  EndOverlapped(process);
}

IoStatus ReadFile(ps::Process& process, ob::HandleValue handle, void* buffer, ULONG length,
                  std::optional<std::int64_t> offset, const AsyncRequest* async) {
  return Transfer(process, handle, IRP_MJ_READ, buffer, length, offset, async);
}

IoStatus WriteFile(ps::Process& process, ob::HandleValue handle, const void* buffer, ULONG length,
                   std::optional<std::int64_t> offset, const AsyncRequest* async) {
  return Transfer(process, handle, IRP_MJ_WRITE, const_cast<void*>(buffer), length, offset, async);
}

IoStatus FlushBuffers(ps::Process& process, ob::HandleValue handle) {
  ServiceContext context(process);
  FileRef ref;
  if (NTSTATUS s = ReferenceFile(process, handle, ref); !NT_SUCCESS(s)) return {s, 0};
  DEVICE_OBJECT* top = IoGetAttachedDevice(ref.file->DeviceObject);
  IrpBlock* block = NewIrp(top, ref.file, IRP_MJ_FLUSH_BUFFERS);
  if (!block) return {STATUS_INSUFFICIENT_RESOURCES, 0};
  return SendAndWait(top, block);
}

NTSTATUS Close(ps::Process& process, ob::HandleValue handle) {
  ServiceContext context(process);
  auto entry = process.handles().Remove(handle);
  if (!entry) return STATUS_INVALID_HANDLE;
  ob::CloseHandleEntry(*entry);
  return STATUS_SUCCESS;
}

std::vector<DEVICE_OBJECT*> DevicesOf(const DRIVER_OBJECT* driver) {
  constexpr std::size_t kMaxDevices = 4096;
  std::vector<DEVICE_OBJECT*> devices;
  DEVICE_OBJECT* d = nullptr;
  if (!cpu::SafeCopy(&d, &driver->DeviceObject, sizeof d)) return devices;
  while (d) {
    DRIVER_OBJECT* owner = nullptr;
    const DeviceState* state = StateOf(d);
    const bool valid = state && !state->deleted && cpu::SafeCopy(&owner, &d->DriverObject, sizeof owner) &&
                       owner == driver && devices.size() < kMaxDevices &&
                       std::find(devices.begin(), devices.end(), d) == devices.end();
    if (!valid) {
      static std::mutex reportedMutex;
      static std::set<const DRIVER_OBJECT*> reported;  // once per driver: every walk meets the break
      std::lock_guard lock(reportedMutex);
      if (reported.size() > 1024) reported.clear();
      if (!reported.insert(driver).second) break;
      Kernel::Current().DebugOutput(kNtboxComponent, 0,
                                    fmt::format("the driver's device list is corrupt: NextDevice leads to {:#x}, "
                                                "which is not one of its live devices (or loops); the rest is ignored\n",
                                                reinterpret_cast<std::uint64_t>(d)));
      break;
    }
    devices.push_back(d);
    if (!cpu::SafeCopy(&d, &d->NextDevice, sizeof d)) break;
  }
  return devices;
}

std::size_t OpenFilesOn(const DRIVER_OBJECT* driver) {
  std::size_t n = 0;
  for (DEVICE_OBJECT* d : DevicesOf(driver)) {
    if (DeviceState* state = StateOf(d)) n += static_cast<std::size_t>(state->openFiles.load());
  }
  return n;
}

std::vector<std::string> LeftoversOf(const DRIVER_OBJECT* driver, std::string_view fileName) {
  Kernel& kernel = Kernel::Current();
  std::vector<std::string> lines;
  for (const DEVICE_OBJECT* d : DevicesOf(driver)) {
    const auto name = kernel.objects().NameOf(d);
    const std::string shown =
        name ? Utf16ToUtf8(*name) : fmt::format("(unnamed, at {:#x})", reinterpret_cast<std::uint64_t>(d));
    lines.push_back(fmt::format("{} returned from DriverUnload with device {} not deleted (IoDeleteDevice); Windows "
                                "keeps such a driver in memory",
                                fileName, shown));
    if (!name) continue;
    for (const auto& link : kernel.objects().LinksTo(*name)) {
      lines.push_back(fmt::format("{} returned from DriverUnload with symbolic link {} -> {} not deleted "
                                  "(IoDeleteSymbolicLink); creating it again fails with "
                                  "STATUS_OBJECT_NAME_COLLISION",
                                  fileName, Utf16ToUtf8(link), shown));
    }
  }
  return lines;
}

void ForgetDevicesOf(DRIVER_OBJECT* driver) {
  Kernel& kernel = Kernel::Current();
  for (DEVICE_OBJECT* d : DevicesOf(driver)) kernel.objects().Remove(d);
}

}  // namespace ntbox::nt::io

namespace ntbox::nt {

NTSTATUS NTAPI IoGetDeviceObjectPointer(UNICODE_STRING* ObjectName, ACCESS_MASK DesiredAccess,
                                        FILE_OBJECT** FileObject, DEVICE_OBJECT** DeviceObject) {
  if (!ObjectName || !ObjectName->Buffer) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string_view name(ObjectName->Buffer, ObjectName->Length / 2);
  auto found = Kernel::Current().objects().Find(name);
  if (!found) return found.error().ntstatus;
  ob::ObjectHeader* h = ob::HeaderOf(found->body);
  if (!h || h->type != &ob::DeviceType()) {
    ob::DereferenceObject(found->body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  auto* device = static_cast<DEVICE_OBJECT*>(found->body);
  ke::KernelThread* t = ke::CurrentThread();
  const KPROCESSOR_MODE mode = t->previousMode;
  t->previousMode = KernelMode;
  auto file = io::CreateFileObject(device, found->remainder, io::MapGeneric(DesiredAccess), 3);
  t->previousMode = mode;
  ob::DereferenceObject(device);
  if (!file) return file.error();
  // Windows opens a handle and closes it at once: the driver sees the cleanup now, the close when
  // the caller dereferences the file object.
  io::OnLastHandleClosed(*file);
  *FileObject = *file;
  *DeviceObject = IoGetAttachedDevice((*file)->DeviceObject);
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
