#include "user/SystemCall.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "cpu/ContextAsm.h"
#include "cpu/HostState.h"
#include "cpu/SafeCopy.h"
#include "nt/ps/UserThreads.h"
#include "cpu/UserMode.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/mm/AddressSpace.h"
#include "nt/kd/Debugger.h"
#include "nt/mm/Probe.h"
#include "user/Program.h"
#include "user/wine/SystemCalls.h"

extern "C" {
// The calling thread's frame, for the entry's assembly (initial-exec TLS through %fs).
thread_local ntbox::user::SystemCallFrame* ntbox_syscall_frame = nullptr;
std::uint64_t ntbox_system_service(ntbox::user::SystemCallFrame* frame);
void ntbox_system_call();
}

// The entry. From an ntdll thunk's `call [0x7ffe1000]`: eax = number, r10, rdx, r8, r9 = the first
// four arguments, [rsp] = the return into the thunk, [rsp+0x30] = the fifth argument. Like an
// export thunk it first puts the host's flags and segment state back if the program disturbed them
// (rcx is free: Windows' syscall convention clobbers it, and the thunk copied it to r10).
asm(R"(
  .text
  .globl ntbox_system_call
  .type ntbox_system_call, @function
ntbox_system_call:
  cld
  pushfq
  pop %r11
  test $0x40100, %r11d
  jnz 2f
  mov %fs, %r11d
  test %r11d, %r11d
  jnz 2f
  mov %gs, %r11d
  test %r11d, %r11d
  jnz 2f
1:
  mov ntbox_syscall_frame@gottpoff(%rip), %r11
  mov %fs:(%r11), %r11
  mov %rsp, 0x08(%r11)
  mov %eax, %eax
  mov %rax, 0x10(%r11)
  mov %r10, 0x18(%r11)
  mov %rdx, 0x20(%r11)
  mov %r8, 0x28(%r11)
  mov %r9, 0x30(%r11)
  mov %rsi, 0x38(%r11)
  mov %rdi, 0x40(%r11)
  movdqu %xmm6, 0x50(%r11)
  movdqu %xmm7, 0x60(%r11)
  movdqu %xmm8, 0x70(%r11)
  movdqu %xmm9, 0x80(%r11)
  movdqu %xmm10, 0x90(%r11)
  movdqu %xmm11, 0xa0(%r11)
  movdqu %xmm12, 0xb0(%r11)
  movdqu %xmm13, 0xc0(%r11)
  movdqu %xmm14, 0xd0(%r11)
  movdqu %xmm15, 0xe0(%r11)
  mov %rbx, 0xf0(%r11)
  mov %rbp, 0xf8(%r11)
  mov %r12, 0x100(%r11)
  mov %r13, 0x108(%r11)
  mov %r14, 0x110(%r11)
  mov %r15, 0x118(%r11)
  mov 0x00(%r11), %rsp
  mov %r11, %rdi
  call ntbox_system_service
  mov ntbox_syscall_frame@gottpoff(%rip), %r11
  mov %fs:(%r11), %r11
  mov 0x38(%r11), %rsi
  mov 0x40(%r11), %rdi
  movdqu 0x50(%r11), %xmm6
  movdqu 0x60(%r11), %xmm7
  movdqu 0x70(%r11), %xmm8
  movdqu 0x80(%r11), %xmm9
  movdqu 0x90(%r11), %xmm10
  movdqu 0xa0(%r11), %xmm11
  movdqu 0xb0(%r11), %xmm12
  movdqu 0xc0(%r11), %xmm13
  movdqu 0xd0(%r11), %xmm14
  movdqu 0xe0(%r11), %xmm15
  mov 0x08(%r11), %rsp
  ret
2:
  mov %r10, %rcx
  call ntbox_restore_host_state
  mov %rcx, %r10
  jmp 1b
  .size ntbox_system_call, .-ntbox_system_call
)");

// Resumes user mode with a CONTEXT (x64 layout) in host memory: MXCSR and xmm0-15, then the
// general registers, with EFlags and Rip already stored below the context's Rsp (at -16 and -8).
asm(R"(
  .text
  .globl ntbox_resume_user
  .type ntbox_resume_user, @function
ntbox_resume_user:
  ldmxcsr 0x34(%rdi)
)" NTBOX_ASM_LOAD_XMM_FROM("%rdi") R"(
  mov 0x98(%rdi), %rsp
  sub $16, %rsp
  mov 0x78(%rdi), %rax
  mov 0x80(%rdi), %rcx
  mov 0x88(%rdi), %rdx
  mov 0x90(%rdi), %rbx
  mov 0xa0(%rdi), %rbp
  mov 0xa8(%rdi), %rsi
  mov 0xb8(%rdi), %r8
  mov 0xc0(%rdi), %r9
  mov 0xc8(%rdi), %r10
  mov 0xd0(%rdi), %r11
  mov 0xd8(%rdi), %r12
  mov 0xe0(%rdi), %r13
  mov 0xe8(%rdi), %r14
  mov 0xf0(%rdi), %r15
  mov 0xb0(%rdi), %rdi
  popfq
  ret
  .size ntbox_resume_user, .-ntbox_resume_user
)");
extern "C" [[noreturn]] void ntbox_resume_user(const void* context);

namespace ntbox::user {
namespace {

// CONTEXT fields the resume reads (winnt.h's x64 layout).
constexpr std::uint32_t kContextMxCsr = 0x34, kContextEFlags = 0x44, kContextRsp = 0x98, kContextRip = 0xF8;
// Flags a program may set: CF, PF, AF, ZF, SF, DF, OF (and IF stays on).
constexpr std::uint64_t kUserFlags = 0x0CD5;

[[noreturn]] void ResumeWith(std::uint8_t* context) {
  std::uint64_t rsp, rip, eflags = 0;
  std::uint32_t mxcsr;
  std::memcpy(&rsp, context + kContextRsp, 8);
  std::memcpy(&rip, context + kContextRip, 8);
  std::memcpy(&eflags, context + kContextEFlags, 4);
  std::memcpy(&mxcsr, context + kContextMxCsr, 4);
  mxcsr &= 0xFFBF;  // reserved bits would fault the load (DAZ left out)
  std::memcpy(context + kContextMxCsr, &mxcsr, 4);
  const std::uint64_t frame[2] = {(eflags & kUserFlags) | 0x200, rip};
  if (rsp >= nt::mm::kUserProbeAddress || rsp < 16 ||
      !nt::mm::WriteCaller(reinterpret_cast<void*>(rsp - 16), frame, sizeof frame)) {
    cpu::ExitUserMode(cpu::UserExitKind::kException, static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION));
  }
  ntbox_resume_user(context);
}

constexpr std::uint32_t kSystemCallFlag = 0x308;  // bit 0: call [0x7ffe1000] instead of syscall
// The KPCR fields kernel code reads through GS (ntbox's export thunks: 0x50; drivers: 0x18, 0x20,
// 0x60, 0x184, 0x188, 0x1a4), swapped into the program's TEB while its thread is in the kernel.
constexpr std::uint32_t kSwappedFields[7] = {0x18, 0x20, 0x50, 0x60, 0x180, 0x188, 0x1a0};
constexpr std::uint32_t kTebIrql = 0x50;

std::uint8_t* g_sharedData = nullptr;  // the host's writable view of the two pages

// The kernel's time fields, current at every entry (ntdll reads the tick count and times directly):
// refreshed once per step of the coarse clock (a few ms; Windows updates them at each 15.6 ms tick),
// not with two precise clock reads on every system call.
void RefreshSharedTimes() {
  if (!g_sharedData) return;
  static std::atomic<std::int64_t> lastStep{-1};
  timespec coarse{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
  const std::int64_t step = static_cast<std::int64_t>(coarse.tv_sec) * 1000000000 + coarse.tv_nsec;
  if (lastStep.exchange(step, std::memory_order_relaxed) == step) return;
  const std::uint8_t* kernel = nt::Kernel::Current().SharedUserData();
  using namespace nt::shared_data;
  std::memcpy(g_sharedData + kInterruptTime, kernel + kInterruptTime, 12);
  std::memcpy(g_sharedData + kSystemTime, kernel + kSystemTime, 12);
  std::memcpy(g_sharedData + kTickCount, kernel + kTickCount, 12);
}

bool EnterKernel(SystemCallFrame& f, nt::ke::KernelThread& t) {
  const std::uint8_t* pcr = t.kpcr();
  for (int i = 0; i < 7; ++i) {
    const auto field = reinterpret_cast<void*>(f.teb + kSwappedFields[i]);
    std::uint64_t kernelValue;
    std::memcpy(&kernelValue, pcr + kSwappedFields[i], 8);
    if (!cpu::SafeRead64(field, f.savedTeb[i]) || !cpu::SafeWrite64(field, kernelValue)) return false;
  }
  t.gsIrql = reinterpret_cast<std::uint8_t*>(f.teb + kTebIrql);
  return true;
}

void LeaveKernel(SystemCallFrame& f, nt::ke::KernelThread& t) {
  t.LeaveProgramGsBlock();
  for (int i = 0; i < 7; ++i) {
    (void)cpu::SafeWrite64(reinterpret_cast<void*>(f.teb + kSwappedFields[i]), f.savedTeb[i]);
  }
}

void NoteUnimplemented(const std::string& name) {
  static std::mutex mutex;
  static std::set<std::string> said;
  {
    std::lock_guard lock(mutex);
    if (!said.insert(name).second) return;
  }
  nt::Kernel::Current().DebugOutput(nt::kNtboxComponent, 0,
                                    fmt::format("the system service {} is not implemented yet\n", name));
}

}  // namespace

Result<void> MapUserSharedData() {
  static std::once_flag once;
  static Result<void> result;
  std::call_once(once, [] {
    constexpr std::size_t kSize = 0x2000;
    const int fd = memfd_create("ntbox-user-shared-data", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, kSize) != 0) {
      if (fd >= 0) close(fd);
      result = Fail("cannot create the user KUSER_SHARED_DATA pages");
      return;
    }
    void* host = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void* user = mmap(reinterpret_cast<void*>(kUserSharedData), kSize, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE,
                      fd, 0);
    close(fd);
    if (host == MAP_FAILED || user != reinterpret_cast<void*>(kUserSharedData)) {
      if (user != MAP_FAILED && user != reinterpret_cast<void*>(kUserSharedData)) munmap(user, kSize);
      result = Fail("the address 0x7ffe0000, where programs find KUSER_SHARED_DATA, is taken in this process");
      return;
    }
    g_sharedData = static_cast<std::uint8_t*>(host);
    std::memcpy(g_sharedData, nt::Kernel::Current().SharedUserData(), nt::shared_data::kPageSize);
    g_sharedData[kSystemCallFlag] = 1;
    const auto entry = reinterpret_cast<std::uint64_t>(&ntbox_system_call);
    std::memcpy(g_sharedData + 0x1000, &entry, 8);
  });
  return result;
}

Result<ServiceBinding> ServiceBinding::Bind(const wine::SystemCallNumbering& numbering) {
  ServiceBinding b;
  const char* trace = std::getenv("NTBOX_TRACE_SYSCALLS");
  b.trace_ = trace && *trace && std::string_view(trace) != "0";
  b.rows_.resize(numbering.count());
  b.names_.resize(numbering.count());
  for (std::uint32_t n = 0; n < numbering.count(); ++n) {
    b.names_[n] = numbering.NameOf(n);
    const nt::SystemService* s = nt::FindSystemService(b.names_[n]);
    if (!s) continue;
    if (s->arguments * 8u != numbering.ArgumentBytes(n)) {
      return Fail(fmt::format("ntbox's {} takes {} arguments, the machine's ntdll passes {}", s->name, s->arguments,
                              numbering.ArgumentBytes(n) / 8));
    }
    b.rows_[n] = s;
  }
  return b;
}

void SetSystemCallFrame(SystemCallFrame* frame) { ntbox_syscall_frame = frame; }

namespace {

// The program's registers where its system call entered the kernel: the return into ntdll's thunk
// is at the user rsp the entry saved; the nonvolatile registers are the program's.
bool UserContextAtSystemCall(nt::CONTEXT& c) {
  const SystemCallFrame* frame = ntbox_syscall_frame;
  if (!frame || !frame->userRsp) return false;
  std::uint64_t ret = 0;
  if (!cpu::SafeCopy(&ret, reinterpret_cast<const void*>(frame->userRsp), 8)) return false;
  c = nt::CONTEXT{};
  c.Rip = ret;
  c.Rsp = frame->userRsp + 8;
  c.Rsi = frame->userRsi;
  c.Rdi = frame->userRdi;
  c.Rbx = frame->userNonvolatile[0];
  c.Rbp = frame->userNonvolatile[1];
  c.R12 = frame->userNonvolatile[2];
  c.R13 = frame->userNonvolatile[3];
  c.R14 = frame->userNonvolatile[4];
  c.R15 = frame->userNonvolatile[5];
  c.SegCs = 0x33;
  c.SegSs = 0x2B;
  return true;
}

[[maybe_unused]] const bool g_registered = (nt::kd::SetUserContextProvider(&UserContextAtSystemCall), true);

}  // namespace

void InitUserContext(std::uint8_t* context) {
  std::memset(context, 0, 0x4D0);
  auto put = [context](std::size_t at, auto value) { std::memcpy(context + at, &value, sizeof value); };
  put(0x30, std::uint32_t{0x10000B});  // CONTEXT_FULL
  put(0x34, std::uint32_t{0x1F80});    // MxCsr
  put(0x38, std::uint16_t{0x33});      // SegCs
  for (std::size_t seg = 0x3A; seg <= 0x42; seg += 2) put(seg, std::uint16_t{0x2B});  // SegDs..SegSs
  put(0x44, std::uint32_t{0x202});     // EFlags: IF (and bit 1, always set)
  put(0x100, std::uint16_t{0x27F});    // FltSave.ControlWord
  put(0x118, std::uint32_t{0x1F80});   // FltSave.MxCsr
}

void ReturnContext(const SystemCallFrame& f, std::uint64_t status, std::uint8_t* context) {
  InitUserContext(context);
  auto put = [context](std::size_t at, auto value) { std::memcpy(context + at, &value, sizeof value); };
  std::uint64_t returnAddress = 0;
  (void)cpu::SafeCopy(&returnAddress, reinterpret_cast<const void*>(f.userRsp), 8);
  put(0x78, status);                               // Rax
  put(0x90, f.userNonvolatile[0]);                 // Rbx
  put(0x98, f.userRsp + 8);                        // Rsp: past the return address
  put(0xA0, f.userNonvolatile[1]);                 // Rbp
  put(0xA8, f.userRsi);
  put(0xB0, f.userRdi);
  for (int i = 0; i < 4; ++i) put(0xD8 + 8 * i, f.userNonvolatile[2 + i]);  // R12-R15
  put(0xF8, returnAddress);                        // Rip: into ntdll's thunk, which returns
  std::memcpy(context + 0x200, f.userXmm, sizeof f.userXmm);  // Xmm6-Xmm15
}

}  // namespace ntbox::user

std::uint64_t ntbox_system_service(ntbox::user::SystemCallFrame* frame) {
  using namespace ntbox;
  user::SystemCallFrame& f = *frame;
  nt::ke::KernelThread& t = *nt::ke::CurrentThread();
  const auto number = static_cast<std::uint32_t>(f.number);
  const nt::SystemService* service = f.binding->Find(number);
  if (!service) {
    if (number < f.binding->size()) user::NoteUnimplemented(f.binding->NameOf(number));
    if (f.binding->trace()) std::fprintf(stderr, "ntbox: syscall %#x: not implemented\n", number);
    return static_cast<std::uint32_t>(number < f.binding->size() ? nt::STATUS_NOT_IMPLEMENTED
                                                                  : nt::STATUS_INVALID_SYSTEM_SERVICE);
  }
  std::uint64_t args[nt::kMaxServiceArguments] = {};
  std::memcpy(args, f.args, sizeof f.args);
  if (service->arguments > 4 &&
      !cpu::SafeCopy(&args[4], reinterpret_cast<const void*>(f.userRsp + 0x30), 8u * (service->arguments - 4))) {
    return static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION);
  }
  if (!user::EnterKernel(f, t)) {
    user::LeaveKernel(f, t);
    cpu::ExitUserMode(cpu::UserExitKind::kException, static_cast<std::uint32_t>(nt::STATUS_ACCESS_VIOLATION));
  }
  user::RefreshSharedTimes();
  std::uint64_t status = static_cast<std::uint32_t>(nt::STATUS_INTERNAL_ERROR);
  f.program->Syscall([&] { status = nt::CallSystemService(*service, args); });
  user::LeaveKernel(f, t);
  if (f.binding->trace()) {
    std::fprintf(stderr, "ntbox: %s(%#lx, %#lx, %#lx, %#lx) = %#lx\n", service->name.data(), args[0], args[1], args[2],
                 args[3], status);
  }
  if (t.exitRequested) {
    t.exitRequested = false;
    cpu::ExitUserModeAsRecorded();
  }
  // An alertable wait an APC ended: the APC runs now, in KiUserApcDispatcher, which then continues
  // to this return.
  if (static_cast<std::uint32_t>(status) == static_cast<std::uint32_t>(nt::STATUS_USER_APC) && !t.continuePending &&
      nt::ps::UserApcPending()) {
    std::uint8_t resume[0x4D0];
    user::ReturnContext(f, status, resume);
    (void)nt::ps::DeliverUserApc(resume);
  }
  if (t.continuePending) {
    t.continuePending = false;
    user::ResumeWith(t.continueContext);
  }
  return static_cast<std::uint32_t>(status);
}
