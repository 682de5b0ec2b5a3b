// Every thread object by its id (the client id's thread half), for PsLookupThreadByThreadId,
// NtOpenThread and PsGetThreadId: a thread is listed when its object is made (program threads) or
// its host thread attaches (system threads, workers, processors), and unlisted when the object goes.
#pragma once
#include <cstdint>

#include "nt/Types.h"

namespace ntbox::nt::ps {

// Kept inside the (opaque) thread object, below the spin-lock record (ke/Thread.h).
struct ThreadIdentity {
  std::uint64_t id;
  ULONG processId;  // 0: the System process's (kernel threads)
  ULONG listed;
};
constexpr std::uint32_t kThreadIdentityOffset = 0x760;

// Lists the thread once (later calls for a listed object change nothing).
void ListThread(void* threadObject, std::uint64_t id, ULONG processId);
// The thread's identity, or nullptr when the object is not a listed thread.
const ThreadIdentity* IdentityOf(const void* threadObject);
// A referenced thread object by id, or nullptr.
void* ReferenceThreadById(std::uint64_t id);

}  // namespace ntbox::nt::ps
