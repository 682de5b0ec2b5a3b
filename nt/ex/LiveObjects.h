// Kernel objects the executive keeps state for outside the driver's memory: initialized ERESOURCEs
// and lookaside lists. Freeing pool that still holds one is a verifier violation; for drivers the
// verifier does not watch, the state is dropped so the address can be used again.
#pragma once
#include <cstdint>
#include <utility>

namespace ntbox::nt::ex {

namespace detail {
template <class K, class V>
const void* KeyOf(const std::pair<const K, V>& entry) {
  return entry.first;
}
inline const void* KeyOf(const void* key) { return key; }
}  // namespace detail

// The first object of an address-ordered map or set in [begin, end), or nullptr; forget: erase
// every one there. A range lookup, so a pool free costs a search, not a walk of every object.
template <class Ordered>
const void* FirstIn(Ordered& objects, std::uint64_t begin, std::uint64_t end, bool forget) {
  using Key = typename Ordered::key_type;
  const auto first = objects.lower_bound(reinterpret_cast<Key>(begin));
  const auto last = objects.lower_bound(reinterpret_cast<Key>(end));
  if (first == last) return nullptr;
  const void* found = detail::KeyOf(*first);
  if (forget) objects.erase(first, last);
  return found;
}

// The first initialized (not deleted) object in [begin, end), or nullptr. forget: drop every one
// found there as well.
const void* LiveResourceIn(std::uint64_t begin, std::uint64_t end, bool forget);
const void* LiveLookasideIn(std::uint64_t begin, std::uint64_t end, bool forget);

}  // namespace ntbox::nt::ex
