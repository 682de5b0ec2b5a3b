// The object manager: typed, reference-counted kernel objects with an ntbox header in front of
// the body drivers see (as Windows' OBJECT_HEADER precedes the body), the namespace
// (\Device, \Driver, \??, symbolic links) and per-process handle tables.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nt/Types.h"
#include "support/Result.h"

namespace ntbox::nt::ob {

// What OBJECT_TYPE pointers (IoFileObjectType, PsProcessType ...) point at. Opaque to drivers.
struct ObjectType {
  explicit ObjectType(const char16_t* typeName) : name(typeName) {}
  ObjectType(const ObjectType&) = delete;
  ObjectType& operator=(const ObjectType&) = delete;
  // First, and pointing at the type itself: drivers read the exported *PsThreadType & co. two ways.
  // MSVC-built drivers bind the name to the import slot (one load yields the type); mingw-w64's
  // headers declare it dllimport, so its drivers load once more, through the type's first field.
  ObjectType* self = this;
  const char16_t* name;
  // Called when the last reference goes, before the memory is freed.
  void (*onDelete)(void* body) = nullptr;
  // Called when the last handle to the object closes (IRP_MJ_CLEANUP for files).
  void (*onLastHandleClosed)(void* body) = nullptr;
  std::atomic<std::uint64_t> liveObjects{0};
};

// The object types the kernel exports (data exports point at these).
ObjectType& FileType();
ObjectType& DeviceType();
ObjectType& DriverType();
ObjectType& EventType();
ObjectType& ProcessType();
ObjectType& ThreadType();
ObjectType& SymbolicLinkType();
ObjectType& DirectoryType();
ObjectType& SectionType();
ObjectType& KeyType();
ObjectType& SemaphoreType();
ObjectType& MutantType();
ObjectType& IoCompletionType();
ObjectType& TokenType();
ObjectType& TimerType();

constexpr std::uint64_t kHeaderMagic = 0x6A624F786F62746Eull;  // "ntboxObj"

struct ObjectHeader {
  std::uint64_t magic;
  ObjectType* type;
  std::atomic<std::int64_t> pointerCount;
  std::atomic<std::int64_t> handleCount;
  void* hostContext;  // the host object a body belongs to (a Process for an EPROCESS)
  std::uint64_t bodySize;
  // A temporary named object (an event a program named ...): its name goes with its last handle,
  // as Windows' object manager removes it.
  std::atomic<bool> temporaryName;
  // Created with OBJ_PERMANENT: its name (which holds a reference) stays until ZwMakeTemporaryObject.
  std::atomic<bool> permanent;
};
constexpr std::size_t kHeaderSize = 0x40;
static_assert(sizeof(ObjectHeader) <= kHeaderSize);

// A new object with one reference, its body zeroed and 16-byte aligned.
void* CreateObject(ObjectType& type, std::size_t bodySize, void* hostContext = nullptr);
// nullptr when body is not an object ntbox created (a wild pointer from a driver).
ObjectHeader* HeaderOf(const void* body);
void ReferenceObject(void* body);
// A reference unless the last one is already gone (a table that lists objects until their deletion
// may find one on its way out): false then.
bool TryReferenceObject(void* body);

// type, whose bodies each own a host object T (their hostContext), deleted with the body.
template <class T>
ObjectType& OwningHostContext(ObjectType& type) {
  static const bool once = [&type] {
    type.onDelete = [](void* body) { delete static_cast<T*>(HeaderOf(body)->hostContext); };
    return true;
  }();
  (void)once;
  return type;
}
// Drops one reference; the object is deleted with the last one.
void DereferenceObject(void* body);

using HandleValue = std::uint64_t;

// A process's handles: index-based, values multiple of 4 as on Windows.
class HandleTable {
 public:
  HandleTable() = default;
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  struct Entry {
    void* body = nullptr;
    ACCESS_MASK access = 0;
    ULONG attributes = 0;  // OBJ_INHERIT, OBJ_PROTECT_CLOSE
  };
  // Takes a new reference on body.
  HandleValue Insert(void* body, ACCESS_MASK access, ULONG attributes = 0);
  // The same, at a given value (a child's inherited handles keep their parent's values); false
  // when that value is taken.
  bool InsertAt(HandleValue handle, void* body, ACCESS_MASK access, ULONG attributes);
  // A handle's attributes (OBJ_INHERIT, OBJ_PROTECT_CLOSE); false for an invalid handle.
  bool SetAttributes(HandleValue handle, ULONG attributes);
  // Every handle of parent marked OBJ_INHERIT, at the same value, into this (empty) table.
  void Inherit(HandleTable& parent);
  // The entry, with a reference taken for the caller; nullopt for an invalid handle.
  std::optional<Entry> Reference(HandleValue handle);
  // Removes the entry and returns it; the caller closes it with CloseHandleEntry.
  std::optional<Entry> Remove(HandleValue handle);
  // Every entry, removed (for process exit), newest first.
  std::vector<Entry> RemoveAll();
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::vector<std::size_t> free_;
  std::size_t used_ = 0;
};

// Ends a handle removed from its table: the type's last-handle hook (may call driver code), then
// the handle's reference.
void CloseHandleEntry(const HandleTable::Entry& entry);

// Handle attributes (OBJECT_ATTRIBUTES.Attributes, NtDuplicateObject's HandleAttributes).
constexpr ULONG kHandleProtectClose = 0x1, kHandleInherit = 0x2;

// Kernel handles carry the high bit (OBJ_KERNEL_HANDLE handles are "negative" on x64).
constexpr HandleValue kKernelHandleBit = 0xFFFFFFFF80000000ull;

// A new handle to body (referenced by the handle): a kernel handle in the System process's
// table, or else one of the calling thread's process, as OBJ_KERNEL_HANDLE decides on Windows.
HANDLE InsertHandle(void* body, ACCESS_MASK access, bool kernelHandle, ULONG attributes = 0);

// Takes a temporary object's name out of the namespace (its last handle closed, or it is deleted).
void DropTemporaryName(void* body);
// ZwMakeTemporaryObject: a permanent object's name goes with its last handle (now, if none is open).
void MakeTemporary(void* body);

// The namespace. Names compare without case. \DosDevices and \GLOBAL?? are links to \??.
class Namespace {
 public:
  Namespace();
  // Inserts an object under its full name; STATUS_OBJECT_NAME_COLLISION when taken.
  NTSTATUS Insert(std::u16string_view name, void* body);
  void Remove(void* body);
  NTSTATUS CreateSymbolicLink(std::u16string_view link, std::u16string_view target);
  // A directory (NtCreateDirectoryObject); STATUS_OBJECT_NAME_COLLISION when the name is taken.
  NTSTATUS CreateDirectory(std::u16string_view name);
  // Whether name (symbolic links followed) is a directory.
  bool IsDirectory(std::u16string_view name) const;
  NTSTATUS DeleteSymbolicLink(std::u16string_view link);

  struct Lookup {
    void* body = nullptr;          // referenced for the caller
    std::u16string remainder;      // what follows the object's name ("\\file" on a device)
  };
  // Follows symbolic links (at most 32) and returns the object with the longest matching name.
  Result<Lookup> Find(std::u16string_view name) const;
  // Every name under a directory ("\\Device"), for listing.
  std::vector<std::u16string> List(std::u16string_view directory) const;
  std::optional<std::u16string> NameOf(const void* body) const;
  // The symbolic links whose target is exactly target (case-insensitive), by full name.
  std::vector<std::u16string> LinksTo(std::u16string_view target) const;

 private:
  struct Entry {
    std::u16string name;  // as inserted
    void* body = nullptr;
    std::optional<std::u16string> linkTarget;
  };
  std::optional<std::u16string> Resolve(std::u16string_view name, int depth) const;
  mutable std::mutex mutex_;
  std::map<std::u16string, Entry> entries_;  // by upper-case name
};

std::u16string UpcaseName(std::u16string_view s);
// Whether s starts with prefix, without regard to case (as names compare).
bool StartsWithNoCase(std::u16string_view s, std::u16string_view prefix);
std::u16string Widen(std::string_view s);

}  // namespace ntbox::nt::ob
