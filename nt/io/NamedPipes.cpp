// Pipes (NtCreateNamedPipeFile; CreatePipe and CreateNamedPipe on Wine's kernelbase): each instance
// is a host socket pair. The server's end is its handle at once; the other end waits under the
// pipe's name (\Device\NamedPipe\X, which \??\pipe\X and \\.\pipe\X name) until a client opens
// that name (OpenPipeClient), and is then the client's handle. Both are host files: reads and
// writes wait without the kernel lock, and closing one end ends the other's reads with
// STATUS_PIPE_BROKEN, as on Windows. Not yet: waiting for a client (ConnectNamedPipe, FSCTL_PIPE_LISTEN),
// message mode, pipe information classes.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoServices.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {
namespace {

// Unconnected client ends by upper-cased pipe name.
std::mutex g_mutex;
std::map<std::u16string, std::vector<int>>& Waiting() {
  static std::map<std::u16string, std::vector<int>> waiting;
  return waiting;
}

// Forgets client ends whose server has closed its end (before any client came).
void ForgetAbandoned() {
  for (auto it = Waiting().begin(); it != Waiting().end();) {
    auto& ends = it->second;
    for (std::size_t i = 0; i < ends.size();) {
      pollfd p{ends[i], 0, 0};
      if (::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP)) {
        ::close(ends[i]);
        ends.erase(ends.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    it = ends.empty() ? Waiting().erase(it) : std::next(it);
  }
}

}  // namespace

namespace io {

std::optional<std::u16string> PipeName(std::u16string_view ntName) {
  for (std::u16string_view prefix : {u"\\??\\pipe\\", u"\\GLOBAL??\\pipe\\", u"\\DosDevices\\pipe\\",
                                     u"\\Device\\NamedPipe\\"}) {
    if (ob::StartsWithNoCase(ntName, prefix) && ntName.size() > prefix.size()) {
      return ob::UpcaseName(ntName.substr(prefix.size()));
    }
  }
  return std::nullopt;
}

NTSTATUS OpenPipeClient(const std::u16string& pipe, ACCESS_MASK access, HANDLE& handle) {
  int fd = -1;
  {
    std::lock_guard lock(g_mutex);
    ForgetAbandoned();
    auto it = Waiting().find(pipe);
    if (it == Waiting().end()) return STATUS_OBJECT_NAME_NOT_FOUND;
    fd = it->second.front();
    it->second.erase(it->second.begin());
    if (it->second.empty()) Waiting().erase(it);
  }
  return InsertHostFile(fd, false, u"\\Device\\NamedPipe\\" + pipe, access, &handle);  // closes fd on failure
}

}  // namespace io

NTSTATUS NTAPI NtCreateNamedPipeFile(HANDLE* PipeHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG CreateDisposition,
                                     ULONG CreateOptions, ULONG NamedPipeType, ULONG ReadMode, ULONG CompletionMode,
                                     ULONG MaximumInstances, ULONG InboundQuota, ULONG OutboundQuota,
                                     LARGE_INTEGER* DefaultTimeout) {
  (void)ShareAccess, (void)CreateDisposition, (void)CreateOptions, (void)NamedPipeType, (void)ReadMode;
  (void)CompletionMode, (void)InboundQuota, (void)OutboundQuota, (void)DefaultTimeout;
  if (!mm::WriteCaller(PipeHandle, HANDLE{}) || !mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(ObjectAttributes, a); s != STATUS_SUCCESS) return s;
  if (a.root) return STATUS_NOT_IMPLEMENTED;
  const auto pipe = io::PipeName(a.name);
  if (!pipe) return STATUS_OBJECT_NAME_INVALID;
  if (MaximumInstances == 0) return STATUS_INVALID_PARAMETER;
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return STATUS_INSUFFICIENT_RESOURCES;
  {
    std::lock_guard lock(g_mutex);
    ForgetAbandoned();
    auto& waiting = Waiting()[*pipe];
    if (MaximumInstances != 0xFFFFFFFF /* PIPE_UNLIMITED_INSTANCES */ && waiting.size() >= MaximumInstances) {
      ::close(ends[0]);
      ::close(ends[1]);
      return STATUS_INSTANCE_NOT_AVAILABLE;
    }
    waiting.push_back(ends[1]);
  }
  HANDLE handle = nullptr;
  NTSTATUS status = io::InsertHostFile(ends[0], false, u"\\Device\\NamedPipe\\" + *pipe, DesiredAccess, &handle);
  if (!NT_SUCCESS(status)) return status;  // ends[0] closed: the waiting end sees the hang-up and is forgotten
  (void)ps::CurrentProcess().handles().SetAttributes(reinterpret_cast<ob::HandleValue>(handle), a.attributes);
  IO_STATUS_BLOCK iosb{};
  iosb.Status = STATUS_SUCCESS;
  iosb.Information = 2;  // FILE_CREATED
  if (!mm::WriteCaller(IoStatusBlock, iosb) || !mm::WriteCaller(PipeHandle, handle)) {
    (void)NtClose(handle);
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
