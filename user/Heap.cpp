#include "user/Heap.h"

#include <algorithm>
#include <cstring>

namespace ntbox::user {
namespace {

constexpr std::uint64_t kArenaSize = 64ull << 20;
constexpr std::uint64_t kLive = 0x6C6976656E746278ull;   // live small block
constexpr std::uint64_t kLarge = 0x6C617267656E7462ull;  // live large block
constexpr std::uint64_t kFreed = 0x667265656E746278ull;

std::uint64_t Seal(const void* header, std::uint64_t kind) { return kind ^ reinterpret_cast<std::uint64_t>(header); }

}  // namespace

int Heap::ClassOf(std::size_t size) {
  if (size <= 512) return static_cast<int>((std::max<std::size_t>(size, 1) + 15) / 16);  // 1..32
  int cls = 33;
  std::size_t s = 1024;
  while (s < size) {
    s <<= 1;
    ++cls;
  }
  return cls;  // 33 → 1 KiB ... 43 → 1 MiB
}

std::size_t Heap::ClassSize(int cls) {
  if (cls <= 32) return static_cast<std::size_t>(cls == 0 ? 16 : cls * 16);
  return std::size_t{1024} << (cls - 33);
}

void* Heap::Allocate(std::size_t size, bool zero) {
  if (size > (1ull << 40)) return nullptr;
  if (size > kLargeThreshold) {
    void* p = space_.Allocate(size + sizeof(Header));
    if (!p) return nullptr;
    auto* h = static_cast<Header*>(p);
    h->size = size;
    h->check = Seal(h, kLarge);
    return h + 1;  // fresh pages are zero
  }
  const int cls = ClassOf(size);
  const std::size_t usable = ClassSize(cls);
  std::lock_guard lock(mutex_);
  Header* h = nullptr;
  if (!freeLists_[cls].empty()) {
    h = static_cast<Header*>(freeLists_[cls].back());
    freeLists_[cls].pop_back();
    if (zero) std::memset(h + 1, 0, usable);
  } else {
    const std::size_t need = sizeof(Header) + usable;
    if (arenaNext_ + need > arenaEnd_) {
      void* arena = space_.Allocate(kArenaSize);
      if (!arena) return nullptr;
      arenaNext_ = reinterpret_cast<std::uint64_t>(arena);
      arenaEnd_ = arenaNext_ + kArenaSize;
    }
    h = reinterpret_cast<Header*>(arenaNext_);
    arenaNext_ += need;  // fresh arena memory is zero
  }
  h->size = usable;
  h->check = Seal(h, kLive);
  return h + 1;
}

const Heap::Header* Heap::HeaderOf(const void* block) const {
  if (!block || reinterpret_cast<std::uint64_t>(block) % 16 != 0) return nullptr;
  const auto address = reinterpret_cast<std::uint64_t>(block);
  if (!space_.IsCommitted(address - sizeof(Header), sizeof(Header))) return nullptr;
  const auto* h = static_cast<const Header*>(block) - 1;
  if (h->check != Seal(h, kLive) && h->check != Seal(h, kLarge)) return nullptr;
  return h;
}

bool Heap::Free(void* block) {
  if (!block) return true;
  auto* h = const_cast<Header*>(HeaderOf(block));
  if (!h) return false;
  if (h->check == Seal(h, kLarge)) {
    h->check = kFreed;
    return space_.Free(h);
  }
  std::lock_guard lock(mutex_);
  h->check = kFreed;
  freeLists_[ClassOf(h->size)].push_back(h);
  return true;
}

void* Heap::Reallocate(void* block, std::size_t size) {
  if (!block) return Allocate(size);
  const Header* h = HeaderOf(block);
  if (!h) return nullptr;
  if (size <= h->size && (h->size <= kLargeThreshold || size > kLargeThreshold)) return block;
  void* fresh = Allocate(size);
  if (!fresh) return nullptr;
  std::memcpy(fresh, block, std::min<std::size_t>(h->size, size));
  Free(block);
  return fresh;
}

std::size_t Heap::SizeOf(const void* block) const {
  const Header* h = HeaderOf(block);
  return h ? h->size : SIZE_MAX;
}

}  // namespace ntbox::user
