// A driver ntbox implements itself, as Windows has built-in drivers with no image of their own
// (\Driver\Null, the named-pipe file system): a DRIVER_OBJECT whose dispatch routines are host
// functions, and its named devices. Requests reach them through the I/O manager like any other's.
#pragma once
#include <string>
#include <vector>

#include "nt/Kernel.h"
#include "nt/io/IoTypes.h"

namespace ntbox::nt::io {

class HostDriver {
 public:
  // name: "\Driver\X". Every major function starts as an invalid device request.
  HostDriver(Kernel& kernel, std::u16string name);
  ~HostDriver();  // deletes the devices
  HostDriver(const HostDriver&) = delete;
  HostDriver& operator=(const HostDriver&) = delete;

  DRIVER_OBJECT* object() const { return object_; }
  void SetDispatch(UCHAR majorFunction, PDRIVER_DISPATCH routine) { object_->MajorFunction[majorFunction] = routine; }
  // A named device (\Device\X) whose extension holds context, for the dispatch routines
  // (ContextOf); STATUS_* on a name collision.
  NTSTATUS CreateDevice(std::u16string name, ULONG deviceType, void* context, DEVICE_OBJECT** device = nullptr);
  static void* ContextOf(DEVICE_OBJECT* device) { return *static_cast<void**>(device->DeviceExtension); }
  // Completes irp with status and information; returns status (a dispatch routine's end).
  static NTSTATUS Complete(IRP* irp, NTSTATUS status, ULONG_PTR information = 0);

 private:
  Kernel& kernel_;
  std::u16string name_;
  DRIVER_OBJECT* object_;
};

}  // namespace ntbox::nt::io
