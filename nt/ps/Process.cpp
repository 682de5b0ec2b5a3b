#include "nt/ps/Process.h"

#include <atomic>

#include "nt/Kernel.h"
#include "nt/ke/Thread.h"
#include "nt/ps/PsExports.h"
#include "nt/Status.h"

namespace ntbox::nt::ps {
namespace {

std::atomic<ULONG> g_nextId{0x100};

}  // namespace

Process::Process(std::string imageName, ULONG id, std::unique_ptr<mm::UserSpace> space)
    : imageName_(std::move(imageName)), id_(id), space_(std::move(space)) {
  object_ = ob::CreateObject(ob::ProcessType(), kProcessObjectSize, this);
}

Result<std::unique_ptr<Process>> Process::Create(std::string imageName) {
  auto space = mm::UserSpace::Create();
  if (!space) return std::unexpected(space.error());
  return std::unique_ptr<Process>(new Process(std::move(imageName), g_nextId.fetch_add(4), std::move(*space)));
}

std::unique_ptr<Process> Process::CreateSystem() { return std::unique_ptr<Process>(new Process("System", 4, nullptr)); }

Process* Process::FromObject(const void* body) {
  ob::ObjectHeader* h = ob::HeaderOf(body);
  return h && h->type == &ob::ProcessType() ? static_cast<Process*>(h->hostContext) : nullptr;
}

void Process::CloseAllHandles() {
  for (const auto& entry : handles_.RemoveAll()) ob::CloseHandleEntry(entry);
}

Process& CurrentProcess() {
  ke::KernelThread* t = ke::CurrentThread();
  return t && t->process ? *t->process : Kernel::Current().systemProcess();
}

Process::~Process() {
  CloseAllHandles();
  if (ob::ObjectHeader* h = ob::HeaderOf(object_)) h->hostContext = nullptr;
  ob::DereferenceObject(object_);
}

}  // namespace ntbox::nt::ps

namespace ntbox::nt {

NTSTATUS NTAPI NtTerminateProcess(HANDLE ProcessHandle, NTSTATUS ExitStatus) {
  const auto handle = reinterpret_cast<std::intptr_t>(ProcessHandle);
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->userGuard || !t->process) return STATUS_ACCESS_DENIED;  // the System process does not end
  if (handle == 0) return STATUS_SUCCESS;
  if (handle != -1) return STATUS_NOT_IMPLEMENTED;
  t->userExit = {};
  t->userExit.kind = 1;  // cpu::UserExitKind::kExited
  t->userExit.code = static_cast<std::uint32_t>(ExitStatus);
  t->exitRequested = true;
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
