#include "nt/cm/CmCallbacks.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cpu/HostState.h"
#include "nt/Status.h"
#include "nt/ex/PoolExports.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ob/Object.h"
#include "nt/support/Altitude.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

constexpr NTSTATUS STATUS_CALLBACK_BYPASS = static_cast<NTSTATUS>(0xC0000503);
constexpr NTSTATUS STATUS_FLT_INSTANCE_ALTITUDE_COLLISION = static_cast<NTSTATUS>(0xC01C0011);
constexpr ULONG kNameTag = 0x434F624E;  // "NbOC": the names CmCallbackGetKeyObjectIDEx hands out

struct Registration {
  PEX_CALLBACK_FUNCTION function;
  PVOID context;
  long double altitude;
  std::int64_t cookie;
};

// Highest altitude first; everything here changes under the kernel lock.
std::vector<std::unique_ptr<Registration>> g_registrations;
std::int64_t g_nextCookie = 0x1000;
// Contexts routines attached to key objects (CmSetCallbackObjectContext).
std::map<std::pair<const void*, std::int64_t>, PVOID> g_objectContexts;
// The names CmCallbackGetKeyObjectID hands out, each living as long as its key object.
std::map<const void*, std::pair<std::u16string, UNICODE_STRING>> g_objectNames;

Registration* ByCookie(std::int64_t cookie) {
  for (const auto& r : g_registrations) {
    if (r->cookie == cookie) return r.get();
  }
  return nullptr;
}

NTSTATUS Add(PEX_CALLBACK_FUNCTION function, long double altitude, PVOID context, LARGE_INTEGER* cookie) {
  if (!function || !cookie) return STATUS_INVALID_PARAMETER;
  std::lock_guard lock(ke::TheKernelLock());
  // Windows keeps at most 100 registry callbacks; so does ntbox (a driver registering in a loop).
  if (g_registrations.size() >= 100) return STATUS_INSUFFICIENT_RESOURCES;
  for (const auto& r : g_registrations) {
    if (r->altitude == altitude) return STATUS_FLT_INSTANCE_ALTITUDE_COLLISION;
  }
  auto r = std::make_unique<Registration>(Registration{function, context, altitude, g_nextCookie++});
  cookie->QuadPart = r->cookie;
  const auto at = std::find_if(g_registrations.begin(), g_registrations.end(),
                               [&](const auto& other) { return other->altitude < altitude; });
  g_registrations.insert(at, std::move(r));
  return STATUS_SUCCESS;
}

void CleanUp(const Registration& r, const void* object, PVOID objectContext) {
  REG_CALLBACK_CONTEXT_CLEANUP_INFORMATION info{const_cast<void*>(object), objectContext, nullptr};
  cpu::CallDriver(r.function, r.context, reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(RegNtCallbackObjectContextCleanup)),
                  &info);
}

PVOID ObjectContextOf(const void* object, const Registration& r) {
  const auto it = g_objectContexts.find({object, r.cookie});
  return it == g_objectContexts.end() ? nullptr : it->second;
}

template <class T>
T& At(void* info, std::size_t offset) {
  return *reinterpret_cast<T*>(static_cast<std::uint8_t*>(info) + offset);
}

}  // namespace

NTSTATUS NTAPI CmRegisterCallback(PEX_CALLBACK_FUNCTION Function, PVOID Context, LARGE_INTEGER* Cookie) {
  // Without an altitude a routine goes below every one that has one, each newer lower still.
  long double lowest = 0;
  for (const auto& r : g_registrations) lowest = std::min(lowest, r->altitude);
  return Add(Function, lowest - 1, Context, Cookie);
}

NTSTATUS NTAPI CmRegisterCallbackEx(PEX_CALLBACK_FUNCTION Function, const UNICODE_STRING* Altitude, PVOID Driver,
                                    PVOID Context, LARGE_INTEGER* Cookie, PVOID Reserved) {
  (void)Reserved;
  if (!Driver || !Altitude || !Altitude->Buffer || Altitude->Length % 2) return STATUS_INVALID_PARAMETER;
  const auto altitude = ParseAltitude(std::u16string_view(Altitude->Buffer, Altitude->Length / 2));
  if (!altitude) return STATUS_INVALID_PARAMETER;
  return Add(Function, *altitude, Context, Cookie);
}

NTSTATUS NTAPI CmUnRegisterCallback(LARGE_INTEGER Cookie) {
  std::lock_guard lock(ke::TheKernelLock());
  const auto it = std::find_if(g_registrations.begin(), g_registrations.end(),
                               [&](const auto& r) { return r->cookie == Cookie.QuadPart; });
  if (it == g_registrations.end()) return STATUS_INVALID_PARAMETER;
  std::unique_ptr<Registration> r = std::move(*it);
  g_registrations.erase(it);
  // Every context the routine attached is cleaned up before it goes.
  for (auto c = g_objectContexts.begin(); c != g_objectContexts.end();) {
    if (c->first.second != r->cookie) {
      ++c;
      continue;
    }
    CleanUp(*r, c->first.first, c->second);
    c = g_objectContexts.erase(c);
  }
  return STATUS_SUCCESS;
}

void NTAPI CmGetCallbackVersion(ULONG* Major, ULONG* Minor) {
  if (Major) *Major = 1;
  if (Minor) *Minor = 1;
}

NTSTATUS NTAPI CmSetCallbackObjectContext(PVOID Object, LARGE_INTEGER* Cookie, PVOID NewContext, PVOID* OldContext) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  if (!h || h->type != &ob::KeyType() || !Cookie || !ByCookie(Cookie->QuadPart)) return STATUS_INVALID_PARAMETER;
  PVOID& slot = g_objectContexts[{Object, Cookie->QuadPart}];
  if (OldContext) *OldContext = slot;
  slot = NewContext;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI CmCallbackGetKeyObjectIDEx(LARGE_INTEGER* Cookie, PVOID Object, ULONG_PTR* ObjectID,
                                          const UNICODE_STRING** ObjectName, ULONG Flags) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  if (Flags != 0 || !Cookie || !ByCookie(Cookie->QuadPart) || !h || h->type != &ob::KeyType()) {
    return STATUS_INVALID_PARAMETER;
  }
  const std::u16string name = cm::KeyObjectName(Object);
  // The same key through any object has the same id, as Windows' key control block gives.
  if (ObjectID) *ObjectID = std::hash<std::u16string>{}(ob::UpcaseName(name)) | 1;
  if (ObjectName) {
    const std::size_t bytes = name.size() * 2;
    auto* s = static_cast<UNICODE_STRING*>(ExAllocatePoolWithTag(PagedPool, sizeof(UNICODE_STRING) + bytes + 2, kNameTag));
    if (!s) return STATUS_INSUFFICIENT_RESOURCES;
    auto* buffer = reinterpret_cast<WCHAR*>(s + 1);
    std::memcpy(buffer, name.data(), bytes);
    buffer[name.size()] = 0;
    *s = UNICODE_STRING{static_cast<USHORT>(bytes), static_cast<USHORT>(bytes + 2), buffer};
    *ObjectName = s;
  }
  return STATUS_SUCCESS;
}

void NTAPI CmCallbackReleaseKeyObjectIDEx(const UNICODE_STRING* ObjectName) {
  if (ObjectName) ExFreePoolWithTag(const_cast<UNICODE_STRING*>(ObjectName), kNameTag);
}

// The older form: the name lives as long as the object does.
NTSTATUS NTAPI CmCallbackGetKeyObjectID(LARGE_INTEGER* Cookie, PVOID Object, ULONG_PTR* ObjectID,
                                        const UNICODE_STRING** ObjectName) {
  ob::ObjectHeader* h = ob::HeaderOf(Object);
  if (!Cookie || !ByCookie(Cookie->QuadPart) || !h || h->type != &ob::KeyType()) return STATUS_INVALID_PARAMETER;
  const NTSTATUS s = CmCallbackGetKeyObjectIDEx(Cookie, Object, ObjectID, nullptr, 0);
  if (!NT_SUCCESS(s) || !ObjectName) return s;
  auto& [text, view] = g_objectNames[Object];
  text = cm::KeyObjectName(Object);
  view = UNICODE_STRING{static_cast<USHORT>(text.size() * 2), static_cast<USHORT>(text.size() * 2), text.data()};
  *ObjectName = &view;
  return STATUS_SUCCESS;
}

namespace cm {

bool CallbacksRegistered() { return !g_registrations.empty(); }

NTSTATUS Notification::Pre(ULONG notifyClass, void* info, std::size_t callOffset, std::size_t objectOffset) {
  preInfo_ = info;
  // A copy: a routine may register or unregister while they are walked.
  std::vector<const Registration*> routines;
  for (const auto& r : g_registrations) routines.push_back(r.get());
  for (const Registration* r : routines) {
    if (!ByCookie(r->cookie)) continue;
    At<PVOID>(info, callOffset) = nullptr;
    At<PVOID>(info, objectOffset) = object_ ? ObjectContextOf(object_, *r) : nullptr;
    const NTSTATUS status =
        cpu::CallDriver(r->function, r->context, reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(notifyClass)), info);
    if (status == STATUS_CALLBACK_BYPASS) {
      bypassed_ = true;
      return STATUS_SUCCESS;
    }
    if (!NT_SUCCESS(status)) return status;
    called_.push_back(Called{r, At<PVOID>(info, callOffset)});
  }
  return STATUS_SUCCESS;
}

NTSTATUS Notification::Post(ULONG notifyClass, NTSTATUS status, void* object) {
  void* target = object ? object : object_;
  for (auto it = called_.rbegin(); it != called_.rend(); ++it) {
    const auto* r = static_cast<const Registration*>(it->registration);
    if (!ByCookie(r->cookie)) continue;
    REG_POST_OPERATION_INFORMATION info{target,  status, preInfo_, status, it->callContext,
                                        target ? ObjectContextOf(target, *r) : nullptr, nullptr};
    const NTSTATUS answer =
        cpu::CallDriver(r->function, r->context, reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(notifyClass)), &info);
    if (answer == STATUS_CALLBACK_BYPASS) status = info.ReturnStatus;  // the routine changed the result
  }
  called_.clear();
  return status;
}

void KeyObjectDeleted(void* object) {
  g_objectNames.erase(object);
  for (auto c = g_objectContexts.begin(); c != g_objectContexts.end();) {
    if (c->first.first != object) {
      ++c;
      continue;
    }
    if (const Registration* r = ByCookie(c->first.second)) CleanUp(*r, object, c->second);
    c = g_objectContexts.erase(c);
  }
}

std::vector<std::uint64_t> RegistryCallbacksIn(std::uint64_t begin, std::uint64_t end) {
  std::vector<std::uint64_t> out;
  for (const auto& r : g_registrations) {
    const auto a = reinterpret_cast<std::uint64_t>(r->function);
    if (a >= begin && a < end) out.push_back(a);
  }
  return out;
}

}  // namespace cm
}  // namespace ntbox::nt
