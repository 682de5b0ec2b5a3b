#include "nt/ps/ThreadTable.h"

#include <map>
#include <mutex>

#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/UserThreads.h"

namespace ntbox::nt::ps {
namespace {

static_assert(kThreadIdentityOffset + sizeof(ThreadIdentity) <= ke::kSpinLockRecordOffset);

std::mutex g_mutex;
std::map<std::uint64_t, void*>& Table() {
  static std::map<std::uint64_t, void*> table;
  return table;
}

ThreadIdentity* Identity(void* threadObject) {
  return reinterpret_cast<ThreadIdentity*>(static_cast<std::uint8_t*>(threadObject) + kThreadIdentityOffset);
}

// The thread type's deletion: off the table, and a program thread's control freed with it.
void Deleted(void* body) {
  if (const ThreadIdentity* identity = Identity(body); identity->listed) {
    std::lock_guard lock(g_mutex);
    if (const auto it = Table().find(identity->id); it != Table().end() && it->second == body) Table().erase(it);
  }
  delete static_cast<ThreadControl*>(ob::HeaderOf(body)->hostContext);
}

}  // namespace

void ListThread(void* threadObject, std::uint64_t id, ULONG processId) {
  static const bool hooked = [] {
    ob::ThreadType().onDelete = &Deleted;
    return true;
  }();
  (void)hooked;
  ThreadIdentity* identity = Identity(threadObject);
  if (identity->listed) return;
  *identity = ThreadIdentity{id, processId, 1};
  std::lock_guard lock(g_mutex);
  Table()[id] = threadObject;
}

const ThreadIdentity* IdentityOf(const void* threadObject) {
  ob::ObjectHeader* h = ob::HeaderOf(threadObject);
  if (!h || h->type != &ob::ThreadType()) return nullptr;
  const ThreadIdentity* identity = Identity(const_cast<void*>(threadObject));
  return identity->listed ? identity : nullptr;
}

void* ReferenceThreadById(std::uint64_t id) {
  std::lock_guard lock(g_mutex);
  const auto it = Table().find(id);
  if (it == Table().end()) return nullptr;
  // A thread whose last reference is going is no longer found.
  if (!ob::TryReferenceObject(it->second)) return nullptr;
  return it->second;
}

}  // namespace ntbox::nt::ps
