// Pipes (NtCreateNamedPipeFile; CreatePipe and CreateNamedPipe on Wine's kernelbase): each instance
// is a host socket pair. The server's end is its handle at once; the other end waits under the
// pipe's name (\Device\NamedPipe\X, which \??\pipe\X and \\.\pipe\X name) until a client opens
// that name (OpenPipeClient), and is then the client's handle. Both are host files: reads and
// writes wait without the kernel lock, and closing one end ends the other's reads with
// STATUS_PIPE_BROKEN, as on Windows. The server waits for its client with ConnectNamedPipe
// (FSCTL_PIPE_LISTEN: in the call, or overlapped, completed when the client comes) and lets it go
// with DisconnectNamedPipe (a fresh socket pair for the next client); PeekNamedPipe looks at what
// can be read. Not yet: message mode (bytes are a stream), WaitNamedPipe, pipe information classes.
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cpu/SafeCopy.h"
#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {

// A server end's instance (its file's tail holds it).
struct io::PipeInstance {
  std::u16string pipe;  // upper-cased name
  int clientEnd = -1;   // the other end, until a client takes it
  bool connected = false;
  // An overlapped ConnectNamedPipe still waiting: its event (referenced) and IO_STATUS_BLOCK,
  // completed when the client comes.
  void* listenEvent = nullptr;
  IO_STATUS_BLOCK* listenIosb = nullptr;
  bool listening = false;
};

namespace {

using io::PipeInstance;
constexpr ULONG FSCTL_PIPE_DISCONNECT = 0x110004, FSCTL_PIPE_LISTEN = 0x110008, FSCTL_PIPE_PEEK = 0x11400C;
constexpr ULONG FO_SYNCHRONOUS_IO = 0x2;
constexpr ULONG FILE_PIPE_CONNECTED_STATE = 3;

// Every server instance by upper-cased pipe name.
std::mutex g_mutex;
std::map<std::u16string, std::vector<PipeInstance*>>& Instances() {
  static std::map<std::u16string, std::vector<PipeInstance*>> instances;
  return instances;
}

// Completes an overlapped listen: its IO_STATUS_BLOCK (in its process's memory, which every
// process shares with the host) and its event.
void CompleteListen(PipeInstance& p, NTSTATUS status) {
  if (!p.listening) return;
  IO_STATUS_BLOCK iosb{};
  iosb.Status = status;
  if (p.listenIosb) (void)cpu::SafeCopy(p.listenIosb, &iosb, sizeof iosb);
  if (p.listenEvent) {
    KeSetEvent(static_cast<KEVENT*>(p.listenEvent), 0, FALSE);
    ob::DereferenceObject(p.listenEvent);
  }
  p.listenEvent = nullptr;
  p.listenIosb = nullptr;
  p.listening = false;
}

NTSTATUS Finish(IO_STATUS_BLOCK* iosb, NTSTATUS status, ULONG_PTR information = 0) {
  IO_STATUS_BLOCK out{};
  out.Status = status;
  out.Information = information;
  if (iosb && !mm::WriteCaller(iosb, out)) return STATUS_ACCESS_VIOLATION;
  return status;
}

NTSTATUS Listen(FILE_OBJECT* file, PipeInstance& p, HANDLE event, IO_STATUS_BLOCK* iosb) {
  {
    std::lock_guard lock(g_mutex);
    if (p.connected) return Finish(iosb, STATUS_PIPE_CONNECTED);
    if (p.listening) return Finish(iosb, STATUS_INVALID_PARAMETER);
  }
  if (!(file->Flags & FO_SYNCHRONOUS_IO)) {
    // Overlapped: pending until the client comes.
    void* object = nullptr;
    if (event) {
      const NTSTATUS s = ObReferenceObjectByHandle(event, 0x2 /* EVENT_MODIFY_STATE */, g_ExEventObjectType,
                                                   ExGetPreviousMode(), &object, nullptr);
      if (!NT_SUCCESS(s)) return s;
      KeClearEvent(static_cast<KEVENT*>(object));
    }
    if (Finish(iosb, STATUS_PENDING) == STATUS_ACCESS_VIOLATION) {
      if (object) ob::DereferenceObject(object);
      return STATUS_ACCESS_VIOLATION;
    }
    std::lock_guard lock(g_mutex);
    p.listening = true;
    p.listenEvent = object;
    p.listenIosb = iosb;
    return STATUS_PENDING;
  }
  // In the call: until the client comes, or the thread is to end.
  ke::KernelThread* t = ke::CurrentThread();
  const auto outcome = ke::WaitUntil([&] {
    std::lock_guard lock(g_mutex);
    return p.connected || (t && t->terminateRequested);
  });
  if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  std::lock_guard lock(g_mutex);
  return Finish(iosb, p.connected ? STATUS_SUCCESS : STATUS_THREAD_IS_TERMINATING);
}

// The server lets its client go: its end is replaced by a fresh pair's, whose other end waits
// for the next client.
NTSTATUS Disconnect(io::FileTail& tail, PipeInstance& p, IO_STATUS_BLOCK* iosb) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return STATUS_INSUFFICIENT_RESOURCES;
  ::dup2(ends[0], tail.hostFd);  // the client's reads now end: its other end is gone
  ::close(ends[0]);
  std::lock_guard lock(g_mutex);
  if (p.clientEnd >= 0) ::close(p.clientEnd);
  p.clientEnd = ends[1];
  p.connected = false;
  CompleteListen(p, STATUS_PIPE_DISCONNECTED);
  return Finish(iosb, STATUS_SUCCESS);
}

// FILE_PIPE_PEEK_BUFFER: the pipe's state, the bytes that can be read, and a copy of the first
// of them (as many as fit).
NTSTATUS Peek(int fd, IO_STATUS_BLOCK* iosb, PVOID output, ULONG outputLength) {
  constexpr ULONG kHeader = 16;
  if (outputLength < kHeader) return STATUS_BUFFER_TOO_SMALL;
  int available = 0;
  if (::ioctl(fd, FIONREAD, &available) != 0) available = 0;
  if (available == 0) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP))) return Finish(iosb, STATUS_PIPE_BROKEN);
  }
  std::vector<std::uint8_t> out(kHeader + std::min<ULONG>(static_cast<ULONG>(available), outputLength - kHeader));
  ssize_t copied = 0;
  struct stat st {};
  if (out.size() > kHeader && ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
    copied = ::recv(fd, out.data() + kHeader, out.size() - kHeader, MSG_PEEK | MSG_DONTWAIT);
    if (copied < 0) copied = 0;
  }
  out.resize(kHeader + static_cast<std::size_t>(copied));  // a host FIFO cannot be peeked: its count only
  const ULONG header[4] = {FILE_PIPE_CONNECTED_STATE, static_cast<ULONG>(available), 0, 0};
  std::memcpy(out.data(), header, sizeof header);
  if (!mm::WriteCaller(output, out.data(), out.size())) return STATUS_ACCESS_VIOLATION;
  return Finish(iosb, static_cast<ULONG>(copied) < static_cast<ULONG>(available) ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS,
                out.size());
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
    auto it = Instances().find(pipe);
    if (it == Instances().end() || it->second.empty()) return STATUS_OBJECT_NAME_NOT_FOUND;
    const auto free = std::find_if(it->second.begin(), it->second.end(),
                                   [](const PipeInstance* p) { return !p->connected && p->clientEnd >= 0; });
    if (free == it->second.end()) return STATUS_PIPE_NOT_AVAILABLE;  // every instance has its client
    PipeInstance& p = **free;
    fd = p.clientEnd;
    p.clientEnd = -1;
    p.connected = true;
    CompleteListen(p, STATUS_SUCCESS);
  }
  ke::WakeWaiters();  // a server waiting in ConnectNamedPipe
  return InsertHostFile(fd, false, u"\\Device\\NamedPipe\\" + pipe, access, &handle);  // closes fd on failure
}

void DeletePipeInstance(PipeInstance* p) {
  if (!p) return;
  std::lock_guard lock(g_mutex);
  if (auto it = Instances().find(p->pipe); it != Instances().end()) {
    std::erase(it->second, p);
    if (it->second.empty()) Instances().erase(it);
  }
  if (p->clientEnd >= 0) ::close(p->clientEnd);
  CompleteListen(*p, STATUS_PIPE_BROKEN);
  delete p;
}

NTSTATUS PipeFsControl(FILE_OBJECT* file, HANDLE event, IO_STATUS_BLOCK* iosb, ULONG code, PVOID output,
                       ULONG outputLength) {
  FileTail* tail = TailOf(file);
  if (tail->hostFd < 0) return STATUS_INVALID_DEVICE_REQUEST;
  switch (code) {
    case FSCTL_PIPE_PEEK:
      return Peek(tail->hostFd, iosb, output, outputLength);
    case FSCTL_PIPE_LISTEN:
      return tail->pipe ? Listen(file, *tail->pipe, event, iosb) : STATUS_ILLEGAL_FUNCTION;
    case FSCTL_PIPE_DISCONNECT:
      return tail->pipe ? Disconnect(*tail, *tail->pipe, iosb) : STATUS_ILLEGAL_FUNCTION;
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}

}  // namespace io

NTSTATUS NTAPI NtCreateNamedPipeFile(HANDLE* PipeHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG CreateDisposition,
                                     ULONG CreateOptions, ULONG NamedPipeType, ULONG ReadMode, ULONG CompletionMode,
                                     ULONG MaximumInstances, ULONG InboundQuota, ULONG OutboundQuota,
                                     LARGE_INTEGER* DefaultTimeout) {
  (void)ShareAccess, (void)CreateDisposition, (void)NamedPipeType, (void)ReadMode;
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
  auto* instance = new PipeInstance{*pipe, ends[1]};
  {
    std::lock_guard lock(g_mutex);
    auto& instances = Instances()[*pipe];
    if (MaximumInstances != 0xFFFFFFFF /* PIPE_UNLIMITED_INSTANCES */ && instances.size() >= MaximumInstances) {
      if (instances.empty()) Instances().erase(*pipe);
      ::close(ends[0]);
      ::close(ends[1]);
      delete instance;
      return STATUS_INSTANCE_NOT_AVAILABLE;
    }
    instances.push_back(instance);
  }
  HANDLE handle = nullptr;
  NTSTATUS status = io::InsertHostFile(ends[0], false, u"\\Device\\NamedPipe\\" + *pipe, DesiredAccess, &handle);
  if (!NT_SUCCESS(status)) {
    io::DeletePipeInstance(instance);
    return status;
  }
  {
    // The server end's file owns the instance; without FILE_SYNCHRONOUS_IO_* it is overlapped.
    ob::HandleReference ref;
    if (NT_SUCCESS(ref.Open(handle, 0, g_IoFileObjectType))) {
      auto* file = static_cast<FILE_OBJECT*>(ref.body());
      io::TailOf(file)->pipe = instance;
      if (!(CreateOptions & 0x30)) file->Flags &= ~FO_SYNCHRONOUS_IO;
    }
  }
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
