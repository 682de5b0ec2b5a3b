#include "nt/io/Driver.h"

#include "cpu/HostState.h"
#include "cpu/Trap.h"
#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/Notify.h"
#include "nt/vf/UnloadChecks.h"

namespace ntbox::nt {
namespace {

// The name load-image routines get: the file as an NT path, the machine's drive as C: and the
// rest of the host as Z: (as the services' ImagePath names them).
std::u16string ImageNameOf(const Module& module) {
  return ob::Widen("\\??\\" + Win32PathOfHost(module.path, Kernel::Current().config().systemDrive));
}

}  // namespace

// Kernel memory the DRIVER_OBJECT points into; lives as long as the driver.
struct Driver::Storage {
  DRIVER_OBJECT* object = nullptr;  // an object of type Driver, named \Driver\<service>
  // Windows' DRIVER_EXTENSION has private fields after the public ones; leave room.
  alignas(16) std::uint8_t extension[0x100]{};
  std::u16string driverName;
  std::u16string serviceKey;
  std::u16string registryPath;
  std::u16string hardwareDatabase = u"\\REGISTRY\\MACHINE\\HARDWARE\\DESCRIPTION\\SYSTEM";
  UNICODE_STRING registryPathString{};
  UNICODE_STRING hardwareDatabaseString{};
};

Result<std::unique_ptr<Driver>> Driver::Load(Kernel& kernel, const std::string& path,
                                             std::string serviceName) {
  auto image = pe::PeImage::ParseFile(path);
  if (!image) return std::unexpected(image.error());
  return Load(kernel, std::move(*image), path, std::move(serviceName));
}

Result<std::unique_ptr<Driver>> Driver::Load(Kernel& kernel, pe::PeImage image, const std::string& path,
                                             std::string serviceName) {
  auto module = kernel.LoadModule(std::move(image), path);
  if (!module) return std::unexpected(module.error());
  if ((*module)->image->entryPoint() == 0) {
    kernel.UnloadModule(*module);
    return Fail("the image has no entry point (DriverEntry)", STATUS_DRIVER_ENTRYPOINT_NOT_FOUND, 193);
  }
  if (serviceName.empty()) serviceName = (*module)->name;
  return std::unique_ptr<Driver>(new Driver(kernel, *module, std::move(serviceName)));
}

Driver::Driver(Kernel& kernel, Module* module, std::string serviceName)
    : kernel_(kernel), module_(module), serviceName_(std::move(serviceName)), storage_(new Storage) {
  Storage& s = *storage_;
  s.driverName = u"\\Driver\\" + ob::Widen(serviceName_);
  s.serviceKey = ob::Widen(serviceName_);
  s.registryPath = u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\" + ob::Widen(serviceName_);
  s.registryPathString = ViewOf(s.registryPath);
  s.hardwareDatabaseString = ViewOf(s.hardwareDatabase);

  auto* extension = reinterpret_cast<DRIVER_EXTENSION*>(s.extension);

  extension->ServiceKeyName = ViewOf(s.serviceKey);

  s.object = static_cast<DRIVER_OBJECT*>(ob::CreateObject(ob::DriverType(), sizeof(DRIVER_OBJECT)));
  DRIVER_OBJECT& o = *s.object;
  o.Type = IO_TYPE_DRIVER;
  o.Size = sizeof(DRIVER_OBJECT);
  o.DriverStart = reinterpret_cast<PVOID>(module->image->base());
  o.DriverSize = module->image->size();
  o.DriverExtension = extension;
  o.DriverName = ViewOf(s.driverName);
  o.HardwareDatabase = &s.hardwareDatabaseString;
  o.DriverInit = reinterpret_cast<PDRIVER_INITIALIZE>(module->image->entryPoint());
  for (auto& slot : o.MajorFunction) slot = &IopInvalidDeviceRequest;
  extension->DriverObject = &o;
  (void)kernel_.objects().Insert(s.driverName, &o);
}

Driver::~Driver() {
  // Devices the driver did not delete must not reach its code once the image is gone.
  io::ForgetDevicesOf(storage_->object);
  kernel_.objects().Remove(storage_->object);
  kernel_.UnloadModule(module_);
  ob::DereferenceObject(storage_->object);
}

DRIVER_OBJECT* Driver::object() const { return storage_->object; }

std::size_t Driver::OpenFiles() const { return io::OpenFilesOn(storage_->object); }

std::u16string Driver::registryPath() const { return storage_->registryPath; }

std::expected<NTSTATUS, BugCheck> Driver::CallEntry() {
  ke::KernelThread* t = ke::CurrentThread();
  t->SetIrql(PASSIVE_LEVEL);
  DRIVER_OBJECT* object = storage_->object;
  UNICODE_STRING* path = &storage_->registryPathString;
  const Module* module = module_;
  const std::u16string imageName = ImageNameOf(*module);
  auto result = cpu::CallGuarded([object, path, module, &imageName]() -> std::uint64_t {
    // Load-image notify routines hear of a driver before its DriverEntry runs.
    ps::NotifyImageLoad(imageName, 0, module->image->base(), module->image->size(), true);
    return static_cast<std::uint32_t>(cpu::CallDriver(object->DriverInit, object, path));
  });
  if (!result) return std::unexpected(result.error());
  t->SetIrql(PASSIVE_LEVEL);
  // Devices created in DriverEntry are ready once it returns (legacy drivers never clear it).
  for (DEVICE_OBJECT* d : io::DevicesOf(object)) d->Flags &= ~DO_DEVICE_INITIALIZING;
  return static_cast<NTSTATUS>(*result);
}

std::expected<void, BugCheck> Driver::CallUnload() {
  ke::KernelThread* t = ke::CurrentThread();
  t->SetIrql(PASSIVE_LEVEL);
  DRIVER_OBJECT* object = storage_->object;
  const Module* module = module_;
  auto result = cpu::CallGuarded([object, module]() -> std::uint64_t {
    cpu::CallDriver(object->DriverUnload, object);
    vf::CheckUnload(*module, object, reinterpret_cast<std::uint64_t>(object->DriverUnload));
    return 0;
  });
  if (!result) return std::unexpected(result.error());
  t->SetIrql(PASSIVE_LEVEL);
  return {};
}

}  // namespace ntbox::nt
