// A program's threads as the kernel sees them. The host threads that run a program's code belong
// to whoever runs the program (user/Program), which the kernel asks through ThreadHost; the
// kernel keeps each thread's state (ThreadControl, the host side of its thread object) for the
// thread services: NtResumeThread, NtQueryInformationThread, alerts by thread id.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "nt/Types.h"
#include "nt/ps/ProcessParameters.h"

namespace ntbox::pe {
class LoadedImage;
}

namespace ntbox::nt::ps {

constexpr NTSTATUS kStillActive = 0x103;  // STATUS_PENDING: a thread's exit status while it runs

struct ThreadControl {
  std::uint64_t id = 0;
  ULONG processId = 0;  // its process's (PsGetThreadProcessId, IoGetRequestorProcess)
  std::uint64_t teb = 0;
  std::uint64_t startAddress = 0;
  std::mutex mutex;
  std::condition_variable changed;
  ULONG suspendCount = 0;
  NTSTATUS exitStatus = kStillActive;
  bool ended = false;
  // GetThreadTimes: when it was made and ended (system time, 100 ns units), the host thread that
  // runs it, and its CPU times (100 ns units) once it has ended.
  std::int64_t createTime = 0, exitTime = 0;
  int hostTid = 0;
  std::int64_t userTime = 0, kernelTime = 0;
  // NtAlertThreadByThreadId's flag, which NtWaitForAlertByThreadId consumes.
  bool alerted = false;
  // User APCs queued to the thread (QueueUserAPC, ReadFileEx's completion), run by
  // KiUserApcDispatcher when it waits alertably: func(arg1, arg2, arg3).
  struct UserApc {
    std::uint64_t func, arg1, arg2, arg3;
  };
  std::deque<UserApc> apcs;
};

// Queues a user APC to the thread and wakes it if it waits.
void QueueUserApc(void* threadObject, const ThreadControl::UserApc& apc);
// Whether the calling thread (a program's) has a user APC waiting.
bool UserApcPending();
// Delivers the calling thread's next user APC: KiUserApcDispatcher's frame is written below the
// resume context's stack (a CONTEXT, 0x4D0 bytes: where the thread goes on after the APC, through
// NtContinue), and the system-call exit resumes in the dispatcher. False when none is queued or
// the program's stack cannot take the frame.
bool DeliverUserApc(const std::uint8_t* resumeContext);

// The thread object (ETHREAD body) of a program thread, and its control.
ThreadControl* ControlOf(void* threadObject);
// A new thread object for a program thread, owning control.
void* CreateUserThreadObject(ThreadControl* control);
// On the host thread that runs a program thread, before its code: the thread's times are counted
// from here.
void StartUserThread(void* threadObject);
// Marks the thread ended with status and signals its object (waits on it are satisfied).
void EndUserThread(void* threadObject, NTSTATUS status);
// A thread's user and kernel CPU time so far (100 ns units): the host's for its host thread.
void ThreadCpuTimes(const ThreadControl& control, std::int64_t& user, std::int64_t& kernel);
// The same for a live host thread by its Linux thread id (unchanged when it cannot be read).
void HostThreadCpuTimes(int tid, std::int64_t& user, std::int64_t& kernel);

// What the kernel asks of the runner of a process's program.
class ThreadHost {
 public:
  virtual ~ThreadHost() = default;
  struct Request {
    std::uint64_t start = 0, argument = 0;
    bool suspended = false;
    std::uint64_t stackCommit = 0, stackReserve = 0;
  };
  // Starts a thread (suspended or not); its object carries a reference for the caller.
  virtual std::expected<void*, NTSTATUS> CreateThread(const Request& request) = 0;
  // A new process of the machine running another program (NtCreateUserProcess), its first
  // thread suspended; both objects carry a reference for the caller.
  struct ProcessRequest {
    std::filesystem::path hostPath;  // the image
    ProcessParameters parameters;
    bool inheritHandles = false;
    // With inheritHandles: only these of the inheritable handles (PROC_THREAD_ATTRIBUTE_HANDLE_LIST).
    std::optional<std::vector<std::uint64_t>> handleList;
  };
  struct CreatedProcess {
    void* process = nullptr;
    void* thread = nullptr;
  };
  virtual std::expected<CreatedProcess, NTSTATUS> CreateProcess(const ProcessRequest& request) = 0;
  // Threads of the process whose code has not ended, the caller's included.
  virtual std::size_t LiveThreads() = 0;
  // Ends every other thread of the process (NtTerminateProcess(0, ...)); returns once they have.
  virtual void TerminateOtherThreads(NTSTATUS status) = 0;
  // The thread object of a live thread by id, referenced; nullptr when there is none.
  virtual void* ThreadById(std::uint64_t id) = 0;
  // Stops another thread of the process whose suspend count was just raised (NtSuspendThread): at
  // once in its own code, or when it leaves the kernel.
  virtual void SuspendThread(std::uint64_t id) = 0;
  // Ends another thread of the process (NtTerminateThread on it); it ends at once in its own code,
  // or when it leaves the kernel.
  virtual NTSTATUS TerminateThread(std::uint64_t id, NTSTATUS status) = 0;
  // Ends the whole process from outside it (NtTerminateProcess on a handle to it); returns at once.
  virtual void TerminateProcess(NTSTATUS status) = 0;
  // Clears a TLS slot in every thread's TEB (TlsFree).
  virtual void ZeroTlsCell(ULONG index) = 0;
  // An image was mapped into the process (NtMapViewOfSection), on the thread that mapped it.
  virtual void ImageMapped(const pe::LoadedImage& image) = 0;
};

}  // namespace ntbox::nt::ps
