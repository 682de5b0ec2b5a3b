// A loaded driver: its image, its DRIVER_OBJECT (with extension and name strings in kernel
// memory) and the calls into it, each at PASSIVE_LEVEL on an attached thread, as the I/O
// manager makes them.
#pragma once
#include <expected>
#include <memory>
#include <string>

#include "nt/Kernel.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/BugCheck.h"
#include "support/Result.h"

namespace ntbox::nt {

class Driver {
 public:
  // Loads the image at path for the service `serviceName` (the file's stem when empty).
  static Result<std::unique_ptr<Driver>> Load(Kernel& kernel, const std::string& path,
                                              std::string serviceName = {});
  // The same for an image the caller has already parsed (to check its signature, say).
  static Result<std::unique_ptr<Driver>> Load(Kernel& kernel, pe::PeImage image, const std::string& path,
                                              std::string serviceName = {});
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Calls DriverEntry(DriverObject, RegistryPath); a bugcheck comes back as the error.
  std::expected<NTSTATUS, BugCheck> CallEntry();
  bool HasUnload() const { return object()->DriverUnload != nullptr; }
  std::expected<void, BugCheck> CallUnload();

  DRIVER_OBJECT* object() const;
  // Files open on the driver's devices: it cannot be unloaded while there are any.
  std::size_t OpenFiles() const;
  const Module& module() const { return *module_; }
  const std::string& serviceName() const { return serviceName_; }
  // \REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\<name>
  std::u16string registryPath() const;

 private:
  struct Storage;
  Driver(Kernel& kernel, Module* module, std::string serviceName);

  Kernel& kernel_;
  Module* module_;
  std::string serviceName_;
  std::unique_ptr<Storage> storage_;
};

}  // namespace ntbox::nt
