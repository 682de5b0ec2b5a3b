// ntbox's bookkeeping for a device object (the object header's host context).
#pragma once
#include <atomic>
#include <optional>

#include "nt/io/IoTypes.h"
#include "nt/ob/Object.h"
#include "nt/se/SecurityDescriptor.h"

namespace ntbox::nt::io {

struct DeviceState {
  std::atomic<int> openFiles{0};
  bool deleted = false;
  DEVICE_OBJECT* attachedTo = nullptr;  // the device below, for IoDetachDevice
  // The DACL a program's open is checked against (wdmsec's IoCreateDeviceSecure sets it); none: any.
  std::optional<se::Dacl> dacl;
  // IoSetStartIoAttributes (io/StartIo.cpp).
  bool deferredStartIo = false;
  bool nonCancelableStartIo = false;
  int startIoDepth = 0;          // StartIo calls running on the stack
  bool startNextDeferred = false;  // an IoStartNextPacket(ByKey) made while StartIo ran
  bool startNextCancelable = false;
  bool startNextByKey = false;
  ULONG startNextKey = 0;
};

inline DeviceState* StateOf(const DEVICE_OBJECT* device) {
  ob::ObjectHeader* h = ob::HeaderOf(device);
  return h && h->type == &ob::DeviceType() ? static_cast<DeviceState*>(h->hostContext) : nullptr;
}

}  // namespace ntbox::nt::io
