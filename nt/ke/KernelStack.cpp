// The kernel stack's limits and KeExpandKernelStackAndCallout. A host thread's stack is megabytes, where a
// Windows kernel stack is 24 KiB, so the callout runs on the stack it was called on when that has
// the room asked for; the larger stack Windows would switch to is never needed in practice.
#include "nt/ke/KernelStack.h"

#include <pthread.h>

#include "cpu/HostState.h"
#include "nt/Status.h"
#include "nt/ke/KeExports.h"

namespace ntbox::nt {
namespace ke {

StackLimits CurrentStackLimits() {
  thread_local StackLimits limits = [] {
    StackLimits l;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* base = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &base, &size) == 0) {
        l.low = reinterpret_cast<std::uint64_t>(base);
        l.high = l.low + size;
      }
      pthread_attr_destroy(&attr);
    }
    return l;
  }();
  return limits;
}

}  // namespace ke

namespace {

// KERNEL_LARGE_STACK_SIZE - PAGE_SIZE / 2 on x64.
constexpr SIZE_T kMaximumExpansionSize = 0x12000 - 0x800;

NTSTATUS ExpandAndCall(PEXPAND_STACK_CALLOUT callout, PVOID parameter, SIZE_T size) {
  if (size > kMaximumExpansionSize) return STATUS_INVALID_PARAMETER_3;
  const ke::StackLimits limits = ke::CurrentStackLimits();
  const auto here = reinterpret_cast<std::uint64_t>(__builtin_frame_address(0));
  if (limits.low != 0 && (here < limits.low || here - limits.low < size + 0x1000)) return STATUS_NO_MEMORY;
  cpu::CallDriver(callout, parameter);
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI KeExpandKernelStackAndCallout(PEXPAND_STACK_CALLOUT Callout, PVOID Parameter, SIZE_T Size) {
  return ExpandAndCall(Callout, Parameter, Size);
}

NTSTATUS NTAPI KeExpandKernelStackAndCalloutEx(PEXPAND_STACK_CALLOUT Callout, PVOID Parameter, SIZE_T Size,
                                               BOOLEAN Wait, PVOID Context) {
  (void)Wait;
  (void)Context;
  return ExpandAndCall(Callout, Parameter, Size);
}

}  // namespace ntbox::nt
