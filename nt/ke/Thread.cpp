#include "nt/ke/Thread.h"

#include "nt/ps/UserThreads.h"
#include "nt/ps/ThreadTable.h"

#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "cpu/UserMode.h"

#include "nt/ke/KeExports.h"
#include "nt/mm/AddressSpace.h"
#include "nt/mm/Pageable.h"
#include "nt/mm/Probe.h"
#include "nt/Status.h"
#include "nt/ob/Object.h"

#include <asm/prctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <new>

namespace ntbox::nt::ke {
namespace {

thread_local KernelThread* t_current = nullptr;
std::atomic<std::uint64_t> g_nextThreadId{0x100};
constexpr std::size_t kAltStackSize = 256 * 1024;

std::uint8_t* MapZeroed(std::size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::uint8_t*>(p);
}

template <class T>
void Put(std::uint8_t* block, std::uint32_t offset, T value) {
  std::memcpy(block + offset, &value, sizeof(T));
}

void SetGsBase(std::uint64_t base) { syscall(SYS_arch_prctl, ARCH_SET_GS, base); }

}  // namespace

KernelThread* CurrentThread() { return t_current; }

KernelThread* const* CurrentThreadSlot() { return &t_current; }

std::uint64_t NewThreadId() { return g_nextThreadId.fetch_add(4); }

void* CreateThreadObject() {
  void* body = ob::CreateObject(ob::ThreadType(), kThreadBlockSize);
  if (!body) throw std::bad_alloc();
  static_cast<std::uint8_t*>(body)[0] = kThreadObjectType;  // DISPATCHER_HEADER.Type
  return body;
}

void KernelThread::SetIrql(KIRQL value) {
  if (value >= DISPATCH_LEVEL && Irql() < DISPATCH_LEVEL) mm::TrimPageableMemory();
  kpcr_[kpcr::kIrql] = value;
  if (gsIrql) *gsIrql = value;
}

void KernelThread::SetInterruptsEnabled(bool enabled) {
  kpcr_[kpcr::kInterruptsDisabled] = enabled ? 0 : 1;
  if (gsIrql) gsIrql[kpcr::kInterruptsDisabled - kpcr::kIrql] = enabled ? 0 : 1;
}

void KernelThread::LeaveProgramGsBlock() {
  if (!gsIrql) return;
  // The TEB is the program's memory: read without faulting.
  (void)cpu::SafeCopy(kpcr_ + kpcr::kIrql, gsIrql, kpcr::kInterruptsDisabled - kpcr::kIrql + 1);
  gsIrql = nullptr;
}

void KernelThread::SetProcessor(std::uint32_t number) {
  processor = number;
  Put<std::uint8_t>(kpcr_, kpcr::kPrcbLegacyNumber, static_cast<std::uint8_t>(number));
  Put<std::uint32_t>(kpcr_, kpcr::kPrcbNumber, number);
  if (gsIrql) {
    // A program's thread in the kernel reads these from its TEB's swapped-in copy (user/SystemCall.cpp).
    std::uint8_t* block = gsIrql - kpcr::kIrql;
    Put<std::uint8_t>(block, kpcr::kPrcbLegacyNumber, static_cast<std::uint8_t>(number));
    Put<std::uint32_t>(block, kpcr::kPrcbNumber, number);
  }
}

KernelThread::~KernelThread() {
  if (kpcr_) munmap(kpcr_, kpcr::kBlockSize);
  if (kthread_) ob::DereferenceObject(kthread_);
  if (altStack_) munmap(altStack_, kAltStackSize);
}

ThreadAttachment::ThreadAttachment(std::uint32_t processor, void* threadObject, std::uint64_t id)
    : thread_(new KernelThread()), previous_(t_current) {
  KernelThread& t = *thread_;
  t.processor = processor;
  t.id = id ? id : NewThreadId();
  t.kpcr_ = MapZeroed(kpcr::kBlockSize);
  if (threadObject) ob::ReferenceObject(threadObject);
  t.kthread_ = static_cast<std::uint8_t*>(threadObject ? threadObject : CreateThreadObject());
  ps::ListThread(t.kthread_, t.id, 0);  // a program thread's was listed with its process when made
  const auto pcr = reinterpret_cast<std::uint64_t>(t.kpcr_);
  Put<std::uint64_t>(t.kpcr_, kpcr::kSelf, pcr);
  Put<std::uint64_t>(t.kpcr_, kpcr::kCurrentPrcb, pcr + kpcr::kPrcb);
  Put<std::uint16_t>(t.kpcr_, kpcr::kMajorVersion, 1);
  Put<std::uint16_t>(t.kpcr_, kpcr::kMinorVersion, 1);
  Put<std::uint64_t>(t.kpcr_, kpcr::kPrcbCurrentThread, reinterpret_cast<std::uint64_t>(t.kthread_));
  Put<std::uint8_t>(t.kpcr_, kpcr::kPrcbLegacyNumber, static_cast<std::uint8_t>(processor));
  Put<std::uint32_t>(t.kpcr_, kpcr::kPrcbNumber, processor);

  // The trap handler must run even when the driver overflowed its stack.
  t.altStack_ = MapZeroed(kAltStackSize);
  stack_t ss{};
  ss.ss_sp = t.altStack_;
  ss.ss_size = kAltStackSize;
  sigaltstack(&ss, nullptr);

  SetGsBase(pcr);
  cpu::RegisterHostThread(pcr, reinterpret_cast<std::uint64_t>(t.altStack_), kAltStackSize);
  t_current = &t;
}

void ThreadAttachment::UseProgramGsBlock(std::uint64_t teb) {
  constexpr std::uint32_t kTebSelf = 0x30;  // NT_TIB.Self: the TEB's own address, in both modes
  SetGsBase(teb);
  cpu::RegisterHostThread(teb, reinterpret_cast<std::uint64_t>(thread_->altStack_), kAltStackSize, kTebSelf);
}

ThreadAttachment::~ThreadAttachment() {
  t_current = previous_;
  SetGsBase(previous_ ? reinterpret_cast<std::uint64_t>(previous_->kpcr()) : 0);
  if (previous_) {
    cpu::RegisterHostThread(reinterpret_cast<std::uint64_t>(previous_->kpcr()),
                            reinterpret_cast<std::uint64_t>(previous_->altStack_), kAltStackSize);
  } else {
    cpu::UnregisterHostThread();
  }
  stack_t ss{};
  if (previous_) {
    ss.ss_sp = previous_->altStack_;
    ss.ss_size = kAltStackSize;
  } else {
    ss.ss_flags = SS_DISABLE;
  }
  sigaltstack(&ss, nullptr);
}

}  // namespace ntbox::nt::ke

namespace ntbox::nt {

NTSTATUS NTAPI NtRaiseException(PVOID ExceptionRecord, PVOID Context, BOOLEAN FirstChance) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->userGuard || !t->userExceptionDispatcher) return STATUS_NOT_IMPLEMENTED;
  std::uint8_t record[0x98];
  std::uint8_t context[0x4D0];
  if (!mm::ReadCaller(record, ExceptionRecord, sizeof record) || !mm::ReadCaller(context, Context, sizeof context)) {
    return STATUS_ACCESS_VIOLATION;
  }
  auto get = [](const std::uint8_t* from, std::size_t at, auto& value) { std::memcpy(&value, from + at, sizeof value); };
  ke::KernelThread::UserExit e{};
  e.kind = 2;  // cpu::UserExitKind::kException
  get(record, 0x00, e.code);
  get(record, 0x10, e.address);
  std::uint32_t parameters = 0;
  get(record, 0x18, parameters);
  if (e.code == static_cast<std::uint32_t>(STATUS_ACCESS_VIOLATION) && parameters >= 2) {
    std::uint64_t kind = 0;
    get(record, 0x20, kind);
    get(record, 0x28, e.faultAddress);
    e.faultWrite = kind == 1;
    e.faultAddressKnown = true;
  }
  if (!FirstChance) {
    // Nobody handled it: the program ends with it, as Windows ends the process.
    t->userExit = e;
    t->exitRequested = true;
    return STATUS_SUCCESS;
  }
  // Dispatched again from the program's KiUserExceptionDispatcher, its frame below the context's rsp.
  std::uint64_t rsp = 0;
  get(context, 0x98, rsp);
  const std::uint64_t base = cpu::WriteExceptionFrame(context, record, rsp);
  if (!base) return STATUS_ACCESS_VIOLATION;
  std::memcpy(t->continueContext, context, sizeof context);
  std::memcpy(t->continueContext + 0x98, &base, 8);
  std::memcpy(t->continueContext + 0xF8, &t->userExceptionDispatcher, 8);
  t->continuePending = true;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtContinue(PVOID Context, BOOLEAN TestAlert) {
  ke::KernelThread* t = ke::CurrentThread();
  if (!t || !t->userGuard) return STATUS_NOT_IMPLEMENTED;  // drivers have no user mode to continue
  if (!mm::ReadCaller(t->continueContext, Context, sizeof t->continueContext)) return STATUS_ACCESS_VIOLATION;
  t->continuePending = true;
  // After an APC (KiUserApcDispatcher continues alertably) the next one runs before the context.
  if (TestAlert && ps::UserApcPending()) {
    std::uint8_t resume[sizeof t->continueContext];
    std::memcpy(resume, t->continueContext, sizeof resume);
    (void)ps::DeliverUserApc(resume);
  }
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
