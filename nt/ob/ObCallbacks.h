// Object callbacks (ObRegisterCallbacks): drivers' pre- and post-operation routines for handles to
// processes and threads being created (OpenProcess, OpenThread, CreateProcess's handles,
// ObOpenObjectByPointer) or duplicated. A pre-operation routine may take rights out of the access
// asked for, never add them; the handle gets what is left. Routines run in altitude order, highest
// first before the operation and in reverse after it, at PASSIVE_LEVEL under the kernel lock.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

constexpr USHORT OB_FLT_REGISTRATION_VERSION = 0x0100;
constexpr ULONG OB_OPERATION_HANDLE_CREATE = 1, OB_OPERATION_HANDLE_DUPLICATE = 2;

struct OB_PRE_OPERATION_INFORMATION;
struct OB_POST_OPERATION_INFORMATION;
using POB_PRE_OPERATION_CALLBACK = ULONG(NTAPI*)(PVOID RegistrationContext, OB_PRE_OPERATION_INFORMATION* Info);
using POB_POST_OPERATION_CALLBACK = void(NTAPI*)(PVOID RegistrationContext, OB_POST_OPERATION_INFORMATION* Info);

struct OB_OPERATION_REGISTRATION {
  PVOID* ObjectType;  // &PsProcessType or &PsThreadType (what the data exports hold)
  ULONG Operations;
  POB_PRE_OPERATION_CALLBACK PreOperation;
  POB_POST_OPERATION_CALLBACK PostOperation;
};
static_assert(sizeof(OB_OPERATION_REGISTRATION) == 0x20);
static_assert(offsetof(OB_OPERATION_REGISTRATION, PreOperation) == 0x10);

struct OB_CALLBACK_REGISTRATION {
  USHORT Version;
  USHORT OperationRegistrationCount;
  UNICODE_STRING Altitude;
  PVOID RegistrationContext;
  OB_OPERATION_REGISTRATION* OperationRegistration;
};
static_assert(sizeof(OB_CALLBACK_REGISTRATION) == 0x28);
static_assert(offsetof(OB_CALLBACK_REGISTRATION, Altitude) == 0x8);
static_assert(offsetof(OB_CALLBACK_REGISTRATION, RegistrationContext) == 0x18);
static_assert(offsetof(OB_CALLBACK_REGISTRATION, OperationRegistration) == 0x20);

struct OB_PRE_CREATE_HANDLE_INFORMATION {
  ACCESS_MASK DesiredAccess;
  ACCESS_MASK OriginalDesiredAccess;
};
struct OB_PRE_DUPLICATE_HANDLE_INFORMATION {
  ACCESS_MASK DesiredAccess;
  ACCESS_MASK OriginalDesiredAccess;
  PVOID SourceProcess;
  PVOID TargetProcess;
};
static_assert(sizeof(OB_PRE_DUPLICATE_HANDLE_INFORMATION) == 0x18);
union OB_PRE_OPERATION_PARAMETERS {
  OB_PRE_CREATE_HANDLE_INFORMATION CreateHandleInformation;
  OB_PRE_DUPLICATE_HANDLE_INFORMATION DuplicateHandleInformation;
};

struct OB_PRE_OPERATION_INFORMATION {
  ULONG Operation;
  ULONG Flags;  // KernelHandle:1
  PVOID Object;
  PVOID ObjectType;
  PVOID CallContext;
  OB_PRE_OPERATION_PARAMETERS* Parameters;
};
static_assert(sizeof(OB_PRE_OPERATION_INFORMATION) == 0x28);
static_assert(offsetof(OB_PRE_OPERATION_INFORMATION, Object) == 0x8);
static_assert(offsetof(OB_PRE_OPERATION_INFORMATION, CallContext) == 0x18);
static_assert(offsetof(OB_PRE_OPERATION_INFORMATION, Parameters) == 0x20);

union OB_POST_OPERATION_PARAMETERS {
  struct {
    ACCESS_MASK GrantedAccess;
  } CreateHandleInformation, DuplicateHandleInformation;
};

struct OB_POST_OPERATION_INFORMATION {
  ULONG Operation;
  ULONG Flags;
  PVOID Object;
  PVOID ObjectType;
  PVOID CallContext;
  NTSTATUS ReturnStatus;
  OB_POST_OPERATION_PARAMETERS* Parameters;
};
static_assert(sizeof(OB_POST_OPERATION_INFORMATION) == 0x30);
static_assert(offsetof(OB_POST_OPERATION_INFORMATION, ReturnStatus) == 0x20);
static_assert(offsetof(OB_POST_OPERATION_INFORMATION, Parameters) == 0x28);

NTSTATUS NTAPI ObRegisterCallbacks(OB_CALLBACK_REGISTRATION* CallbackRegistration, PVOID* RegistrationHandle);
void NTAPI ObUnRegisterCallbacks(PVOID RegistrationHandle);
USHORT NTAPI ObGetFilterVersion();

namespace ob {

// One handle operation on a process or thread, between its pre- and post-callbacks.
class HandleOperation {
 public:
  // Runs the pre-operation routines; access() is then what the handle may have.
  HandleOperation(ULONG operation, void* object, ACCESS_MASK desired, bool kernelHandle, void* sourceProcess = nullptr,
                  void* targetProcess = nullptr);
  ACCESS_MASK access() const { return access_; }
  // Runs the post-operation routines with the outcome.
  void Finish(NTSTATUS status, ACCESS_MASK granted);

 private:
  struct Called {
    const void* registration;
    POB_POST_OPERATION_CALLBACK post;
    PVOID context;
    PVOID callContext;
  };
  ULONG operation_;
  void* object_;
  void* type_ = nullptr;
  bool kernelHandle_;
  ACCESS_MASK access_;
  std::vector<Called> called_;
};

// Registered routines whose code lies in [begin, end) (a driver unloading with them registered).
std::vector<std::uint64_t> ObjectCallbacksIn(std::uint64_t begin, std::uint64_t end);

}  // namespace ob
}  // namespace ntbox::nt
