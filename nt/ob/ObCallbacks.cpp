#include "nt/ob/ObCallbacks.h"

#include <algorithm>
#include <memory>

#include "cpu/HostState.h"
#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ob/Object.h"
#include "nt/support/Altitude.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

constexpr NTSTATUS STATUS_FLT_INSTANCE_ALTITUDE_COLLISION = static_cast<NTSTATUS>(0xC01C0011);

struct Entry {
  ob::ObjectType* type;
  ULONG operations;
  POB_PRE_OPERATION_CALLBACK pre;
  POB_POST_OPERATION_CALLBACK post;
};

// What the registration handle points at.
struct Registration {
  std::u16string altitude;
  long double rank;  // the altitude as a number: "321000.5" ranks above "321000"
  PVOID context;
  std::vector<Entry> entries;
};

// Highest altitude first; under the kernel lock.
std::vector<std::unique_ptr<Registration>> g_registrations;

// The object types that have callbacks: processes and threads.
ob::ObjectType* CallbackType(PVOID* exported) {
  if (!exported) return nullptr;
  auto* type = static_cast<ob::ObjectType*>(*exported);
  return type == &ob::ProcessType() || type == &ob::ThreadType() ? type : nullptr;
}

bool InSignedImage(const void* routine) {
  return Kernel::Current().IntegrityChecked(reinterpret_cast<std::uint64_t>(routine));
}

}  // namespace

NTSTATUS NTAPI ObRegisterCallbacks(OB_CALLBACK_REGISTRATION* CallbackRegistration, PVOID* RegistrationHandle) {
  if (!CallbackRegistration || !RegistrationHandle) return STATUS_INVALID_PARAMETER;
  *RegistrationHandle = nullptr;
  const OB_CALLBACK_REGISTRATION& r = *CallbackRegistration;
  if (r.Version != OB_FLT_REGISTRATION_VERSION || r.OperationRegistrationCount == 0 || !r.OperationRegistration) {
    return STATUS_INVALID_PARAMETER;
  }
  auto registration = std::make_unique<Registration>();
  registration->altitude = std::u16string(r.Altitude.Buffer ? r.Altitude.Buffer : u"", r.Altitude.Length / 2);
  const auto rank = ParseAltitude(registration->altitude);
  if (!rank) return STATUS_INVALID_PARAMETER;
  registration->rank = *rank;
  registration->context = r.RegistrationContext;
  for (USHORT i = 0; i < r.OperationRegistrationCount; ++i) {
    const OB_OPERATION_REGISTRATION& o = r.OperationRegistration[i];
    ob::ObjectType* type = CallbackType(o.ObjectType);
    const ULONG known = OB_OPERATION_HANDLE_CREATE | OB_OPERATION_HANDLE_DUPLICATE;
    if (!type || o.Operations == 0 || (o.Operations & ~known) || (!o.PreOperation && !o.PostOperation)) {
      return STATUS_INVALID_PARAMETER;
    }
    // Only images linked with /INTEGRITYCHECK may filter handles, as on Windows.
    if (!InSignedImage(reinterpret_cast<void*>(o.PreOperation)) ||
        !InSignedImage(reinterpret_cast<void*>(o.PostOperation))) {
      return STATUS_ACCESS_DENIED;
    }
    registration->entries.push_back(Entry{type, o.Operations, o.PreOperation, o.PostOperation});
  }
  std::lock_guard lock(ke::TheKernelLock());
  // Bounded, as every callback list of the kernel is (a driver registering in a loop).
  if (g_registrations.size() >= 64) return STATUS_INSUFFICIENT_RESOURCES;
  for (const auto& other : g_registrations) {
    if (other->rank == registration->rank) return STATUS_FLT_INSTANCE_ALTITUDE_COLLISION;
  }
  *RegistrationHandle = registration.get();
  const auto at = std::find_if(g_registrations.begin(), g_registrations.end(),
                               [&](const auto& other) { return other->rank < registration->rank; });
  g_registrations.insert(at, std::move(registration));
  return STATUS_SUCCESS;
}

void NTAPI ObUnRegisterCallbacks(PVOID RegistrationHandle) {
  std::lock_guard lock(ke::TheKernelLock());
  std::erase_if(g_registrations, [&](const auto& r) { return r.get() == RegistrationHandle; });
}

USHORT NTAPI ObGetFilterVersion() { return OB_FLT_REGISTRATION_VERSION; }

namespace ob {

HandleOperation::HandleOperation(ULONG operation, void* object, ACCESS_MASK desired, bool kernelHandle,
                                 void* sourceProcess, void* targetProcess)
    : operation_(operation), object_(object), kernelHandle_(kernelHandle), access_(desired) {
  if (g_registrations.empty()) return;
  ObjectHeader* h = HeaderOf(object);
  if (!h || (h->type != &ProcessType() && h->type != &ThreadType())) return;
  type_ = h->type;
  // A copy: a routine may register or unregister while they are walked.
  std::vector<std::pair<const Registration*, Entry>> routines;
  for (const auto& r : g_registrations) {
    for (const Entry& e : r->entries) {
      if (e.type == h->type && (e.operations & operation)) routines.emplace_back(r.get(), e);
    }
  }
  for (const auto& [registration, entry] : routines) {
    OB_PRE_OPERATION_PARAMETERS parameters{};
    if (operation == OB_OPERATION_HANDLE_DUPLICATE) {
      parameters.DuplicateHandleInformation = {access_, desired, sourceProcess, targetProcess};
    } else {
      parameters.CreateHandleInformation = {access_, desired};
    }
    OB_PRE_OPERATION_INFORMATION info{operation, kernelHandle ? 1u : 0u, object, type_, nullptr, &parameters};
    if (entry.pre) {
      cpu::CallDriver(entry.pre, registration->context, &info);
      // Rights can only be taken away.
      access_ &= parameters.CreateHandleInformation.DesiredAccess;
    }
    called_.push_back(Called{registration, entry.post, registration->context, info.CallContext});
  }
}

void HandleOperation::Finish(NTSTATUS status, ACCESS_MASK granted) {
  for (auto it = called_.rbegin(); it != called_.rend(); ++it) {
    if (!it->post) continue;
    OB_POST_OPERATION_PARAMETERS parameters{};
    parameters.CreateHandleInformation.GrantedAccess = NT_SUCCESS(status) ? granted : 0;
    OB_POST_OPERATION_INFORMATION info{operation_, kernelHandle_ ? 1u : 0u, object_, type_, it->callContext, status,
                                       &parameters};
    cpu::CallDriver(it->post, it->context, &info);
  }
  called_.clear();
}

std::vector<std::uint64_t> ObjectCallbacksIn(std::uint64_t begin, std::uint64_t end) {
  std::vector<std::uint64_t> out;
  for (const auto& r : g_registrations) {
    for (const Entry& e : r->entries) {
      for (const auto a : {reinterpret_cast<std::uint64_t>(e.pre), reinterpret_cast<std::uint64_t>(e.post)}) {
        if (a >= begin && a < end) out.push_back(a);
      }
    }
  }
  return out;
}

}  // namespace ob
}  // namespace ntbox::nt
