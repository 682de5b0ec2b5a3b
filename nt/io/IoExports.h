#pragma once
#include "nt/io/IoTypes.h"

namespace ntbox::nt {

// What every MajorFunction slot a driver leaves unset points at.
NTSTATUS NTAPI IopInvalidDeviceRequest(DEVICE_OBJECT* DeviceObject, IRP* Irp);

}  // namespace ntbox::nt
