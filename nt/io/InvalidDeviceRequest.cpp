#include "nt/Status.h"
#include "nt/io/IoExports.h"

namespace ntbox::nt {

NTSTATUS NTAPI IopInvalidDeviceRequest(DEVICE_OBJECT*, IRP* Irp) {
  Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
  Irp->IoStatus.Information = 0;
  IofCompleteRequest(Irp, 0);
  return STATUS_INVALID_DEVICE_REQUEST;
}

}  // namespace ntbox::nt
