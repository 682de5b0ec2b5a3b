#include "machine/ScmDevice.h"

#include "support/HostFiles.h"

#include <algorithm>
#include <cstring>

#include "machine/Machine.h"
#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/ps/Process.h"
#include "user/dlls/ScmProtocol.h"

namespace ntbox::machine {
namespace {

namespace scm = ntbox::scm;
constexpr std::uint32_t kAcceptStop = 1;  // SERVICE_ACCEPT_STOP

template <std::size_t N>
std::string Text(const std::uint16_t (&field)[N]) {
  std::u16string s;
  for (std::size_t i = 0; i < N && field[i]; ++i) s += static_cast<char16_t>(field[i]);
  return Utf16ToUtf8(s);
}

template <std::size_t N>
void PutText(std::uint16_t (&field)[N], std::string_view utf8) {
  const std::u16string s = Utf8ToUtf16(utf8);
  const std::size_t n = std::min(s.size(), N - 1);
  std::copy_n(s.begin(), n, field);
  field[n] = 0;
}

void Describe(const ServiceStatus& s, scm::NtboxScmService& out) {
  out = {};
  out.type = s.config.type;
  out.start = s.config.start;
  out.errorControl = s.config.errorControl;
  out.state = static_cast<std::uint32_t>(s.state);
  out.controlsAccepted = s.state == ServiceState::kStopped ? 0 : kAcceptStop;
  out.win32ExitCode = s.win32ExitCode;
  out.serviceExitCode = s.serviceExitCode;
  out.markedForDelete = s.markedForDelete;
  PutText(out.name, s.config.name);
  PutText(out.displayName, s.config.displayName);
  PutText(out.imagePath, s.config.imagePath);
  PutText(out.group, s.config.group);
  PutText(out.description, s.config.description);
}

// Runs one request; the reply is written into out (room records fit).
void Serve(Machine& machine, const scm::NtboxScmRequest& request, scm::NtboxScmReply& out, std::size_t room) {
  const std::string name = Text(request.name);
  Result<ServiceStatus> result = Fail("unknown request", 0, 1 /* ERROR_INVALID_FUNCTION */);
  switch (request.operation) {
    case scm::NTBOX_SCM_CREATE: {
      ServiceConfig config;
      config.name = name;
      config.type = request.type;
      config.start = request.start;
      config.errorControl = request.errorControl;
      const std::string path = Text(request.imagePath);
      config.imagePath = path.empty() ? std::string() : Machine::ToImagePath(path, "/");
      config.displayName = Text(request.displayName);
      config.group = Text(request.group);
      result = machine.CreateService(config);
      break;
    }
    case scm::NTBOX_SCM_START:
      result = machine.StartService(name);
      break;
    case scm::NTBOX_SCM_STOP:
      result = machine.StopService(name);
      break;
    case scm::NTBOX_SCM_DELETE:
      result = machine.DeleteService(name);
      break;
    case scm::NTBOX_SCM_QUERY:
      result = machine.QueryService(name);
      break;
    case scm::NTBOX_SCM_CHANGE:
      result = machine.ConfigureService(name, [&](ServiceConfig& c) {
        if (request.type != NTBOX_SCM_NO_CHANGE) c.type = request.type;
        if (request.start != NTBOX_SCM_NO_CHANGE) c.start = request.start;
        if (request.errorControl != NTBOX_SCM_NO_CHANGE) c.errorControl = request.errorControl;
        if (request.has & NTBOX_SCM_HAS_DISPLAY_NAME) c.displayName = Text(request.displayName);
        if (request.has & NTBOX_SCM_HAS_IMAGE_PATH) c.imagePath = Machine::ToImagePath(Text(request.imagePath), "/");
        if (request.has & NTBOX_SCM_HAS_GROUP) c.group = Text(request.group);
        if (request.has & NTBOX_SCM_HAS_DESCRIPTION) c.description = Text(request.description);
      });
      break;
    case scm::NTBOX_SCM_ENUMERATE: {
      const auto all = machine.QueryServices();
      out.error = all.size() > room ? 234 /* ERROR_MORE_DATA */ : 0;
      out.count = static_cast<std::uint32_t>(all.size());
      for (std::size_t i = 0; i < std::min(all.size(), room); ++i) Describe(all[i], out.services[i]);
      return;
    }
    default:
      break;
  }
  if (!result) {
    out.error = result.error().win32 ? result.error().win32 : 1 /* ERROR_INVALID_FUNCTION */;
    out.count = 0;
    return;
  }
  out.error = 0;
  out.count = 1;
  Describe(*result, out.services[0]);
}

using nt::io::HostDriver;

nt::NTSTATUS NTAPI Open(nt::DEVICE_OBJECT*, nt::IRP* irp) { return HostDriver::Complete(irp, nt::STATUS_SUCCESS, 0); }

nt::NTSTATUS NTAPI Control(nt::DEVICE_OBJECT* device, nt::IRP* irp) {
  auto& machine = *static_cast<Machine*>(nt::io::HostDriver::ContextOf(device));
  const nt::IO_STACK_LOCATION* sl = irp->Tail.Overlay.CurrentStackLocation;
  const auto& p = sl->Parameters.DeviceIoControl;
  if (p.IoControlCode != NTBOX_IOCTL_SCM) return HostDriver::Complete(irp, nt::STATUS_INVALID_DEVICE_REQUEST, 0);
  if (p.InputBufferLength < sizeof(scm::NtboxScmRequest) || p.OutputBufferLength < sizeof(scm::NtboxScmReply)) {
    return HostDriver::Complete(irp, nt::STATUS_INVALID_PARAMETER, 0);
  }
  // METHOD_BUFFERED: the request and the reply share the system buffer.
  scm::NtboxScmRequest request;
  std::memcpy(&request, irp->AssociatedIrp.SystemBuffer, sizeof request);
  auto& reply = *static_cast<scm::NtboxScmReply*>(irp->AssociatedIrp.SystemBuffer);
  const std::size_t room =
      (p.OutputBufferLength - offsetof(scm::NtboxScmReply, services)) / sizeof(scm::NtboxScmService);
  {
    // The driver's DriverEntry runs for the System process, not for the program that asked; its
    // image is still read as the program may, through the program's client.
    HostFileOpenerScope files(nt::ps::CurrentProcess().hostFiles);
    nt::io::ServiceContext system(nt::Kernel::Current().systemProcess());
    Serve(machine, request, reply, room);
  }
  const std::size_t records = std::min<std::size_t>(reply.count, room);
  return HostDriver::Complete(irp, nt::STATUS_SUCCESS, offsetof(scm::NtboxScmReply, services) + records * sizeof(scm::NtboxScmService));
}

}  // namespace

ScmDevice::ScmDevice(Machine& machine, nt::Kernel& kernel)
    : driver_(std::make_unique<nt::io::HostDriver>(kernel, u"\\Driver\\ServiceControlManager")) {
  driver_->SetDispatch(nt::IRP_MJ_CREATE, &Open);
  driver_->SetDispatch(nt::IRP_MJ_CLOSE, &Open);
  driver_->SetDispatch(nt::IRP_MJ_CLEANUP, &Open);
  driver_->SetDispatch(nt::IRP_MJ_DEVICE_CONTROL, &Control);
  (void)driver_->CreateDevice(u"\\Device\\ServiceControlManager", 0x22 /* FILE_DEVICE_UNKNOWN */, &machine);
}

}  // namespace ntbox::machine
