#include "nt/ps/Notify.h"

#include "cpu/HostState.h"

#include <algorithm>
#include <mutex>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/kd/Debugger.h"
#include "support/Utf16.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ps/Process.h"

namespace ntbox::nt {
namespace {

template <class R>
NTSTATUS Add(std::vector<R>& list, R routine) {
  if (!routine) return STATUS_INVALID_PARAMETER;
  std::lock_guard lock(ke::TheKernelLock());
  if (list.size() >= ps::NotifyRoutines::kMax) return STATUS_INVALID_PARAMETER;
  list.push_back(routine);
  return STATUS_SUCCESS;
}

template <class R>
NTSTATUS Remove(std::vector<R>& list, R routine) {
  std::lock_guard lock(ke::TheKernelLock());
  const auto it = std::find(list.begin(), list.end(), routine);
  if (it == list.end()) return STATUS_PROCEDURE_NOT_FOUND;
  list.erase(it);
  return STATUS_SUCCESS;
}

ps::NotifyRoutines& Routines() { return Kernel::Current().notifyRoutines(); }

HANDLE AsHandle(std::uint64_t id) { return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(id)); }

}  // namespace

NTSTATUS NTAPI PsSetCreateProcessNotifyRoutine(PCREATE_PROCESS_NOTIFY_ROUTINE NotifyRoutine, BOOLEAN Remove) {
  return Remove ? nt::Remove(Routines().process, NotifyRoutine) : Add(Routines().process, NotifyRoutine);
}

NTSTATUS NTAPI PsSetCreateProcessNotifyRoutineEx(PCREATE_PROCESS_NOTIFY_ROUTINE_EX NotifyRoutine, BOOLEAN Remove) {
  if (Remove) return nt::Remove(Routines().processEx, NotifyRoutine);
  // Windows lets only images linked with /INTEGRITYCHECK register: the rest get ACCESS_DENIED.
  if (!Kernel::Current().IntegrityChecked(reinterpret_cast<std::uint64_t>(NotifyRoutine))) return STATUS_ACCESS_DENIED;
  return Add(Routines().processEx, NotifyRoutine);
}

NTSTATUS NTAPI PsSetCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine) {
  return Add(Routines().thread, NotifyRoutine);
}

NTSTATUS NTAPI PsRemoveCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine) {
  return nt::Remove(Routines().thread, NotifyRoutine);
}

NTSTATUS NTAPI PsSetLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine) {
  return Add(Routines().image, NotifyRoutine);
}

NTSTATUS NTAPI PsRemoveLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine) {
  return nt::Remove(Routines().image, NotifyRoutine);
}

namespace ps {

std::vector<std::uint64_t> NotifyRoutines::In(std::uint64_t begin, std::uint64_t end) const {
  std::vector<std::uint64_t> out;
  auto scan = [&](const auto& list) {
    for (auto r : list) {
      const auto a = reinterpret_cast<std::uint64_t>(r);
      if (a >= begin && a < end) out.push_back(a);
    }
  };
  scan(process);
  scan(processEx);
  scan(thread);
  scan(image);
  return out;
}

NTSTATUS NotifyProcessCreate(Process& process, ULONG parentId, const std::u16string& imageName,
                             const std::u16string& commandLine) {
  // Copies: a routine may remove itself (or others) while the list is walked.
  const auto plain = Routines().process;
  const auto extended = Routines().processEx;
  for (auto r : plain) cpu::CallDriver(r, AsHandle(parentId), AsHandle(process.id()), TRUE);
  std::u16string imageCopy = imageName, commandCopy = commandLine;
  const UNICODE_STRING image = ViewOf(imageCopy);
  const UNICODE_STRING command = ViewOf(commandCopy);
  for (auto r : extended) {
    PS_CREATE_NOTIFY_INFO info{};
    info.Size = sizeof info;
    info.ParentProcessId = AsHandle(parentId);
    info.CreatingThreadId.UniqueProcess = AsHandle(parentId);
    info.ImageFileName = &image;
    info.CommandLine = &command;
    info.CreationStatus = STATUS_SUCCESS;
    cpu::CallDriver(r, process.object(), AsHandle(process.id()), &info);
    if (info.CreationStatus < 0) return info.CreationStatus;
  }
  return STATUS_SUCCESS;
}

void NotifyProcessExit(Process& process) {
  const auto plain = Routines().process;
  const auto extended = Routines().processEx;
  for (auto r : extended) cpu::CallDriver(r, process.object(), AsHandle(process.id()), nullptr);
  for (auto r : plain) cpu::CallDriver(r, nullptr, AsHandle(process.id()), FALSE);
}

void NotifyThread(ULONG processId, std::uint64_t threadId, bool create) {
  const auto routines = Routines().thread;
  for (auto r : routines) cpu::CallDriver(r, AsHandle(processId), AsHandle(threadId), create ? TRUE : FALSE);
}

void NotifyImageLoad(const std::u16string& fullName, ULONG processId, std::uint64_t base, std::uint64_t size,
                     bool systemImage) {
  // A kernel debugger hears of a program's images too (drivers' as the kernel loads them), before
  // their code runs: breakpoints set on them take effect.
  if (!systemImage && kd::Attached()) {
    kd::Debugger::Get().OnProgramImageLoad(Utf16ToUtf8(fullName), base, base + size);
  }
  const auto routines = Routines().image;
  if (routines.empty()) return;
  std::u16string name = fullName;  // routines get a writable UNICODE_STRING of their own
  UNICODE_STRING view = ViewOf(name);
  for (auto r : routines) {
    IMAGE_INFO info{};
    info.Properties = systemImage ? (1u << 8) | (1u << 9) : 0;  // SystemModeImage, ImageMappedToAllPids
    info.ImageBase = reinterpret_cast<PVOID>(base);
    info.ImageSize = size;
    cpu::CallDriver(r, &view, AsHandle(processId), &info);
  }
}

}  // namespace ps
}  // namespace ntbox::nt
