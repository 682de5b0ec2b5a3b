#include "nt/io/HostDriver.h"

#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/ob/Object.h"

namespace ntbox::nt::io {

HostDriver::HostDriver(Kernel& kernel, std::u16string name) : kernel_(kernel), name_(std::move(name)) {
  object_ = static_cast<DRIVER_OBJECT*>(ob::CreateObject(ob::DriverType(), sizeof(DRIVER_OBJECT)));
  object_->Type = IO_TYPE_DRIVER;
  object_->Size = sizeof(DRIVER_OBJECT);
  object_->Flags = DRVO_BUILTIN_DRIVER;
  object_->DriverName = UNICODE_STRING{static_cast<USHORT>(name_.size() * 2), static_cast<USHORT>(name_.size() * 2),
                                       name_.data()};
  for (auto& slot : object_->MajorFunction) slot = &IopInvalidDeviceRequest;
  (void)kernel_.objects().Insert(name_, object_);
}

HostDriver::~HostDriver() {
  while (DEVICE_OBJECT* device = object_->DeviceObject) IoDeleteDevice(device);
  kernel_.objects().Remove(object_);
  ob::DereferenceObject(object_);
}

NTSTATUS HostDriver::Complete(IRP* irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IofCompleteRequest(irp, 0);
  return status;
}

NTSTATUS HostDriver::CreateDevice(std::u16string name, ULONG deviceType, void* context, DEVICE_OBJECT** device) {
  UNICODE_STRING u{static_cast<USHORT>(name.size() * 2), static_cast<USHORT>(name.size() * 2), name.data()};
  DEVICE_OBJECT* created = nullptr;
  const NTSTATUS s = IoCreateDevice(object_, sizeof(void*), &u, deviceType, 0, FALSE, &created);
  if (!NT_SUCCESS(s)) return s;
  *static_cast<void**>(created->DeviceExtension) = context;
  created->Flags &= ~DO_DEVICE_INITIALIZING;
  if (device) *device = created;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt::io
