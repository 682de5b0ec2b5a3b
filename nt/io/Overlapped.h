// Overlapped I/O of a machine's programs: a request on a handle opened for it (FILE_FLAG_OVERLAPPED)
// returns STATUS_PENDING while the driver holds the IRP; its completion, on whatever thread the
// driver completes it, writes the status into the program's OVERLAPPED and signals its event.
// Cancellation (CancelIo/CancelIoEx, and a process that ends) goes through IoCancelIrp, so the
// driver's cancel routine (or cancel-safe queue) completes the IRP with STATUS_CANCELLED.
#pragma once
#include <cstddef>

#include "nt/io/IrpBlock.h"
#include "nt/ob/Object.h"

namespace ntbox::nt::ps {
class Process;
}

namespace ntbox::nt::io {

struct OverlappedRequest;

// What a program passed: its OVERLAPPED (user memory) and the event handle from it, or 0.
struct AsyncRequest {
  void* overlapped = nullptr;
  ob::HandleValue event = 0;
  // NtDeviceIoControlFile's ApcContext: what a completion port hears with the packet (0: no
  // packet, as when the event handle's low bit is set).
  std::uint64_t apcContext = 0;
  // NtReadFile's ApcRoutine (ReadFileEx's completion): queued as a user APC to the issuing thread,
  // ApcRoutine(ApcContext, IoStatusBlock, 0), instead of a port packet.
  std::uint64_t apcRoutine = 0;
};

// A completion port (NtCreateIoCompletion): packets from files associated with it and from
// NtSetIoCompletion, taken by NtRemoveIoCompletion(Ex).
struct CompletionPacket {
  std::uint64_t key = 0, apcContext = 0;
  NTSTATUS status = 0;
  std::uint64_t information = 0;
};
// Queues a packet on the port object; under the kernel lock (waiters are woken).
void PostCompletion(void* port, const CompletionPacket& packet);
// FileCompletionInformation: file's completed overlapped requests post to port with key.
NTSTATUS AssociateCompletionPort(FILE_OBJECT* file, HANDLE port, std::uint64_t key);

// Sends block as the program's overlapped request on file. Returns the final status when it
// completed at once, STATUS_PENDING when the driver holds it. Under the kernel lock.
NTSTATUS SendOverlapped(ps::Process& process, FILE_OBJECT* file, DEVICE_OBJECT* top, IrpBlock* block,
                        const AsyncRequest& async, ULONG_PTR& information);
// A request the kernel finished in the call (a host file's transfer): what its completion does for
// a driver's request, at once: the event set, the completion routine queued to the calling thread,
// or a packet to the file's completion port. Under the kernel lock.
void CompletedAtOnce(FILE_OBJECT* file, const AsyncRequest& async, NTSTATUS status, ULONG_PTR information);
// FinishCompletion's part for an overlapped request (false: block is not one).
bool CompleteOverlapped(IrpBlock* block);
// Cancels the process's pending requests on file (all files: nullptr), only the one with
// overlapped when given; returns how many were still pending.
std::size_t CancelOverlapped(ps::Process& process, const FILE_OBJECT* file, const void* overlapped);
// Waits until the request with overlapped is no longer pending (false: no such request).
bool WaitOverlapped(ps::Process& process, const void* overlapped);
// A process that ends: cancels its requests, waits a little for their completion, and lets the
// rest complete into nothing.
void EndOverlapped(ps::Process& process);

}  // namespace ntbox::nt::io
