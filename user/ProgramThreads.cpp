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
  space->Pin(teb);
  th.teb = reinterpret_cast<std::uint64_t>(teb);
  InitializeTeb(th.teb, th.stackTop, th.stack + kPage, th.stack);
  std::memcpy(reinterpret_cast<void*>(th.teb + kTebThreadId), &th.id, 8);
  th.startContext = WriteStartContext(th.stackTop, request.start, request.argument);
  th.control = new nt::ps::ThreadControl();
  th.control->id = th.id;
  th.control->teb = th.teb;
  th.control->processId = process_->id();
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
  nt::ps::StartUserThread(th.object);
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

void Program::SuspendThread(std::uint64_t id) {
  std::lock_guard lock(threadsMutex_);
  for (const auto& t : threads_) {
    if (t->id == id && t->running && t->kernel) cpu::RequestSuspension(*t->kernel, t->pthread);
  }
  if (mainRunning_ && runThread_ && runThread_->id == id) cpu::RequestSuspension(*runThread_, runPthread_);
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

namespace ntbox::user {

bool Program::Interrupt(std::uint32_t event) {
  std::shared_ptr<Console> console;
  {
    std::lock_guard lock(runMutex_);
    if (!ctrlHandlers_ || !console_) return false;
    console = console_;
  }
  console->Interrupt(event);
  return true;
}

// Under the kernel lock (the console's thread, or GenerateConsoleCtrlEvent's request).
void Program::StartControlThread(std::uint32_t event) {
  const auto routine = ntdll_ ? ntdll_->FindExport("__wine_ctrl_routine") : std::nullopt;
  if (!routine) return;
  if (auto thread = CreateThread({*routine, event, false, 0, 0})) nt::ob::DereferenceObject(*thread);
}

// kernelbase.dll mapped: Windows' default console control handler goes first in its list (before
// the program can add any), so the program's handlers run before it and Wine's own default (which
// ends the process with 0) never does. The registration is a user APC that runs
// SetConsoleCtrlHandler(handler, TRUE) when the thread next waits alertably: at the latest,
// ntdll's NtContinue into the program's entry, after every DLL has initialised.
void Program::ImageMapped(const pe::LoadedImage& image) {
  if (!console_ || ctrlHandlers_) return;
  // kernelbase has both; kernel32 forwards them to it.
  const auto set = image.FindExport("SetConsoleCtrlHandler");
  if (!set || !image.FindExport("CtrlRoutine")) return;
  const auto exitProcess = ntdll_->FindExport("RtlExitUserProcess");
  if (!exitProcess) return;
  // The handler: ExitProcess(STATUS_CONTROL_C_EXIT) for every event, as Windows' default.
  //   mov ecx, 0xC000013A ; mov rax, RtlExitUserProcess ; jmp rax
  std::uint8_t code[17] = {0xB9, 0x3A, 0x01, 0x00, 0xC0, 0x48, 0xB8};
  std::memcpy(code + 7, &*exitProcess, 8);
  code[15] = 0xFF;
  code[16] = 0xE0;
  auto* space = process_->space();
  std::uint64_t at = 0, size = kPage;
  if (space->AllocateVirtual(at, size, nt::mm::mem::kReserve | nt::mm::mem::kCommit, nt::mm::page::kReadWrite) != 0) {
    return;
  }
  std::memcpy(reinterpret_cast<void*>(at), code, sizeof code);
  nt::ULONG old = 0;
  (void)space->ProtectVirtual(at, size, nt::mm::page::kExecuteRead, old);
  nt::ps::QueueUserApc(nt::ke::CurrentThread()->kthread(), {*set, at, 1, 0});
  std::lock_guard lock(runMutex_);
  ctrlHandlers_ = true;
}

}  // namespace ntbox::user
