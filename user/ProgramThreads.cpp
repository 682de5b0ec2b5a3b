// A program's threads beyond its first: CreateThread on Wine's DLLs reaches NtCreateThreadEx, which
// asks the program (its ThreadHost) for a thread. Each runs on a host thread of its own, attached
// to the kernel with its own thread object, TEB (its GS block) and stack, and starts as Windows
// starts a thread: LdrInitializeThunk below a CONTEXT for RtlUserThreadStart(start, argument).
#include <pthread.h>

#include <algorithm>
#include <cstring>

#include "cpu/SafeCopy.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/Notify.h"
#include "user/Program.h"

namespace ntbox::user {
namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint32_t kTebThreadId = 0x48;
constexpr std::uint32_t kTebTlsSlots = 0x1480, kTebTlsExpansionSlots = 0x1780;
constexpr std::uint32_t kTlsMinimumSlots = 64, kTlsExpansionSlots = 1024;

}  // namespace

std::expected<void*, nt::NTSTATUS> Program::CreateThread(const Request& request) {
  auto* space = process_->space();
  // The stack: what the caller asks for, at least the image's reserve, a guard page below it.
  const std::uint64_t asked = std::max(request.stackReserve, request.stackCommit);
  const std::uint64_t reserve =
      (std::clamp<std::uint64_t>(std::max<std::uint64_t>(asked, image_->pe().optionalHeader().SizeOfStackReserve),
                                 256 * 1024, 64ull << 20) +
       0xFFFF) &
      ~0xFFFFull;
  void* stack = space->Allocate(reserve + kPage);
  void* teb = space->Allocate(4 * kPage);
  if (!stack || !teb) {
    if (stack) space->Free(stack);
    if (teb) space->Free(teb);
    return std::unexpected(nt::STATUS_NO_MEMORY);
  }
  space->Protect(stack, kPage, nt::mm::UserSpace::kNoAccess);
  auto thread = std::make_unique<Thread>();
  Thread& th = *thread;
  th.id = nt::ke::NewThreadId();
  th.stack = reinterpret_cast<std::uint64_t>(stack);
  th.stackTop = th.stack + kPage + reserve;
  th.teb = reinterpret_cast<std::uint64_t>(teb);
  InitializeTeb(th.teb, th.stackTop, th.stack + kPage, th.stack);
  std::memcpy(reinterpret_cast<void*>(th.teb + kTebThreadId), &th.id, 8);
  th.startContext = WriteStartContext(th.stackTop, request.start, request.argument);
  th.control = new nt::ps::ThreadControl();
  th.control->id = th.id;
  th.control->teb = th.teb;
  th.control->startAddress = request.start;
  th.control->suspendCount = request.suspended ? 1 : 0;
  th.object = nt::ps::CreateUserThreadObject(th.control);
  nt::ob::ReferenceObject(th.object);  // the caller's
  // Thread notify routines hear of it on the creating thread, as on Windows.
  nt::ps::NotifyThread(process_->id(), th.id, true);
  {
    std::lock_guard lock(threadsMutex_);
    threads_.push_back(std::move(thread));
  }
  th.host = std::thread([this, &th] { RunThread(th); });
  return th.object;
}

void Program::RunThread(Thread& th) {
  const std::uint32_t processor =
      static_cast<std::uint32_t>(th.id / 4 % nt::Kernel::Current().config().processors);
  nt::ke::ThreadAttachment attachment(processor, th.object, th.id);
  nt::ke::KernelThread& kt = attachment.thread();
  kt.process = process_.get();
  kt.previousMode = 1;  // UserMode
  attachment.UseProgramGsBlock(th.teb);
  th.frame.program = this;
  th.frame.binding = binding_.get();
  th.frame.teb = th.teb;
  SetSystemCallFrame(&th.frame);
  kt.userExceptionDispatcher = ntdll_->FindExport("KiUserExceptionDispatcher").value_or(0);
  kt.userApcDispatcher = ntdll_->FindExport("KiUserApcDispatcher").value_or(0);
  {
    std::lock_guard lock(threadsMutex_);
    th.kernel = &kt;
    th.pthread = static_cast<unsigned long>(pthread_self());
    if (th.endRequested) {
      kt.terminateCode = *th.endRequested;
      kt.terminateRequested = 1;
    }
  }
  // Created suspended: it starts when resumed (or is ended before it ever ran).
  {
    std::unique_lock lock(th.control->mutex);
    th.control->changed.wait(lock, [&] { return th.control->suspendCount == 0 || kt.terminateRequested; });
  }
  const std::uint64_t init = *ntdll_->FindExport("LdrInitializeThunk");
  cpu::UserExit exit = cpu::RunUserMode([&]() -> std::uint32_t {
    th.frame.kernelRsp = (reinterpret_cast<std::uint64_t>(__builtin_frame_address(0)) - 0x4000) & ~0xFull;
    return static_cast<std::uint32_t>(cpu::CallUser(init, th.startContext + 0x20, th.startContext));
  });
  kt.gsIrql = nullptr;
  kt.exitRequested = false;
  SetSystemCallFrame(nullptr);
  {
    std::lock_guard lock(threadsMutex_);
    th.running = false;
    th.kernel = nullptr;
    lastThreadStatus_ = exit.code;
  }
  nt::ke::WakeWaiters();  // a thread waiting in TerminateOtherThreads looks again
  switch (exit.kind) {
    case cpu::UserExitKind::kExited:
    case cpu::UserExitKind::kException:
    case cpu::UserExitKind::kMachineStopped: {
      // This thread ended the whole process.
      ProgramExit ended;
      ended.exit = exit;
      ended.exitCode = exit.kind == cpu::UserExitKind::kMachineStopped ? 0xC000040A : exit.code;
      if (exit.kind == cpu::UserExitKind::kException) ended.description = Describe(exit);
      EndProcess(ended);
      break;
    }
    default:  // the thread alone ended (ExitThread, TerminateThread, its routine returned)
      break;
  }
  const nt::ULONG pid = process_->id();
  const std::uint64_t id = th.id;
  void* object = th.object;
  const auto status = static_cast<nt::NTSTATUS>(exit.code);
  (void)gate_.Call(*process_, [pid, id, object, status] {
    nt::ps::NotifyThread(pid, id, false);
    nt::ps::EndUserThread(object, status);
  });
  kt.process = nullptr;
  nt::ob::DereferenceObject(object);
}

std::size_t Program::LiveThreads() {
  std::lock_guard lock(threadsMutex_);
  std::size_t n = mainRunning_ ? 1 : 0;
  for (const auto& t : threads_) n += t->running ? 1 : 0;
  return n;
}

void* Program::ThreadById(std::uint64_t id) {
  std::lock_guard lock(threadsMutex_);
  void* found = nullptr;
  if (mainRunning_ && runThread_ && runThread_->id == id) found = mainThreadObject_;
  for (const auto& t : threads_) {
    if (t->running && t->id == id) found = t->object;
  }
  if (found) nt::ob::ReferenceObject(found);
  return found;
}

nt::NTSTATUS Program::TerminateThread(std::uint64_t id, nt::NTSTATUS status) {
  std::lock_guard lock(threadsMutex_);
  for (const auto& t : threads_) {
    if (t->id != id || !t->running) continue;
    if (t->kernel) {
      cpu::RequestTermination(*t->kernel, t->pthread, static_cast<std::uint32_t>(status));
    } else if (!t->endRequested) {
      t->endRequested = static_cast<std::uint32_t>(status);
    }
    t->control->changed.notify_all();  // one still suspended ends without running
    return nt::STATUS_SUCCESS;
  }
  if (mainRunning_ && runThread_ && runThread_->id == id) {
    cpu::RequestTermination(*runThread_, runPthread_, static_cast<std::uint32_t>(status));
    return nt::STATUS_SUCCESS;
  }
  return nt::STATUS_SUCCESS;  // it has ended already
}

void Program::ZeroTlsCell(nt::ULONG index) {
  std::vector<std::uint64_t> tebs;
  {
    std::lock_guard lock(threadsMutex_);
    if (mainRunning_) tebs.push_back(teb_);
    for (const auto& t : threads_) {
      if (t->running) tebs.push_back(t->teb);
    }
  }
  const std::uint64_t zero = 0;
  for (const std::uint64_t teb : tebs) {
    if (index < kTlsMinimumSlots) {
      (void)cpu::SafeCopy(reinterpret_cast<void*>(teb + kTebTlsSlots + 8ull * index), &zero, 8);
    } else if (index < kTlsMinimumSlots + kTlsExpansionSlots) {
      std::uint64_t expansion = 0;
      if (cpu::SafeCopy(&expansion, reinterpret_cast<const void*>(teb + kTebTlsExpansionSlots), 8) && expansion) {
        (void)cpu::SafeCopy(reinterpret_cast<void*>(expansion + 8ull * (index - kTlsMinimumSlots)), &zero, 8);
      }
    }
  }
}

void Program::TerminateOtherThreads(nt::NTSTATUS status) { EndOtherThreads(static_cast<std::uint32_t>(status)); }

void Program::EndOtherThreads(std::uint32_t code) {
  nt::ke::KernelThread* self = nt::ke::CurrentThread();
  auto others = [&](bool request) {
    bool any = false;
    std::lock_guard lock(threadsMutex_);
    if (mainRunning_ && runThread_ && runThread_ != self) {
      any = true;
      if (request) cpu::RequestTermination(*runThread_, runPthread_, code);
    }
    for (const auto& t : threads_) {
      if (!t->running || t->kernel == self) continue;
      any = true;
      if (request) {
        if (t->kernel) {
          cpu::RequestTermination(*t->kernel, t->pthread, code);
        } else if (!t->endRequested) {
          t->endRequested = code;
        }
        t->control->changed.notify_all();
      }
    }
    return any;
  };
  // A thread in its own code ends at once; one in the kernel when it leaves (a program's waits
  // end for it); one in a driver's code when that returns. The request is repeated for those
  // that were between the check and the signal.
  while (others(true)) {
    const std::int64_t deadline = static_cast<std::int64_t>(nt::Kernel::Current().InterruptTime()) + 100 * 10000;
    if (nt::ke::WaitUntil([&] { return !others(false); }, deadline) == nt::ke::WaitOutcome::kStopped) break;
  }
}

void Program::EndProcess(const ProgramExit& exit) {
  {
    std::lock_guard lock(threadsMutex_);
    if (!processExit_) processExit_ = exit;
  }
  EndOtherThreads(exit.exitCode);
}

void Program::JoinThreads() {
  for (;;) {
    Thread* next = nullptr;
    {
      std::lock_guard lock(threadsMutex_);
      for (const auto& t : threads_) {
        if (t->host.joinable()) {
          next = t.get();
          break;
        }
      }
    }
    if (!next) break;
    next->host.join();
    // Its stack and TEB go with it (its object may live on in handles, which only read its id).
    auto* space = process_->space();
    space->Free(reinterpret_cast<void*>(next->stack));
    space->Free(reinterpret_cast<void*>(next->teb));
  }
}

}  // namespace ntbox::user
