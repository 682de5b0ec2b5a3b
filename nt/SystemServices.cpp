#include "nt/SystemServices.h"

#include <array>

#include "nt/cm/CmExports.h"
#include "nt/ex/ExExports.h"
#include "nt/io/DriveFile.h"
#include "nt/io/IoExports.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/KeExports.h"
#include "nt/mm/MmExports.h"
#include "nt/ob/ObExports.h"
#include "nt/ps/PsExports.h"
#include "nt/ps/ProcessLookup.h"
#include "nt/se/SeExports.h"

// uint64_t ntbox_call_service(fn /* rdi */, const uint64_t* args /* rsi */, uint64_t count /* rdx */):
// arguments 1-4 in rcx, rdx, r8, r9, the rest above 32 bytes of home space, the stack 16-byte
// aligned at the call.
asm(R"(
  .text
  .globl ntbox_call_service
  .type ntbox_call_service, @function
ntbox_call_service:
  push %rbp
  mov %rsp, %rbp
  push %rbx
  push %r12
  mov %rdi, %rax
  mov %rsi, %rbx
  mov %rdx, %r12
  mov %rdx, %rcx
  cmp $4, %rcx
  jae 1f
  mov $4, %rcx
1:
  shl $3, %rcx
  sub %rcx, %rsp
  and $-16, %rsp
  mov $4, %rcx
2:
  cmp %r12, %rcx
  jae 3f
  mov (%rbx,%rcx,8), %r10
  mov %r10, (%rsp,%rcx,8)
  inc %rcx
  jmp 2b
3:
  mov (%rbx), %rcx
  mov 8(%rbx), %rdx
  mov 16(%rbx), %r8
  mov 24(%rbx), %r9
  call *%rax
  lea -16(%rbp), %rsp
  pop %r12
  pop %rbx
  pop %rbp
  ret
  .size ntbox_call_service, .-ntbox_call_service
)");
extern "C" std::uint64_t ntbox_call_service(void* fn, const std::uint64_t* args, std::uint64_t count);

namespace ntbox::nt {
namespace {

template <class R, class... A>
constexpr std::uint8_t Arity(R(NTAPI*)(A...)) {
  static_assert(sizeof...(A) <= kMaxServiceArguments);
  return static_cast<std::uint8_t>(sizeof...(A));
}

#define NT_SERVICE(fn) SystemService{#fn, reinterpret_cast<void*>(&fn), Arity(&fn)}
// A service whose implementation carries the Zw name drivers import it by.
#define NT_SERVICE_AS(name, fn) SystemService{name, reinterpret_cast<void*>(&fn), Arity(&fn)}

// Sorted by name, as ntdll numbers them.
const auto kServices = std::to_array<SystemService>({
    NT_SERVICE(NtAdjustPrivilegesToken),
    NT_SERVICE(NtAlertThreadByThreadId),
    NT_SERVICE(NtAllocateVirtualMemory),
    NT_SERVICE(NtCancelIoFile),
    NT_SERVICE(NtCancelIoFileEx),
    NT_SERVICE(NtCancelTimer),
    NT_SERVICE(NtClearEvent),
    NT_SERVICE(NtClose),
    NT_SERVICE(NtContinue),
    NT_SERVICE(NtCreateDirectoryObject),
    NT_SERVICE(NtCreateEvent),
    NT_SERVICE(NtCreateFile),
    NT_SERVICE(NtCreateIoCompletion),
    NT_SERVICE(NtCreateKey),
    NT_SERVICE(NtCreateMutant),
    NT_SERVICE(NtCreateNamedPipeFile),
    NT_SERVICE(NtCreateSection),
    NT_SERVICE(NtCreateSemaphore),
    NT_SERVICE(NtCreateThreadEx),
    NT_SERVICE(NtCreateTimer),
    NT_SERVICE(NtCreateUserProcess),
    NT_SERVICE(NtDelayExecution),
    NT_SERVICE(NtDeleteKey),
    NT_SERVICE(NtDeleteValueKey),
    NT_SERVICE(NtDeviceIoControlFile),
    NT_SERVICE(NtDuplicateObject),
    NT_SERVICE(NtEnumerateKey),
    NT_SERVICE(NtEnumerateValueKey),
    NT_SERVICE(NtFlushKey),
    NT_SERVICE(NtFreeVirtualMemory),
    NT_SERVICE(NtFsControlFile),
    NT_SERVICE(NtGetNlsSectionPtr),
    NT_SERVICE(NtInitializeNlsFiles),
    NT_SERVICE(NtLoadDriver),
    NT_SERVICE(NtMakeTemporaryObject),
    NT_SERVICE(NtMapViewOfSection),
    NT_SERVICE(NtOpenDirectoryObject),
    NT_SERVICE(NtOpenEvent),
    NT_SERVICE(NtOpenFile),
    NT_SERVICE(NtOpenKey),
    NT_SERVICE(NtOpenKeyEx),
    NT_SERVICE(NtOpenMutant),
    NT_SERVICE(NtOpenProcess),
    NT_SERVICE(NtOpenProcessToken),
    NT_SERVICE(NtOpenProcessTokenEx),
    NT_SERVICE(NtOpenSection),
    NT_SERVICE(NtOpenSemaphore),
    NT_SERVICE(NtOpenThread),
    NT_SERVICE(NtOpenThreadToken),
    NT_SERVICE(NtOpenThreadTokenEx),
    NT_SERVICE(NtOpenTimer),
    NT_SERVICE(NtProtectVirtualMemory),
    NT_SERVICE(NtQueryAttributesFile),
    NT_SERVICE(NtQueryDefaultLocale),
    NT_SERVICE(NtQueryDefaultUILanguage),
    NT_SERVICE(NtQueryDirectoryFile),
    NT_SERVICE(NtQueryFullAttributesFile),
    NT_SERVICE(NtQueryInformationFile),
    NT_SERVICE(NtQueryInformationProcess),
    NT_SERVICE(NtQueryInformationThread),
    NT_SERVICE(NtQueryInformationToken),
    NT_SERVICE(NtQueryInstallUILanguage),
    NT_SERVICE(NtQueryKey),
    NT_SERVICE(NtQueryObject),
    NT_SERVICE(NtQueryPerformanceCounter),
    NT_SERVICE(NtQuerySection),
    NT_SERVICE(NtQuerySystemInformation),
    NT_SERVICE(NtQuerySystemTime),
    NT_SERVICE(NtQueryTimer),
    NT_SERVICE(NtQueryValueKey),
    NT_SERVICE(NtQueryVirtualMemory),
    NT_SERVICE(NtQueryVolumeInformationFile),
    NT_SERVICE(NtQueueApcThread),
    NT_SERVICE(NtRaiseException),
    NT_SERVICE(NtReadFile),
    NT_SERVICE(NtReleaseMutant),
    NT_SERVICE(NtReleaseSemaphore),
    NT_SERVICE(NtRemoveIoCompletion),
    NT_SERVICE(NtRemoveIoCompletionEx),
    NT_SERVICE(NtResetEvent),
    NT_SERVICE(NtResumeThread),
    NT_SERVICE(NtSetEvent),
    NT_SERVICE(NtSetInformationFile),
    NT_SERVICE(NtSetInformationObject),
    NT_SERVICE(NtSetInformationThread),
    NT_SERVICE(NtSetIoCompletion),
    NT_SERVICE(NtSetSecurityObject),
    NT_SERVICE(NtSetTimer),
    NT_SERVICE(NtSetValueKey),
    NT_SERVICE(NtSuspendThread),
    NT_SERVICE(NtTerminateProcess),
    NT_SERVICE(NtTerminateThread),
    NT_SERVICE(NtTestAlert),
    NT_SERVICE(NtUnloadDriver),
    NT_SERVICE(NtUnmapViewOfSection),
    NT_SERVICE(NtWaitForAlertByThreadId),
    NT_SERVICE(NtWaitForMultipleObjects),
    NT_SERVICE(NtWaitForSingleObject),
    NT_SERVICE(NtWriteFile),
    NT_SERVICE_AS("NtYieldExecution", ZwYieldExecution),
    NT_SERVICE_AS("__wine_dbg_write", WineDbgWrite),
});

}  // namespace

std::span<const SystemService> SystemServices() { return kServices; }

const SystemService* FindSystemService(std::string_view name) {
  for (const SystemService& s : kServices) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::uint64_t CallSystemService(const SystemService& service, const std::uint64_t* args) {
  return ntbox_call_service(service.function, args, service.arguments);
}

}  // namespace ntbox::nt
