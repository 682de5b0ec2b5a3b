// The I/O system services a process calls (what NtCreateFile, NtDeviceIoControlFile, NtReadFile,
// NtWriteFile and NtClose do): each builds the IRP as Windows' I/O manager does for the
// transfer method, sends it to the top of the device's stack and waits for its completion.
// They run on an attached thread, for a process, with UserMode as the previous mode; driver code
// runs inside, so callers guard them (cpu::CallGuarded).
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>

#include "nt/io/IoTypes.h"
#include "nt/ob/Object.h"

namespace ntbox::nt::ps {
class Process;
}

namespace ntbox::nt::io {

struct IoStatus {
  NTSTATUS status = 0;
  ULONG_PTR information = 0;
};

// Opens \Device\X, \??\X (what \\.\X becomes) or \DosDevices\X for the process.
// overlapped: the handle is for overlapped I/O (FILE_FLAG_OVERLAPPED; no FO_SYNCHRONOUS_IO).
std::expected<ob::HandleValue, NTSTATUS> OpenFile(ps::Process& process, std::u16string_view ntName,
                                                   ACCESS_MASK desiredAccess, ULONG shareAccess = 0,
                                                   bool overlapped = false);
// Opens name relative to the file a handle of the process names (OBJECT_ATTRIBUTES.RootDirectory):
// the same device's driver gets the IRP_MJ_CREATE, with that file as RelatedFileObject.
// STATUS_OBJECT_TYPE_MISMATCH for a handle that is no device's file.
std::expected<ob::HandleValue, NTSTATUS> OpenRelative(ps::Process& process, ob::HandleValue root,
                                                       std::u16string_view name, ACCESS_MASK desiredAccess,
                                                       ULONG shareAccess, bool overlapped);
// async: an overlapped request on an overlapped handle (STATUS_PENDING while the driver holds it);
// on a synchronous handle it is ignored and the call waits, as Windows does.
IoStatus DeviceIoControl(ps::Process& process, ob::HandleValue handle, ULONG code, void* input, ULONG inputLength,
                         void* output, ULONG outputLength, bool internal = false,
                         const struct AsyncRequest* async = nullptr);
// CancelIoEx (overlapped: one request, nullptr: all on the handle); how many were pending.
std::size_t CancelIo(ps::Process& process, ob::HandleValue handle, const void* overlapped);
// GetOverlappedResult's wait; false when no such request is outstanding.
bool WaitForOverlapped(ps::Process& process, const void* overlapped);
// The process ends: its outstanding requests are cancelled.
void EndProcessIo(ps::Process& process);
// async: as DeviceIoControl's (an overlapped handle's request may pend).
IoStatus ReadFile(ps::Process& process, ob::HandleValue handle, void* buffer, ULONG length,
                  std::optional<std::int64_t> offset = std::nullopt, const struct AsyncRequest* async = nullptr);
IoStatus WriteFile(ps::Process& process, ob::HandleValue handle, const void* buffer, ULONG length,
                   std::optional<std::int64_t> offset = std::nullopt, const struct AsyncRequest* async = nullptr);
IoStatus FlushBuffers(ps::Process& process, ob::HandleValue handle);
NTSTATUS Close(ps::Process& process, ob::HandleValue handle);

// Files open on any device of the driver (it cannot unload while there are any).
// A driver's devices as its DRIVER_OBJECT lists them (DeviceObject, NextDevice): memory the driver
// writes, so read without faulting, each entry checked to be a live device of this driver, and the
// walk bounded (a corrupted NextDevice may loop). A broken list ends the walk, logged once.
std::vector<DEVICE_OBJECT*> DevicesOf(const DRIVER_OBJECT* driver);
std::size_t OpenFilesOn(const DRIVER_OBJECT* driver);
// Called before a driver's image goes away: its devices leave the namespace.
void ForgetDevicesOf(DRIVER_OBJECT* driver);
// What DriverUnload left behind, a line each: device objects not deleted and the symbolic links
// still naming them. Windows keeps such a driver in memory; a link left over makes the next start's
// IoCreateSymbolicLink fail with STATUS_OBJECT_NAME_COLLISION.
std::vector<std::string> LeftoversOf(const DRIVER_OBJECT* driver, std::string_view fileName);

// Installs the file type's close hooks (idempotent).
void HookFileType();

// Sets the thread's process and previous mode for a system service, and restores them.
class ServiceContext {
 public:
  explicit ServiceContext(ps::Process& process);
  ~ServiceContext();
  ServiceContext(const ServiceContext&) = delete;
  ServiceContext& operator=(const ServiceContext&) = delete;

 private:
  ps::Process* previousProcess_;
  KPROCESSOR_MODE previousMode_;
};

}  // namespace ntbox::nt::io
