// The machine's service control manager as programs reach it: \Device\ServiceControlManager, a
// device of a driver ntbox implements itself, which ntbox's sechost.dll (the service API) sends
// its requests to (user/dlls/ScmProtocol.h). Each runs the same code as `ntbox sc`, with its
// Win32 errors, in the System process's context (DriverEntry and DriverUnload run there, as
// services.exe's NtLoadDriver has them on Windows).
#pragma once
#include <memory>

#include "nt/io/HostDriver.h"

namespace ntbox::machine {

class Machine;

class ScmDevice {
 public:
  ScmDevice(Machine& machine, nt::Kernel& kernel);

 private:
  std::unique_ptr<nt::io::HostDriver> driver_;
};

}  // namespace ntbox::machine
