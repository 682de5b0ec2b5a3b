#include "debug/Types.h"

#include <array>
#include <cstddef>

#include <fmt/format.h>

#include "nt/io/IoTypes.h"
#include "nt/ke/KeTypes.h"

namespace ntbox::debug {
namespace {

template <class T>
std::uint64_t SizeOf(const T&) {
  return sizeof(T);
}

// One member of an ntbox layout: its offset and size from the structure itself.
#define MEMBER(T, field, type) \
  TypeMember { offsetof(T, field), #field, type, SizeOf(static_cast<const T*>(nullptr)->field) }

std::vector<TypeLayout> BuildKernelTypes() {
  using namespace nt;
  std::vector<TypeLayout> out;
  out.push_back({"_UNICODE_STRING",
                 sizeof(UNICODE_STRING),
                 {MEMBER(UNICODE_STRING, Length, "Uint2B"), MEMBER(UNICODE_STRING, MaximumLength, "Uint2B"),
                  MEMBER(UNICODE_STRING, Buffer, "Ptr64 Wchar")}});
  out.push_back({"_LIST_ENTRY",
                 sizeof(LIST_ENTRY),
                 {MEMBER(LIST_ENTRY, Flink, "Ptr64 _LIST_ENTRY"), MEMBER(LIST_ENTRY, Blink, "Ptr64 _LIST_ENTRY")}});
  out.push_back({"_DRIVER_OBJECT",
                 sizeof(DRIVER_OBJECT),
                 {MEMBER(DRIVER_OBJECT, Type, "Int2B"), MEMBER(DRIVER_OBJECT, Size, "Int2B"),
                  MEMBER(DRIVER_OBJECT, DeviceObject, "Ptr64 _DEVICE_OBJECT"), MEMBER(DRIVER_OBJECT, Flags, "Uint4B"),
                  MEMBER(DRIVER_OBJECT, DriverStart, "Ptr64 Void"), MEMBER(DRIVER_OBJECT, DriverSize, "Uint4B"),
                  MEMBER(DRIVER_OBJECT, DriverSection, "Ptr64 Void"),
                  MEMBER(DRIVER_OBJECT, DriverExtension, "Ptr64 _DRIVER_EXTENSION"),
                  MEMBER(DRIVER_OBJECT, DriverName, "_UNICODE_STRING"),
                  MEMBER(DRIVER_OBJECT, HardwareDatabase, "Ptr64 _UNICODE_STRING"),
                  MEMBER(DRIVER_OBJECT, FastIoDispatch, "Ptr64 _FAST_IO_DISPATCH"),
                  MEMBER(DRIVER_OBJECT, DriverInit, "Ptr64     long"), MEMBER(DRIVER_OBJECT, DriverStartIo, "Ptr64     void"),
                  MEMBER(DRIVER_OBJECT, DriverUnload, "Ptr64     void"),
                  MEMBER(DRIVER_OBJECT, MajorFunction, "[28] Ptr64     long")}});
  out.push_back({"_DRIVER_EXTENSION",
                 sizeof(DRIVER_EXTENSION),
                 {MEMBER(DRIVER_EXTENSION, DriverObject, "Ptr64 _DRIVER_OBJECT"),
                  MEMBER(DRIVER_EXTENSION, AddDevice, "Ptr64     long"), MEMBER(DRIVER_EXTENSION, Count, "Uint4B"),
                  MEMBER(DRIVER_EXTENSION, ServiceKeyName, "_UNICODE_STRING")}});
  out.push_back({"_DEVICE_OBJECT",
                 sizeof(DEVICE_OBJECT),
                 {MEMBER(DEVICE_OBJECT, Type, "Int2B"), MEMBER(DEVICE_OBJECT, Size, "Uint2B"),
                  MEMBER(DEVICE_OBJECT, ReferenceCount, "Int4B"), MEMBER(DEVICE_OBJECT, DriverObject, "Ptr64 _DRIVER_OBJECT"),
                  MEMBER(DEVICE_OBJECT, NextDevice, "Ptr64 _DEVICE_OBJECT"),
                  MEMBER(DEVICE_OBJECT, AttachedDevice, "Ptr64 _DEVICE_OBJECT"), MEMBER(DEVICE_OBJECT, CurrentIrp, "Ptr64 _IRP"),
                  MEMBER(DEVICE_OBJECT, Timer, "Ptr64 _IO_TIMER"), MEMBER(DEVICE_OBJECT, Flags, "Uint4B"),
                  MEMBER(DEVICE_OBJECT, Characteristics, "Uint4B"), MEMBER(DEVICE_OBJECT, Vpb, "Ptr64 _VPB"),
                  MEMBER(DEVICE_OBJECT, DeviceExtension, "Ptr64 Void"), MEMBER(DEVICE_OBJECT, DeviceType, "Uint4B"),
                  MEMBER(DEVICE_OBJECT, StackSize, "Char"), MEMBER(DEVICE_OBJECT, Queue, "<anonymous-tag>"),
                  MEMBER(DEVICE_OBJECT, AlignmentRequirement, "Uint4B"), MEMBER(DEVICE_OBJECT, DeviceQueue, "_KDEVICE_QUEUE"),
                  MEMBER(DEVICE_OBJECT, Dpc, "_KDPC"), MEMBER(DEVICE_OBJECT, ActiveThreadCount, "Uint4B"),
                  MEMBER(DEVICE_OBJECT, SecurityDescriptor, "Ptr64 Void"), MEMBER(DEVICE_OBJECT, DeviceLock, "_KEVENT"),
                  MEMBER(DEVICE_OBJECT, SectorSize, "Uint2B"), MEMBER(DEVICE_OBJECT, Spare1, "Uint2B"),
                  MEMBER(DEVICE_OBJECT, DeviceObjectExtension, "Ptr64 _DEVOBJ_EXTENSION"),
                  MEMBER(DEVICE_OBJECT, Reserved, "Ptr64 Void")}});
  out.push_back({"_IRP",
                 sizeof(IRP),
                 {MEMBER(IRP, Type, "Int2B"), MEMBER(IRP, Size, "Uint2B"), MEMBER(IRP, MdlAddress, "Ptr64 _MDL"),
                  MEMBER(IRP, Flags, "Uint4B"), MEMBER(IRP, AssociatedIrp, "<anonymous-tag>"),
                  MEMBER(IRP, ThreadListEntry, "_LIST_ENTRY"), MEMBER(IRP, IoStatus, "_IO_STATUS_BLOCK"),
                  MEMBER(IRP, RequestorMode, "Char"), MEMBER(IRP, PendingReturned, "UChar"), MEMBER(IRP, StackCount, "Char"),
                  MEMBER(IRP, CurrentLocation, "Char"), MEMBER(IRP, Cancel, "UChar"), MEMBER(IRP, CancelIrql, "UChar"),
                  MEMBER(IRP, ApcEnvironment, "Char"), MEMBER(IRP, AllocationFlags, "UChar"),
                  MEMBER(IRP, UserIosb, "Ptr64 _IO_STATUS_BLOCK"), MEMBER(IRP, UserEvent, "Ptr64 _KEVENT"),
                  MEMBER(IRP, Overlay, "<anonymous-tag>"), MEMBER(IRP, CancelRoutine, "Ptr64     void"),
                  MEMBER(IRP, UserBuffer, "Ptr64 Void"), MEMBER(IRP, Tail, "<anonymous-tag>")}});
  out.push_back({"_IO_STACK_LOCATION",
                 sizeof(IO_STACK_LOCATION),
                 {MEMBER(IO_STACK_LOCATION, MajorFunction, "UChar"), MEMBER(IO_STACK_LOCATION, MinorFunction, "UChar"),
                  MEMBER(IO_STACK_LOCATION, Flags, "UChar"), MEMBER(IO_STACK_LOCATION, Control, "UChar"),
                  MEMBER(IO_STACK_LOCATION, Parameters, "<anonymous-tag>"),
                  MEMBER(IO_STACK_LOCATION, DeviceObject, "Ptr64 _DEVICE_OBJECT"),
                  MEMBER(IO_STACK_LOCATION, FileObject, "Ptr64 _FILE_OBJECT"),
                  MEMBER(IO_STACK_LOCATION, CompletionRoutine, "Ptr64     long"),
                  MEMBER(IO_STACK_LOCATION, Context, "Ptr64 Void")}});
  out.push_back({"_KDPC",
                 sizeof(KDPC),
                 {MEMBER(KDPC, Type, "UChar"), MEMBER(KDPC, Importance, "UChar"), MEMBER(KDPC, Number, "Uint2B"),
                  MEMBER(KDPC, DpcListEntry, "_LIST_ENTRY"), MEMBER(KDPC, DeferredRoutine, "Ptr64     void"),
                  MEMBER(KDPC, DeferredContext, "Ptr64 Void"), MEMBER(KDPC, SystemArgument1, "Ptr64 Void"),
                  MEMBER(KDPC, SystemArgument2, "Ptr64 Void"), MEMBER(KDPC, DpcData, "Ptr64 Void")}});
  out.push_back({"_MDL",
                 sizeof(MDL),
                 {MEMBER(MDL, Next, "Ptr64 _MDL"), MEMBER(MDL, Size, "Int2B"), MEMBER(MDL, MdlFlags, "Int2B"),
                  MEMBER(MDL, Process, "Ptr64 _EPROCESS"), MEMBER(MDL, MappedSystemVa, "Ptr64 Void"),
                  MEMBER(MDL, StartVa, "Ptr64 Void"), MEMBER(MDL, ByteCount, "Uint4B"), MEMBER(MDL, ByteOffset, "Uint4B")}});
  return out;
}

#undef MEMBER

}  // namespace

const TypeLayout* KernelType(std::string_view name) {
  static const std::vector<TypeLayout> types = BuildKernelTypes();
  for (const auto& t : types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string WinDbgTypeName(std::string_view c, std::uint64_t size) {
  std::string type(c);
  if (type.ends_with(" []")) {
    const std::string element = type.substr(0, type.size() - 3);
    const std::uint64_t elementSize = element.ends_with("*") ? 8 : 0;
    const std::string inner = WinDbgTypeName(element, elementSize);
    return elementSize && size ? fmt::format("[{}] {}", size / elementSize, inner) : "[] " + inner;
  }
  if (type.ends_with(" *")) {
    std::string pointee = type.substr(0, type.size() - 2);
    if (pointee.starts_with("struct ") || pointee.starts_with("union ")) pointee = pointee.substr(pointee.find(' ') + 1);
    if (pointee == "void") return "Ptr64 Void";
    if (pointee == "<function>") return "Ptr64     long";
    if (pointee == "unsigned short" || pointee == "wchar_t") return "Ptr64 Wchar";
    return "Ptr64 " + WinDbgTypeName(pointee, 0);
  }
  if (type.starts_with("struct ") || type.starts_with("union ") || type.starts_with("enum ")) {
    return type.starts_with("enum ") ? type.substr(5) : type.substr(type.find(' ') + 1);
  }
  const bool isUnsigned = type.starts_with("unsigned");
  if (type == "wchar_t") return "Wchar";
  if (type == "char" || type == "signed char") return "Char";
  if (type == "unsigned char" || type == "bool") return "UChar";
  if (size == 1 || size == 2 || size == 4 || size == 8) return fmt::format("{}{}B", isUnsigned ? "Uint" : "Int", size);
  return type;
}

}  // namespace ntbox::debug
