// Kernel objects the executive keeps state for outside the driver's memory: initialized ERESOURCEs
// and lookaside lists. Freeing pool that still holds one is a verifier violation; for drivers the
// verifier does not watch, the state is dropped so the address can be used again.
#pragma once
#include <cstdint>

namespace ntbox::nt::ex {

// The first initialized (not deleted) object in [begin, end), or nullptr. forget: drop every one
// found there as well.
const void* LiveResourceIn(std::uint64_t begin, std::uint64_t end, bool forget);
const void* LiveLookasideIn(std::uint64_t begin, std::uint64_t end, bool forget);

}  // namespace ntbox::nt::ex
