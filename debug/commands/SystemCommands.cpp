// The machine's state as WinDbg's kdexts show it: !irql, !pcr, ~ (processors), !thread,
// !process 0 0, !object, !devstack, !irp, !pool, !poolused.
#include <algorithm>
#include <cstring>
#include <map>

#include "debug/Session.h"
#include "nt/Kernel.h"
#include "nt/ex/Pool.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

const char* IrqlName(unsigned irql) {
  switch (irql) {
    case 0: return "PASSIVE_LEVEL";
    case 1: return "APC_LEVEL";
    case 2: return "DISPATCH_LEVEL";
    case 15: return "HIGH_LEVEL";
    default: return "";
  }
}

std::string Narrow(const std::u16string& text) {
  std::string out;
  for (char16_t c : text) out += c < 0x80 ? static_cast<char>(c) : '?';
  return out;
}

std::string ObjectName(const void* body) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  if (!kernel) return {};
  const auto name = kernel->objects().NameOf(body);
  return name ? Narrow(*name) : std::string();
}

std::string TypeName(const void* body) {
  const nt::ob::ObjectHeader* h = nt::ob::HeaderOf(body);
  return h && h->type ? Narrow(h->type->name) : std::string("?");
}

}  // namespace

void CmdIrql(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->thread) {
    s.Print(stop ? "Debugger saved IRQL for processor 0x0 -- 0 (PASSIVE_LEVEL) (the debugger's own break-in)\n"
                 : "The machine is running (Ctrl-C or kd -b breaks in)\n");
    return;
  }
  const unsigned irql = stop->thread->Irql();
  s.Printf("Debugger saved IRQL for processor 0x{:x} -- {} ({})\n", stop->processor, irql, IrqlName(irql));
}

void CmdPcr(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->thread) {
    s.Print("No processor is stopped in a thread (the debugger's own break-in has no KPCR)\n");
    return;
  }
  nt::ke::KernelThread* t = stop->thread;
  const auto pcr = reinterpret_cast<std::uint64_t>(t->kpcr());
  s.Printf("KPCR for Processor {} at {:016x}:\n", stop->processor, pcr);
  s.Print("    Major 1 Minor 1\n");
  s.Printf("\tPrcb:              {:016x}\n", pcr + nt::ke::kpcr::kPrcb);
  s.Printf("\tIrql:              {:016x}\n", t->Irql());
  s.Printf("\tCurrentThread:     {:016x}\n", reinterpret_cast<std::uint64_t>(t->kthread()));
  s.Printf("\tDpcRoutineActive:  {}\n", t->inDpcRoutine ? 1 : 0);
}

// ~: the processors, and what each runs.
void CmdProcessors(Session& s, std::string_view, std::string_view) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const std::uint32_t count = kernel ? kernel->config().processors : 1;
  nt::kd::Stop* stop = s.stop();
  for (std::uint32_t p = 0; p < count; ++p) {
    const bool here = stop && stop->thread && stop->processor == p;
    s.Printf("{}{:>2}  {}\n", here ? '.' : ' ', p,
             here ? fmt::format("thread {:016x} (stopped)", reinterpret_cast<std::uint64_t>(stop->thread->kthread()))
                  : std::string(stop ? "frozen" : "running"));
  }
}

void CmdThread(Session& s, std::string_view, std::string_view) {
  nt::kd::Stop* stop = s.stop();
  if (!stop || !stop->thread) {
    s.Print("No thread is stopped\n");
    return;
  }
  nt::ke::KernelThread* t = stop->thread;
  const nt::ULONG pid = t->process ? t->process->id() : 4;
  s.Printf("THREAD {:016x}  Cid {:04x}.{:04x}  Teb: {:016x} Win32Thread: 0000000000000000 RUNNING on processor {}\n",
           reinterpret_cast<std::uint64_t>(t->kthread()), pid, t->id, 0, stop->processor);
  s.Printf("Owning Process            {:016x}       Image:         {}\n",
           t->process ? reinterpret_cast<std::uint64_t>(t->process->object()) : 0,
           t->process ? t->process->imageName() : std::string("System"));
  s.Printf("Irql                      {} ({})\n", t->Irql(), IrqlName(t->Irql()));
  s.Printf("PreviousMode              {}\n", t->previousMode ? "UserMode" : "KernelMode");
  s.Print("\n");
  CmdStack(s, "k", "");
}

// !process 0 0: every process of the machine.
void CmdProcess(Session& s, std::string_view, std::string_view) {
  s.Print("**** NT ACTIVE PROCESS DUMP ****\n");
  for (const nt::ULONG id : nt::ps::Process::LiveIds()) {
    void* object = nt::ps::Process::ReferenceById(id);
    if (!object) continue;
    if (nt::ps::Process* p = nt::ps::Process::FromObject(object)) {
      s.Printf("PROCESS {:016x}\n    SessionId: {}  Cid: {:04x}    Peb: {:08x}  ParentCid: {:04x}\n",
               reinterpret_cast<std::uint64_t>(object), id == 4 ? "none" : "0", id, p->peb(), p->parentId());
      s.Printf("    DirBase: 00000000  ObjectTable: {:016x}  HandleCount: {}.\n",
               reinterpret_cast<std::uint64_t>(&p->handles()), p->handles().size());
      s.Printf("    Image: {}\n\n", p->imageName());
    }
    nt::ob::DereferenceObject(object);
  }
}

// !object NAME|ADDRESS: an object's header and name; a directory's entries.
void CmdObject(Session& s, std::string_view, std::string_view args) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const auto words = SplitArgs(args);
  if (!kernel || words.empty()) {
    s.Print("Usage: !object <Name|Address>\n");
    return;
  }
  void* body = nullptr;
  bool referenced = false;
  if (words[0].starts_with('\\')) {
    const std::u16string name = nt::ob::Widen(words[0]);
    if (kernel->objects().IsDirectory(name)) {
      const auto entries = kernel->objects().List(name);
      s.Printf("Object: {}  Type: (Directory)\n    Directory Object: {}\n\n    Entries: {}\n", words[0], words[0], entries.size());
      for (const auto& e : entries) s.Printf("        {}\n", Narrow(e));
      return;
    }
    if (auto found = kernel->objects().Find(name); found && found->remainder.empty()) {
      body = found->body;
      referenced = true;
    }
  } else if (auto a = s.Evaluate(words[0])) {
    if (nt::ob::HeaderOf(reinterpret_cast<void*>(*a))) body = reinterpret_cast<void*>(*a);
  }
  if (!body) {
    s.Printf("{} is not a valid object (no object header)\n", words[0]);
    return;
  }
  const nt::ob::ObjectHeader* h = nt::ob::HeaderOf(body);
  s.Printf("Object: {:016x}  Type: ({:016x}) {}\n", reinterpret_cast<std::uint64_t>(body),
           reinterpret_cast<std::uint64_t>(h->type), TypeName(body));
  s.Printf("    ObjectHeader: {:016x}\n", reinterpret_cast<std::uint64_t>(h));
  s.Printf("    HandleCount: {}  PointerCount: {}\n", h->handleCount.load() , h->pointerCount.load() - (referenced ? 1 : 0));
  const std::string name = ObjectName(body);
  if (!name.empty()) s.Printf("    Name: {}\n", name);
  if (referenced) nt::ob::DereferenceObject(body);
}

// !devstack DEVICE: the stack the device is in, top first.
void CmdDevstack(Session& s, std::string_view, std::string_view args) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const auto words = SplitArgs(args);
  if (!kernel || words.empty()) {
    s.Print("Usage: !devstack <DeviceObject|DeviceName>\n");
    return;
  }
  std::uint64_t device = 0;
  std::u16string name = nt::ob::Widen(words[0]);
  if (!name.starts_with(u"\\")) name = u"\\Device\\" + name;
  if (auto found = kernel->objects().Find(name); found && found->remainder.empty()) {
    device = reinterpret_cast<std::uint64_t>(found->body);
    nt::ob::DereferenceObject(found->body);
  } else if (auto a = s.Evaluate(words[0])) {
    device = *a;
  }
  nt::DEVICE_OBJECT d{};
  if (!device || !s.ReadValue(device, d)) {
    s.Printf("{} is not a device object\n", words[0]);
    return;
  }
  // The named device and every device attached above it, top first, as WinDbg lists a stack.
  s.Print("  !DevObj           !DrvObj            !DevExt           ObjectName\n");
  std::vector<std::uint64_t> up{device};
  for (int n = 0; n < 32 && d.AttachedDevice; ++n) {
    up.push_back(reinterpret_cast<std::uint64_t>(d.AttachedDevice));
    if (!s.ReadValue(up.back(), d)) break;
  }
  std::reverse(up.begin(), up.end());
  for (const std::uint64_t dev : up) {
    nt::DEVICE_OBJECT x{};
    if (!s.ReadValue(dev, x)) break;
    nt::DRIVER_OBJECT drv{};
    std::string driverName;
    if (s.ReadValue(reinterpret_cast<std::uint64_t>(x.DriverObject), drv)) {
      driverName = ObjectName(x.DriverObject);
      if (const auto slash = driverName.find_last_of('\\'); slash != std::string::npos) driverName = driverName.substr(slash + 1);
    }
    const std::string devName = ObjectName(reinterpret_cast<void*>(dev));
    s.Printf("{} {:016x}  \\Driver\\{:<10} {:016x}  {}\n", dev == device ? '>' : ' ', dev, driverName,
             reinterpret_cast<std::uint64_t>(x.DeviceExtension), devName.substr(devName.find_last_of('\\') + 1));
  }
}

// !irp ADDRESS: the IRP and its stack locations, the current one marked.
void CmdIrp(Session& s, std::string_view, std::string_view args) {
  auto address = s.Evaluate(args);
  nt::IRP irp{};
  if (!address || !s.ReadValue(*address, irp) || irp.Type != nt::IO_TYPE_IRP) {
    s.Printf("{} is not an IRP\n", args);
    return;
  }
  const int current = irp.CurrentLocation;
  s.Printf("Irp is active with {} stacks {} is current (= 0x{:016x})\n", static_cast<int>(irp.StackCount), current,
           reinterpret_cast<std::uint64_t>(irp.Tail.Overlay.CurrentStackLocation));
  s.Printf(" {}: System buffer={:016x}: Thread {:016x}:  Irp stack trace.\n",
           irp.MdlAddress ? fmt::format("Mdl={:016x}", reinterpret_cast<std::uint64_t>(irp.MdlAddress)) : std::string("No Mdl"),
           reinterpret_cast<std::uint64_t>(irp.AssociatedIrp.SystemBuffer), reinterpret_cast<std::uint64_t>(irp.Tail.Overlay.Thread));
  s.Print("     cmd  flg cl Device   File     Completion-Context\n");
  const std::uint64_t first = *address + sizeof(nt::IRP);
  for (int i = 1; i <= irp.StackCount && i <= 32; ++i) {
    nt::IO_STACK_LOCATION sl{};
    if (!s.ReadValue(first + (i - 1) * sizeof(nt::IO_STACK_LOCATION), sl)) break;
    const char* major = sl.MajorFunction <= nt::IRP_MJ_MAXIMUM_FUNCTION ? nt::kMajorFunctionNames[sl.MajorFunction] : "?";
    s.Printf("{}[{}({:x}), N/A({:x})]\n", i == current ? '>' : ' ', major, sl.MajorFunction, sl.MinorFunction);
    s.Printf("            {:>2} {:>2} {:016x} {:016x} {:016x}-{:016x}\n", sl.Flags, sl.Control,
             reinterpret_cast<std::uint64_t>(sl.DeviceObject), reinterpret_cast<std::uint64_t>(sl.FileObject),
             reinterpret_cast<std::uint64_t>(sl.CompletionRoutine), reinterpret_cast<std::uint64_t>(sl.Context));
    const std::string device = ObjectName(sl.DeviceObject);
    if (!device.empty()) s.Printf("\t\t\t{}\n", device);
    // Parameters as the major function lays them out (four pointer-sized slots on x64).
    std::uint64_t a[4] = {};
    std::memcpy(a, &sl.Parameters, sizeof a);
    if (sl.MajorFunction == nt::IRP_MJ_DEVICE_CONTROL || sl.MajorFunction == nt::IRP_MJ_INTERNAL_DEVICE_CONTROL) {
      // OutputBufferLength, InputBufferLength, IoControlCode, Type3InputBuffer
      s.Printf("\t\t\tArgs: {:08x} {:08x} {:#x} {:08x}\n", static_cast<std::uint32_t>(a[0]), static_cast<std::uint32_t>(a[1]),
               static_cast<std::uint32_t>(a[2]), a[3]);
    } else if (sl.MajorFunction == nt::IRP_MJ_READ || sl.MajorFunction == nt::IRP_MJ_WRITE) {
      // Length, Key, ByteOffset
      s.Printf("\t\t\tArgs: {:08x} {:08x} {:016x} {:08x}\n", static_cast<std::uint32_t>(a[0]), static_cast<std::uint32_t>(a[1]),
               a[2], a[3]);
    } else {
      s.Printf("\t\t\tArgs: {:016x} {:016x} {:016x} {:016x}\n", a[0], a[1], a[2], a[3]);
    }
  }
  s.Printf("\t\t\tArgs: IoStatus.Status {:08x} Information {:x}\n", static_cast<std::uint32_t>(irp.IoStatus.Status),
           irp.IoStatus.Information);
}

namespace {

std::string TagText(nt::ULONG tag) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xFF);
    out += c >= 0x20 && c < 0x7F ? c : ' ';
  }
  return out;
}

}  // namespace

// !pool ADDRESS: the allocation the address is in.
void CmdPool(Session& s, std::string_view, std::string_view args) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  auto address = s.Evaluate(args);
  if (!kernel || !address) {
    s.Print("Usage: !pool <Address>\n");
    return;
  }
  const auto all = kernel->pool().OutstandingWithin(std::chrono::milliseconds(200));
  if (!all) {
    s.Print("The pool's lock is held (by the stopped thread): try again after g\n");
    return;
  }
  for (const auto& a : *all) {
    if (*address < a.address || *address >= a.address + std::max<std::uint64_t>(a.size, 1)) continue;
    s.Printf("Pool page {:016x} region is {} pool\n", *address, (a.type & 1) ? "Paged" : "Nonpaged");
    s.Printf("*{:016x} size: {:>4x} (Allocated) *{}{}\n", a.address, a.size, TagText(a.tag), a.special ? " (special pool)" : "");
    s.Printf("\t\tOwning component : {}\n", s.symbols().NameOf(a.caller));
    return;
  }
  s.Printf("{:016x} is not in an allocation of the pool\n", *address);
}

// !poolused: what each tag holds now.
void CmdPoolUsed(Session& s, std::string_view, std::string_view) {
  nt::Kernel* kernel = nt::Kernel::CurrentOrNull();
  const auto all = kernel ? kernel->pool().OutstandingWithin(std::chrono::milliseconds(200)) : std::nullopt;
  if (!all) {
    s.Print("The pool's lock is held (by the stopped thread): try again after g\n");
    return;
  }
  struct Usage {
    std::uint64_t nonPagedAllocs = 0, nonPagedBytes = 0, pagedAllocs = 0, pagedBytes = 0;
  };
  std::map<std::string, Usage> byTag;
  for (const auto& a : *all) {
    Usage& u = byTag[TagText(a.tag)];
    if (a.type & 1) {
      ++u.pagedAllocs;
      u.pagedBytes += a.size;
    } else {
      ++u.nonPagedAllocs;
      u.nonPagedBytes += a.size;
    }
  }
  s.Print(" Sorting by Tag\n\n Pool Used:\n            NonPaged                    Paged\n Tag    Allocs         Used    Allocs         Used\n\n");
  for (const auto& [tag, u] : byTag) {
    s.Printf(" {} {:>8} {:>12} {:>9} {:>12}\n", tag, u.nonPagedAllocs, u.nonPagedBytes, u.pagedAllocs, u.pagedBytes);
  }
}

}  // namespace ntbox::debug
