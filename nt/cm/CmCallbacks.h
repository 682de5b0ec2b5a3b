// Registry callbacks (CmRegisterCallback(Ex)): drivers hear each registry operation before it runs
// and after, for drivers' Zw calls, programs' system calls and `ntbox reg` alike. A
// pre-notification may block the operation (an error status, which the caller gets) or handle it
// itself (STATUS_CALLBACK_BYPASS: the caller gets success; for a create or open, a key object the
// routine put in *ResultObject becomes the caller's handle, which is how a driver redirects). Post
// notifications go, in reverse altitude order, to the routines whose pre-notification let the
// operation go on; one may replace the result (ReturnStatus with STATUS_CALLBACK_BYPASS). Routines
// run at PASSIVE_LEVEL on the caller's thread, under the kernel lock.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

// REG_NOTIFY_CLASS.
enum : ULONG {
  RegNtPreDeleteKey = 0,
  RegNtPreSetValueKey = 1,
  RegNtPreDeleteValueKey = 2,
  RegNtPreEnumerateKey = 5,
  RegNtPreEnumerateValueKey = 6,
  RegNtPreQueryKey = 7,
  RegNtPreQueryValueKey = 8,
  RegNtPostDeleteKey = 15,
  RegNtPostSetValueKey = 16,
  RegNtPostDeleteValueKey = 17,
  RegNtPostEnumerateKey = 20,
  RegNtPostEnumerateValueKey = 21,
  RegNtPostQueryKey = 22,
  RegNtPostQueryValueKey = 23,
  RegNtPreCreateKeyEx = 26,
  RegNtPostCreateKeyEx = 27,
  RegNtPreOpenKeyEx = 28,
  RegNtPostOpenKeyEx = 29,
  RegNtPreFlushKey = 30,
  RegNtPostFlushKey = 31,
  RegNtCallbackObjectContextCleanup = 40,
};

struct REG_DELETE_KEY_INFORMATION {  // also REG_FLUSH_KEY_INFORMATION
  PVOID Object;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
using REG_FLUSH_KEY_INFORMATION = REG_DELETE_KEY_INFORMATION;
struct REG_SET_VALUE_KEY_INFORMATION {
  PVOID Object;
  UNICODE_STRING* ValueName;
  ULONG TitleIndex;
  ULONG Type;
  PVOID Data;
  ULONG DataSize;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(sizeof(REG_SET_VALUE_KEY_INFORMATION) == 0x40);
static_assert(offsetof(REG_SET_VALUE_KEY_INFORMATION, Data) == 0x18);
static_assert(offsetof(REG_SET_VALUE_KEY_INFORMATION, CallContext) == 0x28);
struct REG_DELETE_VALUE_KEY_INFORMATION {
  PVOID Object;
  UNICODE_STRING* ValueName;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
struct REG_ENUMERATE_KEY_INFORMATION {
  PVOID Object;
  ULONG Index;
  ULONG KeyInformationClass;
  PVOID KeyInformation;
  ULONG Length;
  ULONG* ResultLength;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(offsetof(REG_ENUMERATE_KEY_INFORMATION, KeyInformation) == 0x10);
static_assert(offsetof(REG_ENUMERATE_KEY_INFORMATION, CallContext) == 0x28);
struct REG_ENUMERATE_VALUE_KEY_INFORMATION {
  PVOID Object;
  ULONG Index;
  ULONG KeyValueInformationClass;
  PVOID KeyValueInformation;
  ULONG Length;
  ULONG* ResultLength;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(sizeof(REG_ENUMERATE_VALUE_KEY_INFORMATION) == sizeof(REG_ENUMERATE_KEY_INFORMATION));
struct REG_QUERY_KEY_INFORMATION {
  PVOID Object;
  ULONG KeyInformationClass;
  PVOID KeyInformation;
  ULONG Length;
  ULONG* ResultLength;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(offsetof(REG_QUERY_KEY_INFORMATION, CallContext) == 0x28);
struct REG_QUERY_VALUE_KEY_INFORMATION {
  PVOID Object;
  UNICODE_STRING* ValueName;
  ULONG KeyValueInformationClass;
  PVOID KeyValueInformation;
  ULONG Length;
  ULONG* ResultLength;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(offsetof(REG_QUERY_VALUE_KEY_INFORMATION, CallContext) == 0x30);
// REG_CREATE_KEY_INFORMATION_V1 (and REG_OPEN_KEY_INFORMATION_V1).
struct REG_CREATE_KEY_INFORMATION_V1 {
  UNICODE_STRING* CompleteName;
  PVOID RootObject;
  PVOID ObjectType;
  ULONG Options;
  UNICODE_STRING* Class;
  PVOID SecurityDescriptor;
  PVOID SecurityQualityOfService;
  ACCESS_MASK DesiredAccess;
  ACCESS_MASK GrantedAccess;
  ULONG* Disposition;
  PVOID* ResultObject;
  PVOID CallContext;
  PVOID RootObjectContext;
  PVOID Transaction;
  ULONG_PTR Version;
  UNICODE_STRING* RemainingName;
  ULONG Wow64Flags;
  ULONG Attributes;
  KPROCESSOR_MODE CheckAccessMode;
};
static_assert(offsetof(REG_CREATE_KEY_INFORMATION_V1, DesiredAccess) == 0x38);
static_assert(offsetof(REG_CREATE_KEY_INFORMATION_V1, ResultObject) == 0x48);
static_assert(offsetof(REG_CREATE_KEY_INFORMATION_V1, CallContext) == 0x50);
static_assert(offsetof(REG_CREATE_KEY_INFORMATION_V1, Version) == 0x68);
static_assert(sizeof(REG_CREATE_KEY_INFORMATION_V1) == 0x88);
struct REG_POST_OPERATION_INFORMATION {
  PVOID Object;
  NTSTATUS Status;
  PVOID PreInformation;
  NTSTATUS ReturnStatus;
  PVOID CallContext;
  PVOID ObjectContext;
  PVOID Reserved;
};
static_assert(sizeof(REG_POST_OPERATION_INFORMATION) == 0x38);
static_assert(offsetof(REG_POST_OPERATION_INFORMATION, PreInformation) == 0x10);
static_assert(offsetof(REG_POST_OPERATION_INFORMATION, ReturnStatus) == 0x18);
struct REG_CALLBACK_CONTEXT_CLEANUP_INFORMATION {
  PVOID Object;
  PVOID ObjectContext;
  PVOID Reserved;
};

using PEX_CALLBACK_FUNCTION = NTSTATUS(NTAPI*)(PVOID CallbackContext, PVOID Argument1, PVOID Argument2);

NTSTATUS NTAPI CmRegisterCallback(PEX_CALLBACK_FUNCTION Function, PVOID Context, LARGE_INTEGER* Cookie);
NTSTATUS NTAPI CmRegisterCallbackEx(PEX_CALLBACK_FUNCTION Function, const UNICODE_STRING* Altitude, PVOID Driver,
                                    PVOID Context, LARGE_INTEGER* Cookie, PVOID Reserved);
NTSTATUS NTAPI CmUnRegisterCallback(LARGE_INTEGER Cookie);
void NTAPI CmGetCallbackVersion(ULONG* Major, ULONG* Minor);
NTSTATUS NTAPI CmSetCallbackObjectContext(PVOID Object, LARGE_INTEGER* Cookie, PVOID NewContext, PVOID* OldContext);
NTSTATUS NTAPI CmCallbackGetKeyObjectID(LARGE_INTEGER* Cookie, PVOID Object, ULONG_PTR* ObjectID,
                                        const UNICODE_STRING** ObjectName);
NTSTATUS NTAPI CmCallbackGetKeyObjectIDEx(LARGE_INTEGER* Cookie, PVOID Object, ULONG_PTR* ObjectID,
                                          const UNICODE_STRING** ObjectName, ULONG Flags);
void NTAPI CmCallbackReleaseKeyObjectIDEx(const UNICODE_STRING* ObjectName);

namespace cm {

// One registry operation between its pre- and post-notifications. Info is the operation's
// information structure; callOffset and objectOffset locate its CallContext and ObjectContext.
class Notification {
 public:
  // object: the key object the operation is on (nullptr for a create or open).
  explicit Notification(void* object) : object_(object) {}
  // Sends the pre-notification. Returns STATUS_SUCCESS to go on; otherwise the operation does not
  // run and the caller gets the status returned (bypassed() tells a routine handled it).
  NTSTATUS Pre(ULONG notifyClass, void* info, std::size_t callOffset, std::size_t objectOffset);
  bool bypassed() const { return bypassed_; }
  // Sends the post-notification; returns the status the caller gets. object: the key the operation
  // made or opened (a create or open), else the one it was on.
  NTSTATUS Post(ULONG notifyClass, NTSTATUS status, void* object = nullptr);

 private:
  struct Called {
    const void* registration;
    PVOID callContext;
  };
  void* object_;
  void* preInfo_ = nullptr;
  bool bypassed_ = false;
  std::vector<Called> called_;
};

// Whether any routine is registered (operations skip the notifications when none is).
bool CallbacksRegistered();

// The key object is going: its per-routine contexts are cleaned up (RegNtCallbackObjectContextCleanup).
void KeyObjectDeleted(void* object);

// Registered routines whose code lies in [begin, end).
std::vector<std::uint64_t> RegistryCallbacksIn(std::uint64_t begin, std::uint64_t end);

// What the configuration manager keeps for the callbacks in each key object (ObjectID and name).
std::u16string KeyObjectName(void* object);

}  // namespace cm
}  // namespace ntbox::nt
