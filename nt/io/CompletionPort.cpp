// I/O completion ports: NtCreateIoCompletion, NtSetIoCompletion (PostQueuedCompletionStatus),
// NtRemoveIoCompletion(Ex) (GetQueuedCompletionStatus(Ex)), and files associated with a port
// (NtSetInformationFile's FileCompletionInformation), whose overlapped requests post a packet when
// they complete. Queues change under the kernel lock; a waiting thread sleeps with it let go.
#include <deque>

#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/FileObject.h"
#include "nt/io/Overlapped.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"

namespace ntbox::nt {
namespace {

struct PortData {
  std::deque<io::CompletionPacket> packets;
};

ob::ObjectType& Ports() { return ob::OwningHostContext<PortData>(ob::IoCompletionType()); }

constexpr ACCESS_MASK IO_COMPLETION_MODIFY_STATE = 0x2;

// FILE_IO_COMPLETION_INFORMATION: the key, the request's ApcContext (its OVERLAPPED) and its status.
struct CompletionInformation {
  std::uint64_t key, apcContext;
  std::uint64_t status, information;  // IO_STATUS_BLOCK
};
static_assert(sizeof(CompletionInformation) == 32);

// Waits for packets and takes up to max of them (at least one unless the wait timed out or the
// thread is to end); returns the status for the caller.
NTSTATUS TakePackets(HANDLE port, std::size_t max, const LARGE_INTEGER* timeout,
                     std::vector<io::CompletionPacket>& taken) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(port, IO_COMPLETION_MODIFY_STATE, &Ports()); !NT_SUCCESS(s)) return s;
  auto& data = ref.context<PortData>();
  std::int64_t deadline = -1;
  if (timeout) {
    const auto t = mm::ReadCaller(timeout);
    if (!t) return STATUS_ACCESS_VIOLATION;
    deadline = ke::DueInterruptTime(t->QuadPart);
  }
  ke::KernelThread* self = ke::CurrentThread();
  const auto outcome = ke::WaitUntil(
      [&] { return !data.packets.empty() || (self->userGuard && self->terminateRequested); }, deadline);
  if (outcome == ke::WaitOutcome::kStopped) ke::UnwindStopped();
  while (!data.packets.empty() && taken.size() < max) {
    taken.push_back(data.packets.front());
    data.packets.pop_front();
  }
  if (!taken.empty()) return STATUS_SUCCESS;
  return outcome == ke::WaitOutcome::kTimeout ? STATUS_TIMEOUT : STATUS_THREAD_IS_TERMINATING;
}

}  // namespace

namespace io {

void PostCompletion(void* port, const CompletionPacket& packet) {
  static_cast<PortData*>(ob::HeaderOf(port)->hostContext)->packets.push_back(packet);
  ke::WakeWaiters();
}

NTSTATUS AssociateCompletionPort(FILE_OBJECT* file, HANDLE port, std::uint64_t key) {
  PVOID object = nullptr;
  if (const NTSTATUS s = ObReferenceObjectByHandle(port, IO_COMPLETION_MODIFY_STATE, &Ports(), ExGetPreviousMode(),
                                                   &object, nullptr);
      !NT_SUCCESS(s)) {
    return s;
  }
  FileTail* tail = TailOf(file);
  if (tail->completionPort) {
    ob::DereferenceObject(object);
    return STATUS_INVALID_PARAMETER;  // a file is associated once, as on Windows
  }
  tail->completionPort = object;
  tail->completionKey = key;
  return STATUS_SUCCESS;
}

}  // namespace io

NTSTATUS NTAPI NtCreateIoCompletion(HANDLE* IoCompletionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                    ULONG NumberOfConcurrentThreads) {
  (void)NumberOfConcurrentThreads;  // the host schedules the threads that wait
  if (!mm::WriteCaller(IoCompletionHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  void* body = ob::CreateObject(Ports(), 0x10, new PortData());
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  return ob::ReturnNamedHandle(body, ObjectAttributes, DesiredAccess ? DesiredAccess : 0x1F0003, IoCompletionHandle);
}

NTSTATUS NTAPI NtSetIoCompletion(HANDLE IoCompletionHandle, ULONG_PTR KeyContext, ULONG_PTR ApcContext,
                                 NTSTATUS IoStatus, ULONG_PTR IoStatusInformation) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(IoCompletionHandle, IO_COMPLETION_MODIFY_STATE, &Ports()); !NT_SUCCESS(s)) return s;
  io::PostCompletion(ref.body(), {KeyContext, ApcContext, IoStatus, IoStatusInformation});
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtRemoveIoCompletion(HANDLE IoCompletionHandle, ULONG_PTR* KeyContext, ULONG_PTR* ApcContext,
                                    IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* Timeout) {
  std::vector<io::CompletionPacket> taken;
  const NTSTATUS status = TakePackets(IoCompletionHandle, 1, Timeout, taken);
  if (status != STATUS_SUCCESS) return status;
  const io::CompletionPacket& p = taken.front();
  IO_STATUS_BLOCK iosb{};
  iosb.Status = p.status;
  iosb.Information = p.information;
  if (!mm::WriteCaller(KeyContext, static_cast<ULONG_PTR>(p.key)) ||
      !mm::WriteCaller(ApcContext, static_cast<ULONG_PTR>(p.apcContext)) || !mm::WriteCaller(IoStatusBlock, iosb)) {
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtRemoveIoCompletionEx(HANDLE IoCompletionHandle, PVOID Information, ULONG Count, ULONG* Removed,
                                      LARGE_INTEGER* Timeout, BOOLEAN Alertable) {
  (void)Alertable;  // no user APCs yet
  if (!Count) return STATUS_INVALID_PARAMETER;
  std::vector<io::CompletionPacket> taken;
  const NTSTATUS status = TakePackets(IoCompletionHandle, Count, Timeout, taken);
  if (status != STATUS_SUCCESS) return status;
  std::vector<CompletionInformation> out;
  for (const auto& p : taken) {
    out.push_back({p.key, p.apcContext, static_cast<std::uint32_t>(p.status), p.information});
  }
  if (!mm::WriteCaller(Information, out.data(), out.size() * sizeof(CompletionInformation)) ||
      !mm::WriteCaller(Removed, static_cast<ULONG>(out.size()))) {
    return STATUS_ACCESS_VIOLATION;
  }
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
