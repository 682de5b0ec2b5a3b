#include <cstring>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/DeviceState.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/ke/BugCheck.h"
#include "nt/ke/KeExports.h"

namespace ntbox::nt {
namespace {

// DEVOBJ_EXTENSION: Type, Size, DeviceObject, then private fields.
constexpr std::size_t kDeviceObjectExtensionSize = 0x70;
constexpr CSHORT IO_TYPE_DEVICE_OBJECT_EXTENSION = 13;

std::u16string_view View(const UNICODE_STRING* s) {
  if (!s || !s->Buffer) return {};
  return {s->Buffer, static_cast<std::size_t>(s->Length / 2)};
}

void DeleteDeviceState(void* body) {
  delete io::StateOf(static_cast<DEVICE_OBJECT*>(body));
}

}  // namespace

NTSTATUS NTAPI IoCreateDevice(DRIVER_OBJECT* DriverObject, ULONG DeviceExtensionSize, UNICODE_STRING* DeviceName,
                              ULONG DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                              DEVICE_OBJECT** DeviceObject) {
  static const bool hooked = [] {
    ob::DeviceType().onDelete = &DeleteDeviceState;
    return true;
  }();
  (void)hooked;
  const std::size_t extension = (DeviceExtensionSize + 15) & ~std::size_t{15};
  const std::size_t size = sizeof(DEVICE_OBJECT) + extension + kDeviceObjectExtensionSize;
  auto* state = new io::DeviceState();
  auto* device = static_cast<DEVICE_OBJECT*>(ob::CreateObject(ob::DeviceType(), size, state));
  if (!device) {
    delete state;
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  auto* bytes = reinterpret_cast<std::uint8_t*>(device);
  device->Type = IO_TYPE_DEVICE;
  device->Size = static_cast<USHORT>(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
  device->DriverObject = DriverObject;
  device->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0) | (DeviceName ? DO_DEVICE_HAS_NAME : 0);
  device->Characteristics = DeviceCharacteristics;
  device->DeviceExtension = DeviceExtensionSize ? bytes + sizeof(DEVICE_OBJECT) : nullptr;
  device->DeviceType = DeviceType;
  device->StackSize = 1;
  KeInitializeEvent(&device->DeviceLock, 1, TRUE);
  KeInitializeDeviceQueue(&device->DeviceQueue);
  auto* devobjExtension = bytes + sizeof(DEVICE_OBJECT) + extension;
  std::memcpy(devobjExtension, &IO_TYPE_DEVICE_OBJECT_EXTENSION, sizeof(CSHORT));
  const auto extSize = static_cast<USHORT>(kDeviceObjectExtensionSize);
  std::memcpy(devobjExtension + 2, &extSize, sizeof extSize);
  std::memcpy(devobjExtension + 8, &device, sizeof device);
  device->DeviceObjectExtension = devobjExtension;
  if (DeviceName) {
    const NTSTATUS status = Kernel::Current().objects().Insert(View(DeviceName), device);
    if (!NT_SUCCESS(status)) {
      ob::DereferenceObject(device);
      return status;
    }
  }
  device->NextDevice = DriverObject->DeviceObject;
  DriverObject->DeviceObject = device;
  *DeviceObject = device;
  return STATUS_SUCCESS;
}

void NTAPI IoDeleteDevice(DEVICE_OBJECT* DeviceObject) {
  io::DeviceState* state = io::StateOf(DeviceObject);
  if (!state || state->deleted) {
    RaiseBugCheck(0x18, 0, reinterpret_cast<ULONG64>(DeviceObject), 0, 3,
                  "IoDeleteDevice of something that is not a live device object");
  }
  state->deleted = true;
  Kernel::Current().objects().Remove(DeviceObject);
  DRIVER_OBJECT* driver = DeviceObject->DriverObject;
  // The list is the driver's memory: bounded, so a NextDevice that loops cannot hang the unlink.
  std::size_t steps = 0;
  for (DEVICE_OBJECT** link = &driver->DeviceObject; *link && steps < 4096; link = &(*link)->NextDevice, ++steps) {
    if (*link == DeviceObject) {
      *link = DeviceObject->NextDevice;
      break;
    }
  }
  ob::DereferenceObject(DeviceObject);
}

NTSTATUS NTAPI IoCreateSymbolicLink(UNICODE_STRING* SymbolicLinkName, UNICODE_STRING* DeviceName) {
  return Kernel::Current().objects().CreateSymbolicLink(View(SymbolicLinkName), View(DeviceName));
}

NTSTATUS NTAPI IoCreateUnprotectedSymbolicLink(UNICODE_STRING* SymbolicLinkName, UNICODE_STRING* DeviceName) {
  return IoCreateSymbolicLink(SymbolicLinkName, DeviceName);
}

NTSTATUS NTAPI IoDeleteSymbolicLink(UNICODE_STRING* SymbolicLinkName) {
  return Kernel::Current().objects().DeleteSymbolicLink(View(SymbolicLinkName));
}

DEVICE_OBJECT* NTAPI IoGetAttachedDevice(DEVICE_OBJECT* DeviceObject) {
  while (DeviceObject->AttachedDevice) DeviceObject = DeviceObject->AttachedDevice;
  return DeviceObject;
}

DEVICE_OBJECT* NTAPI IoGetAttachedDeviceReference(DEVICE_OBJECT* DeviceObject) {
  DEVICE_OBJECT* top = IoGetAttachedDevice(DeviceObject);
  ob::ReferenceObject(top);
  return top;
}

DEVICE_OBJECT* NTAPI IoAttachDeviceToDeviceStack(DEVICE_OBJECT* SourceDevice, DEVICE_OBJECT* TargetDevice) {
  DEVICE_OBJECT* top = IoGetAttachedDevice(TargetDevice);
  io::DeviceState* state = io::StateOf(SourceDevice);
  if (!state || (top->Flags & DO_DEVICE_INITIALIZING && top != TargetDevice)) return nullptr;
  top->AttachedDevice = SourceDevice;
  SourceDevice->StackSize = static_cast<CCHAR>(top->StackSize + 1);
  SourceDevice->AlignmentRequirement = top->AlignmentRequirement;
  SourceDevice->SectorSize = top->SectorSize;
  state->attachedTo = top;
  ob::ReferenceObject(top);
  return top;
}

void NTAPI IoDetachDevice(DEVICE_OBJECT* TargetDevice) {
  DEVICE_OBJECT* above = TargetDevice->AttachedDevice;
  if (!above) return;
  TargetDevice->AttachedDevice = nullptr;
  if (io::DeviceState* state = io::StateOf(above)) state->attachedTo = nullptr;
  ob::DereferenceObject(TargetDevice);
}

}  // namespace ntbox::nt
