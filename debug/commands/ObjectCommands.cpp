// !drvobj and !devobj: driver and device objects as WinDbg's kdexts print them. Objects are read
// through the debugger's safe reads: a driver may have scribbled over anything.
#include <algorithm>
#include <array>

#include "debug/Session.h"
#include "nt/Kernel.h"
#include "nt/io/IoTypes.h"
#include "nt/ob/Object.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {


std::string ReadUnicode(Session& s, const nt::UNICODE_STRING& u) {
  return s.ReadUtf16(reinterpret_cast<std::uint64_t>(u.Buffer), std::min(u.Length / 2, 512), false);
}

// A name in the object namespace, or an address: the object's body, when it is of that type.
std::optional<std::uint64_t> FindObject(Session& s, std::string_view text, nt::ob::ObjectType& type,
                                        std::u16string_view directory) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!kernel) return std::nullopt;
  std::u16string name = nt::ob::Widen(text);
  if (!name.starts_with(u"\\")) name = std::u16string(directory) + u"\\" + name;
  if (auto found = kernel->objects().Find(name); found && found->remainder.empty()) {
    const auto body = reinterpret_cast<std::uint64_t>(found->body);
    const nt::ob::ObjectHeader* header = nt::ob::HeaderOf(found->body);
    const bool right = header && header->type == &type;
    nt::ob::DereferenceObject(found->body);
    if (right) return body;
  }
  auto address = s.Evaluate(text);
  if (!address) return std::nullopt;
  const nt::ob::ObjectHeader* header = nt::ob::HeaderOf(reinterpret_cast<void*>(*address));
  if (!header || header->type != &type) return std::nullopt;
  return *address;
}

std::string Routine(Session& s, std::uint64_t address) {
  if (!address) return "00000000\t";
  return fmt::format("{:016x}\t{}", address, s.symbols().NameOf(address));
}

std::string ShortDeviceName(std::uint64_t body) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!kernel) return {};
  const auto name = kernel->objects().NameOf(reinterpret_cast<void*>(body));
  if (!name) return {};
  std::string text;
  for (char16_t c : *name) text += c < 0x80 ? static_cast<char>(c) : '?';
  return text.substr(text.find_last_of('\\') + 1);
}

}  // namespace

// !drvobj NAME|ADDRESS [FLAGS]: 1 the device list (the default), 2 the dispatch routines.
void CmdDrvobj(Session& s, std::string_view, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.empty()) {
    s.Print("Usage: !drvobj <DriverObject|DriverName> [flags]\n");
    return;
  }
  std::uint64_t flags = 1;
  if (words.size() > 1) {
    auto f = s.Evaluate(words[1]);
    if (f) flags = *f;
  }
  const auto address = FindObject(s, words[0], nt::ob::DriverType(), u"\\Driver");
  nt::DRIVER_OBJECT o{};
  if (!address || !s.ReadValue(*address, o)) {
    s.Printf("Driver object {} not found\n", words[0]);
    return;
  }
  s.Printf("Driver object ({:016x}) is for:\n{}\n", *address, ReadUnicode(s, o.DriverName));
  if (flags & 1) {
    s.Print("\nDriver Extension List: (id , addr)\n\nDevice Object list:\n");
    std::string list;
    auto device = reinterpret_cast<std::uint64_t>(o.DeviceObject);
    for (int n = 0; device && n < 256; ++n) {
      list += fmt::format("{:016x}  ", device);
      nt::DEVICE_OBJECT d{};
      if (!s.ReadValue(device, d)) break;
      device = reinterpret_cast<std::uint64_t>(d.NextDevice);
    }
    s.Print(list.empty() ? "\n" : list + "\n");
  }
  if (flags & 2) {
    nt::DRIVER_EXTENSION extension{};
    const bool hasExtension = o.DriverExtension && s.ReadValue(reinterpret_cast<std::uint64_t>(o.DriverExtension), extension);
    s.Printf("\nDriverEntry:   {}\n", Routine(s, reinterpret_cast<std::uint64_t>(o.DriverInit)));
    s.Printf("DriverStartIo: {}\n", Routine(s, reinterpret_cast<std::uint64_t>(o.DriverStartIo)));
    s.Printf("DriverUnload:  {}\n", Routine(s, reinterpret_cast<std::uint64_t>(o.DriverUnload)));
    s.Printf("AddDevice:     {}\n",
             Routine(s, hasExtension ? reinterpret_cast<std::uint64_t>(extension.AddDevice) : 0));
    s.Print("\nDispatch routines:\n");
    for (std::size_t i = 0; i < std::size(nt::kMajorFunctionNames); ++i) {
      s.Printf("[{:02x}] {:<35}{}\n", i, nt::kMajorFunctionNames[i], Routine(s, reinterpret_cast<std::uint64_t>(o.MajorFunction[i])));
    }
  }
}

// !devobj NAME|ADDRESS
void CmdDevobj(Session& s, std::string_view, std::string_view args) {
  const auto words = SplitArgs(args);
  if (words.empty()) {
    s.Print("Usage: !devobj <DeviceObject|DeviceName>\n");
    return;
  }
  const auto address = FindObject(s, words[0], nt::ob::DeviceType(), u"\\Device");
  nt::DEVICE_OBJECT d{};
  if (!address || !s.ReadValue(*address, d)) {
    s.Printf("{} is not a device object\n", words[0]);
    return;
  }
  nt::DRIVER_OBJECT o{};
  const bool hasDriver = s.ReadValue(reinterpret_cast<std::uint64_t>(d.DriverObject), o);
  s.Printf("Device object ({:016x}) is for:\n {} {} DriverObject {:016x}\n", *address, ShortDeviceName(*address),
           hasDriver ? ReadUnicode(s, o.DriverName) : "?", reinterpret_cast<std::uint64_t>(d.DriverObject));
  s.Printf("Current Irp {:08x} RefCount {} Type {:08x} Flags {:08x}\n", reinterpret_cast<std::uint64_t>(d.CurrentIrp),
           d.ReferenceCount, d.DeviceType, d.Flags);
  s.Printf("DevExt {:016x} DevObjExt {:016x}\n", reinterpret_cast<std::uint64_t>(d.DeviceExtension),
           reinterpret_cast<std::uint64_t>(d.DeviceObjectExtension));
  s.Printf("Characteristics ({:#010x})\n", d.Characteristics);
  if (d.AttachedDevice) s.Printf("AttachedDevice (Upper) {:016x}\n", reinterpret_cast<std::uint64_t>(d.AttachedDevice));
  s.Print("Device queue is not busy.\n");
}

}  // namespace ntbox::debug
