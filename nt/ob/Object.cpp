#include "nt/ob/Object.h"

#include "nt/Kernel.h"

#include "cpu/SafeCopy.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "nt/Status.h"
#include "nt/ex/PoolArena.h"
#include "nt/ke/BugCheck.h"

namespace ntbox::nt::ob {
namespace {

constexpr ULONG REFERENCE_BY_POINTER = 0x18;

ObjectType g_file{u"File"};
ObjectType g_device{u"Device"};
ObjectType g_driver{u"Driver"};
ObjectType g_event{u"Event"};
ObjectType g_process{u"Process"};
ObjectType g_thread{u"Thread"};
ObjectType g_link{u"SymbolicLink"};
ObjectType g_directory{u"Directory"};
ObjectType g_section{u"Section"};
ObjectType g_key{u"Key"};
ObjectType g_semaphore{u"Semaphore"};
ObjectType g_mutant{u"Mutant"};
ObjectType g_ioCompletion{u"IoCompletion"};
ObjectType g_token{u"Token"};
ObjectType g_timer{u"Timer"};

}  // namespace

ObjectType& FileType() { return g_file; }
ObjectType& DeviceType() { return g_device; }
ObjectType& DriverType() { return g_driver; }
ObjectType& EventType() { return g_event; }
ObjectType& ProcessType() { return g_process; }
ObjectType& ThreadType() { return g_thread; }
ObjectType& SymbolicLinkType() { return g_link; }
ObjectType& DirectoryType() { return g_directory; }
ObjectType& SectionType() { return g_section; }
ObjectType& KeyType() { return g_key; }
ObjectType& SemaphoreType() { return g_semaphore; }
ObjectType& MutantType() { return g_mutant; }
ObjectType& IoCompletionType() { return g_ioCompletion; }
ObjectType& TokenType() { return g_token; }
ObjectType& TimerType() { return g_timer; }

bool StartsWithNoCase(std::u16string_view s, std::u16string_view prefix) {
  return s.size() >= prefix.size() && UpcaseName(s.substr(0, prefix.size())) == UpcaseName(prefix);
}

std::u16string UpcaseName(std::u16string_view s) {
  std::u16string out(s);
  for (auto& c : out) {
    if (c >= u'a' && c <= u'z') c = static_cast<char16_t>(c - 32);
  }
  return out;
}

std::u16string Widen(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(c);
  return out;
}

void* CreateObject(ObjectType& type, std::size_t bodySize, void* hostContext) {
  // Beside pool, not on the host heap: a driver writing past its device extension hits kernel memory.
  void* block = AllocateSystemBlock(kHeaderSize + bodySize);
  if (!block) return nullptr;
  auto* header = new (block) ObjectHeader{kHeaderMagic, &type, {1}, {0}, hostContext, bodySize, {false}};
  (void)header;
  type.liveObjects.fetch_add(1, std::memory_order_relaxed);
  return static_cast<std::uint8_t*>(block) + kHeaderSize;
}

ObjectHeader* HeaderOf(const void* body) {
  const auto address = reinterpret_cast<std::uintptr_t>(body);
  if (!body || address % 16 != 0 || address < kHeaderSize) return nullptr;
  auto* header = reinterpret_cast<ObjectHeader*>(address - kHeaderSize);
  // A driver hands in wild pointers: the magic is read without faulting.
  std::uint64_t magic = 0;
  if (!cpu::SafeRead64(&header->magic, magic)) return nullptr;
  return magic == kHeaderMagic ? header : nullptr;
}

void ReferenceObject(void* body) {
  ObjectHeader* h = HeaderOf(body);
  if (!h) RaiseBugCheck(REFERENCE_BY_POINTER, 0, reinterpret_cast<ULONG64>(body), 0, 1, "reference to a non-object");
  if (h->pointerCount.fetch_add(1, std::memory_order_relaxed) <= 0) {
    RaiseBugCheck(REFERENCE_BY_POINTER, reinterpret_cast<ULONG64>(h->type), reinterpret_cast<ULONG64>(body), 0, 2,
                  "reference to an object already deleted");
  }
}

bool TryReferenceObject(void* body) {
  ObjectHeader* h = HeaderOf(body);
  if (!h) return false;
  std::int64_t count = h->pointerCount.load(std::memory_order_relaxed);
  while (count > 0) {
    if (h->pointerCount.compare_exchange_weak(count, count + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void DereferenceObject(void* body) {
  ObjectHeader* h = HeaderOf(body);
  if (!h) {
    RaiseBugCheck(REFERENCE_BY_POINTER, 0, reinterpret_cast<ULONG64>(body), 0, 1, "dereference of a non-object");
  }
  const auto left = h->pointerCount.fetch_sub(1, std::memory_order_acq_rel) - 1;
  if (left < 0) {
    RaiseBugCheck(REFERENCE_BY_POINTER, reinterpret_cast<ULONG64>(h->type), reinterpret_cast<ULONG64>(body),
                  static_cast<ULONG64>(left), 0, "object dereferenced more often than referenced");
  }
  if (left > 0) return;
  DropTemporaryName(body);
  ObjectType* type = h->type;
  if (type->onDelete) type->onDelete(body);
  type->liveObjects.fetch_sub(1, std::memory_order_relaxed);
  // An atomic store: a plain one before the destructor is a dead store gcc removes (lifetime DSE),
  // and a stale magic would let a dangling pointer pass for a live object.
  std::atomic_ref<std::uint64_t>(h->magic).store(0, std::memory_order_release);
  const std::size_t bodySize = h->bodySize;
  h->~ObjectHeader();
  FreeSystemBlock(h, kHeaderSize + bodySize);
}

HandleTable::~HandleTable() {
  for (auto& e : RemoveAll()) CloseHandleEntry(e);
}

void DropTemporaryName(void* body) {
  ObjectHeader* h = HeaderOf(body);
  if (!h || !h->temporaryName.exchange(false)) return;
  if (Kernel* kernel = Kernel::CurrentOrNull()) kernel->objects().Remove(body);
}

void MakeTemporary(void* body) {
  ObjectHeader* h = HeaderOf(body);
  if (!h || !h->permanent.exchange(false)) return;
  h->temporaryName = true;
  if (h->handleCount.load() == 0) DropTemporaryName(body);
  DereferenceObject(body);  // the reference the permanent name held
}

void CloseHandleEntry(const HandleTable::Entry& entry) {
  ObjectHeader* h = HeaderOf(entry.body);
  if (h && h->handleCount.fetch_sub(1) == 1) {
    DropTemporaryName(entry.body);
    if (h->type->onLastHandleClosed) h->type->onLastHandleClosed(entry.body);
  }
  DereferenceObject(entry.body);
}

HandleValue HandleTable::Insert(void* body, ACCESS_MASK access, ULONG attributes) {
  ReferenceObject(body);
  if (ObjectHeader* h = HeaderOf(body)) h->handleCount.fetch_add(1);
  std::lock_guard lock(mutex_);
  std::size_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    entries_[index] = Entry{body, access, attributes};
  } else {
    index = entries_.size();
    entries_.push_back(Entry{body, access, attributes});
  }
  ++used_;
  return (index + 1) * 4;
}

bool HandleTable::InsertAt(HandleValue handle, void* body, ACCESS_MASK access, ULONG attributes) {
  if (handle == 0 || handle % 4 != 0 || handle / 4 > (1u << 24)) return false;
  const std::size_t index = handle / 4 - 1;
  {
    std::lock_guard lock(mutex_);
    if (index < entries_.size() && entries_[index].body) return false;
    while (entries_.size() <= index) {
      free_.push_back(entries_.size());
      entries_.emplace_back();
    }
    std::erase(free_, index);
    entries_[index] = Entry{body, access, attributes};
    ++used_;
  }
  ReferenceObject(body);
  if (ObjectHeader* h = HeaderOf(body)) h->handleCount.fetch_add(1);
  return true;
}

bool HandleTable::SetAttributes(HandleValue handle, ULONG attributes) {
  std::lock_guard lock(mutex_);
  if (handle == 0 || handle % 4 != 0 || handle / 4 > entries_.size()) return false;
  Entry& e = entries_[handle / 4 - 1];
  if (!e.body) return false;
  e.attributes = attributes & (kHandleInherit | kHandleProtectClose);
  return true;
}

void HandleTable::Inherit(HandleTable& parent) {
  std::vector<std::pair<HandleValue, Entry>> inherited;
  {
    std::lock_guard lock(parent.mutex_);
    for (std::size_t i = 0; i < parent.entries_.size(); ++i) {
      const Entry& e = parent.entries_[i];
      if (!e.body || !(e.attributes & kHandleInherit)) continue;
      ReferenceObject(e.body);  // held while the parent's lock is not
      inherited.emplace_back((i + 1) * 4, e);
    }
  }
  for (const auto& [value, e] : inherited) {
    (void)InsertAt(value, e.body, e.access, e.attributes);
    DereferenceObject(e.body);
  }
}

std::optional<HandleTable::Entry> HandleTable::Reference(HandleValue handle) {
  std::lock_guard lock(mutex_);
  if (handle == 0 || handle % 4 != 0 || handle / 4 > entries_.size()) return std::nullopt;
  const Entry& e = entries_[handle / 4 - 1];
  if (!e.body) return std::nullopt;
  ReferenceObject(e.body);
  return e;
}

std::optional<HandleTable::Entry> HandleTable::Remove(HandleValue handle) {
  std::lock_guard lock(mutex_);
  if (handle == 0 || handle % 4 != 0 || handle / 4 > entries_.size()) return std::nullopt;
  Entry& e = entries_[handle / 4 - 1];
  if (!e.body) return std::nullopt;
  Entry out = e;
  e = Entry{};
  free_.push_back(handle / 4 - 1);
  --used_;
  return out;
}

std::vector<HandleTable::Entry> HandleTable::RemoveAll() {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  // Newest first: the order Windows closes a dying process's handles in does not matter to
  // drivers, but a stable order keeps reports reproducible.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->body) out.push_back(*it);
  }
  entries_.clear();
  free_.clear();
  used_ = 0;
  return out;
}

std::size_t HandleTable::size() const {
  std::lock_guard lock(mutex_);
  return used_;
}

Namespace::Namespace() {
  for (const char16_t* dir : {u"\\Device", u"\\Driver", u"\\??", u"\\BaseNamedObjects", u"\\Callback",
                              u"\\ObjectTypes", u"\\KernelObjects"}) {
    entries_[UpcaseName(dir)] = Entry{dir, nullptr, std::nullopt};
  }
  entries_[UpcaseName(u"\\DosDevices")] = Entry{u"\\DosDevices", nullptr, u"\\??"};
  entries_[UpcaseName(u"\\GLOBAL??")] = Entry{u"\\GLOBAL??", nullptr, u"\\??"};
  // The interactive session's named objects (session 1, as programs' tokens say); Global\ in them
  // is the machine's \BaseNamedObjects, where drivers' named objects live.
  for (const char16_t* dir : {u"\\Sessions", u"\\Sessions\\1", u"\\Sessions\\1\\BaseNamedObjects"}) {
    entries_[UpcaseName(dir)] = Entry{dir, nullptr, std::nullopt};
  }
  const std::u16string local = u"\\Sessions\\1\\BaseNamedObjects";
  entries_[UpcaseName(local + u"\\Global")] = Entry{local + u"\\Global", nullptr, u"\\BaseNamedObjects"};
  entries_[UpcaseName(local + u"\\Local")] = Entry{local + u"\\Local", nullptr, local};
  entries_[UpcaseName(local + u"\\Session")] = Entry{local + u"\\Session", nullptr, local};
}

NTSTATUS Namespace::CreateDirectory(std::u16string_view name) {
  if (name.size() < 2 || name[0] != u'\\' || name.back() == u'\\') return STATUS_OBJECT_NAME_INVALID;
  std::lock_guard lock(mutex_);
  const auto resolved = Resolve(name, 0);
  if (!resolved) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string key = UpcaseName(*resolved);
  const auto slash = key.rfind(u'\\');
  if (slash > 0) {
    auto dir = entries_.find(key.substr(0, slash));
    if (dir == entries_.end() || dir->second.body || dir->second.linkTarget) return STATUS_OBJECT_PATH_NOT_FOUND;
  }
  if (entries_.contains(key)) return STATUS_OBJECT_NAME_COLLISION;
  entries_[key] = Entry{*resolved, nullptr, std::nullopt};
  return STATUS_SUCCESS;
}

bool Namespace::IsDirectory(std::u16string_view name) const {
  std::lock_guard lock(mutex_);
  const auto resolved = Resolve(name, 0);
  if (!resolved) return false;
  auto it = entries_.find(UpcaseName(*resolved));
  return it != entries_.end() && !it->second.body && !it->second.linkTarget;
}

namespace {

bool ValidName(std::u16string_view name) {
  if (name.size() < 2 || name[0] != u'\\' || name.back() == u'\\') return false;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (name[i] == u'\\' && name[i - 1] == u'\\') return false;
    if (name[i] == 0) return false;
  }
  return true;
}

// The directory part of "\A\B": "\A"; of "\A": "".
std::u16string_view Parent(std::u16string_view name) {
  const auto slash = name.rfind(u'\\');
  return slash == 0 || slash == std::u16string_view::npos ? std::u16string_view{} : name.substr(0, slash);
}

}  // namespace

std::optional<std::u16string> Namespace::Resolve(std::u16string_view name, int depth) const {
  // Replace the longest prefix that is a symbolic link, until none is.
  std::u16string current(name);
  for (; depth < 32; ++depth) {
    const std::u16string upper = UpcaseName(current);
    bool replaced = false;
    for (std::size_t end = upper.size(); end > 0; end = upper.rfind(u'\\', end - 1)) {
      auto it = entries_.find(upper.substr(0, end));
      if (it != entries_.end() && it->second.linkTarget) {
        current = *it->second.linkTarget + current.substr(end);
        replaced = true;
        break;
      }
      if (end == 0) break;
    }
    if (!replaced) return current;
  }
  return std::nullopt;
}

NTSTATUS Namespace::Insert(std::u16string_view name, void* body) {
  if (!ValidName(name)) return STATUS_OBJECT_NAME_INVALID;
  std::lock_guard lock(mutex_);
  const auto resolved = Resolve(name, 0);
  if (!resolved) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string key = UpcaseName(*resolved);
  const auto parent = Parent(key);
  if (!parent.empty()) {
    auto dir = entries_.find(std::u16string(parent));
    if (dir == entries_.end() || dir->second.body || dir->second.linkTarget) return STATUS_OBJECT_PATH_NOT_FOUND;
  }
  if (entries_.contains(key)) return STATUS_OBJECT_NAME_COLLISION;
  entries_[key] = Entry{*resolved, body, std::nullopt};
  return STATUS_SUCCESS;
}

void Namespace::Remove(void* body) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [body](const auto& kv) { return kv.second.body == body; });
}

NTSTATUS Namespace::CreateSymbolicLink(std::u16string_view link, std::u16string_view target) {
  if (!ValidName(link) || target.empty()) return STATUS_OBJECT_NAME_INVALID;
  std::lock_guard lock(mutex_);
  // The link's own directory may be reached through links (\DosDevices\X lives in \??).
  const auto parentResolved = Resolve(Parent(link), 0);
  if (!parentResolved) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string full = *parentResolved + std::u16string(link.substr(link.rfind(u'\\')));
  const std::u16string key = UpcaseName(full);
  auto dir = entries_.find(UpcaseName(*parentResolved));
  if (dir == entries_.end() || dir->second.body || dir->second.linkTarget) return STATUS_OBJECT_PATH_NOT_FOUND;
  if (entries_.contains(key)) return STATUS_OBJECT_NAME_COLLISION;
  entries_[key] = Entry{full, nullptr, std::u16string(target)};
  return STATUS_SUCCESS;
}

std::vector<std::u16string> Namespace::LinksTo(std::u16string_view target) const {
  const std::u16string key = UpcaseName(target);
  std::lock_guard lock(mutex_);
  std::vector<std::u16string> links;
  for (const auto& [name, entry] : entries_) {
    if (entry.linkTarget && UpcaseName(*entry.linkTarget) == key) links.push_back(entry.name);
  }
  return links;
}

NTSTATUS Namespace::DeleteSymbolicLink(std::u16string_view link) {
  if (!ValidName(link)) return STATUS_OBJECT_NAME_INVALID;
  std::lock_guard lock(mutex_);
  const auto parentResolved = Resolve(Parent(link), 0);
  if (!parentResolved) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string key = UpcaseName(*parentResolved + std::u16string(link.substr(link.rfind(u'\\'))));
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.linkTarget) return STATUS_OBJECT_NAME_NOT_FOUND;
  entries_.erase(it);
  return STATUS_SUCCESS;
}

Result<Namespace::Lookup> Namespace::Find(std::u16string_view name) const {
  if (name.empty() || name[0] != u'\\') return Fail("object names start with a backslash", STATUS_OBJECT_PATH_SYNTAX_BAD, 161);
  std::lock_guard lock(mutex_);
  const auto resolved = Resolve(name, 0);
  if (!resolved) return Fail("too many symbolic links", STATUS_OBJECT_NAME_INVALID, 123);
  const std::u16string upper = UpcaseName(*resolved);
  for (std::size_t end = upper.size(); end > 0; end = upper.rfind(u'\\', end - 1)) {
    auto it = entries_.find(upper.substr(0, end));
    if (it != entries_.end()) {
      if (!it->second.body) {
        if (end == upper.size()) return Fail("the name is a directory", STATUS_OBJECT_TYPE_MISMATCH, 6);
        return Fail("no object of that name", STATUS_OBJECT_NAME_NOT_FOUND, 2);
      }
      ReferenceObject(it->second.body);
      return Lookup{it->second.body, resolved->substr(end)};
    }
    if (end == 0) break;
  }
  return Fail("no object of that name", Parent(upper).empty() ? STATUS_OBJECT_NAME_NOT_FOUND
                                                               : STATUS_OBJECT_PATH_NOT_FOUND,
              2);
}

std::vector<std::u16string> Namespace::List(std::u16string_view directory) const {
  std::lock_guard lock(mutex_);
  const std::u16string prefix = UpcaseName(directory) + u"\\";
  std::vector<std::u16string> out;
  for (const auto& [key, e] : entries_) {
    if (key.starts_with(prefix) && key.find(u'\\', prefix.size()) == std::u16string::npos) out.push_back(e.name);
  }
  return out;
}

std::optional<std::u16string> Namespace::NameOf(const void* body) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, e] : entries_) {
    if (e.body == body) return e.name;
  }
  return std::nullopt;
}

}  // namespace ntbox::nt::ob
