// Access tokens: every process of the machine has a primary token for the machine's one user, an
// administrator with an elevated (high integrity) token, as a driver developer's test machine runs.
// Threads do not impersonate. The token's contents are fixed; only its privileges' enabled state
// changes (NtAdjustPrivilegesToken).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "nt/Status.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "nt/se/SeExports.h"
#include "nt/se/SecurityDescriptor.h"

namespace ntbox::nt {
namespace {

constexpr ACCESS_MASK TOKEN_QUERY = 0x8;
constexpr ACCESS_MASK TOKEN_ADJUST_PRIVILEGES = 0x20;
constexpr ACCESS_MASK TOKEN_ALL_ACCESS = 0xF01FF;
constexpr ULONG SE_PRIVILEGE_ENABLED_BY_DEFAULT = 0x1;
constexpr ULONG SE_PRIVILEGE_ENABLED = 0x2;
constexpr ULONG SE_PRIVILEGE_REMOVED = 0x4;
// SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED, and SE_GROUP_OWNER.
constexpr ULONG kGroupEnabled = 0x7;
constexpr ULONG kGroupOwner = 0x8;
constexpr ULONG kGroupIntegrity = 0x60;  // SE_GROUP_INTEGRITY | SE_GROUP_INTEGRITY_ENABLED

// Pseudo handles (Windows 8 and later): the process's token, the thread's, the thread's effective one.
constexpr std::intptr_t kCurrentProcessToken = -4;
constexpr std::intptr_t kCurrentThreadToken = -5;
constexpr std::intptr_t kCurrentThreadEffectiveToken = -6;

constexpr const char* kAdministrators = "S-1-5-32-544";
constexpr const char* kHighIntegrity = "S-1-16-12288";
constexpr const char* kSystem = "S-1-5-18";

struct Group {
  const char* sid;
  ULONG attributes;
};
constexpr Group kGroups[] = {
    {"S-1-1-0", kGroupEnabled},                       // Everyone
    {kAdministrators, kGroupEnabled | kGroupOwner},  // BUILTIN\Administrators
    {"S-1-5-32-545", kGroupEnabled},                  // BUILTIN\Users
    {"S-1-5-4", kGroupEnabled},                       // NT AUTHORITY\INTERACTIVE
    {"S-1-5-11", kGroupEnabled},                      // NT AUTHORITY\Authenticated Users
    {"S-1-5-15", kGroupEnabled},                      // NT AUTHORITY\This Organization
    {"S-1-2-0", kGroupEnabled},                       // LOCAL
    {kHighIntegrity, kGroupIntegrity},                // Mandatory Label\High Mandatory Level
};

}  // namespace

bool se::UserTokenHas(std::string_view sid) {
  if (sid == se::kUserSid) return true;
  for (const Group& g : kGroups) {
    if ((g.attributes & kGroupEnabled) == kGroupEnabled && sid == g.sid) return true;
  }
  return false;
}

namespace {

struct Privilege {
  ULONG luid;  // SE_*_PRIVILEGE values; the high part of every LUID is 0
  ULONG attributes;
};
// An elevated administrator's privileges, as whoami /priv lists them on Windows 10.
constexpr Privilege kPrivileges[] = {
    {5, 0},  {8, 0},  {9, 0},  {10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
    {15, 0}, {17, 0}, {18, 0}, {19, 0}, {20, 0}, {22, 0},
    {23, SE_PRIVILEGE_ENABLED_BY_DEFAULT | SE_PRIVILEGE_ENABLED},  // SeChangeNotifyPrivilege
    {24, 0}, {25, 0}, {28, 0},
    {29, SE_PRIVILEGE_ENABLED_BY_DEFAULT | SE_PRIVILEGE_ENABLED},  // SeImpersonatePrivilege
    {30, SE_PRIVILEGE_ENABLED_BY_DEFAULT | SE_PRIVILEGE_ENABLED},  // SeCreateGlobalPrivilege
    {33, 0}, {34, 0}, {35, 0}, {36, 0},
};

struct TokenData {
  std::uint64_t id;
  std::mutex mutex;
  std::vector<Privilege> privileges{std::begin(kPrivileges), std::end(kPrivileges)};
  std::uint64_t modifiedId;
};

std::atomic<std::uint64_t> g_nextLuid{0x10000};

ob::ObjectType& Tokens() { return ob::OwningHostContext<TokenData>(ob::TokenType()); }

// "S-1-5-21-0-0-0-1000" as a SID's bytes: revision, count, 6-byte big-endian authority, sub-authorities.
std::vector<std::uint8_t> SidBytes(std::string_view text) {
  std::vector<std::uint64_t> parts;
  text.remove_prefix(2);  // "S-"
  while (!text.empty()) {
    const auto dash = text.find('-');
    parts.push_back(std::stoull(std::string(text.substr(0, dash))));
    text = dash == std::string_view::npos ? std::string_view{} : text.substr(dash + 1);
  }
  std::vector<std::uint8_t> sid(8 + 4 * (parts.size() - 2));
  sid[0] = static_cast<std::uint8_t>(parts[0]);
  sid[1] = static_cast<std::uint8_t>(parts.size() - 2);
  for (int i = 0; i < 6; ++i) sid[2 + i] = static_cast<std::uint8_t>(parts[1] >> (8 * (5 - i)));
  for (std::size_t i = 2; i < parts.size(); ++i) {
    const auto v = static_cast<std::uint32_t>(parts[i]);
    std::memcpy(sid.data() + 8 + 4 * (i - 2), &v, 4);
  }
  return sid;
}

// An information structure with pointers into itself: they are stored as offsets and become the
// caller's addresses when it is copied out.
class Info {
 public:
  std::vector<std::uint8_t> bytes;
  std::vector<std::size_t> pointers;  // where offsets to relocate are

  template <class T>
  void Put(std::size_t offset, const T& value) {
    if (bytes.size() < offset + sizeof(T)) bytes.resize(offset + sizeof(T));
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
  }
  // Appends data (8-byte aligned, as Windows lays SIDs out) and stores a pointer to it at at.
  void PointTo(std::size_t at, const std::vector<std::uint8_t>& data) {
    bytes.resize((bytes.size() + 7) & ~std::size_t{7});
    Put<std::uint64_t>(at, bytes.size());
    pointers.push_back(at);
    bytes.insert(bytes.end(), data.begin(), data.end());
  }
  std::vector<std::uint8_t> For(std::uint64_t base) const {
    std::vector<std::uint8_t> out = bytes;
    for (const std::size_t at : pointers) {
      std::uint64_t v;
      std::memcpy(&v, out.data() + at, 8);
      v += base;
      std::memcpy(out.data() + at, &v, 8);
    }
    return out;
  }
};

// A SID_AND_ATTRIBUTES array of count entries at offset, each pointing at its SID.
void PutGroups(Info& info, std::size_t offset, const Group* groups, std::size_t count) {
  info.bytes.resize(std::max(info.bytes.size(), offset + 16 * count));
  for (std::size_t i = 0; i < count; ++i) info.Put<ULONG>(offset + 16 * i + 8, groups[i].attributes);
  for (std::size_t i = 0; i < count; ++i) info.PointTo(offset + 16 * i, SidBytes(groups[i].sid));
}

// A DACL granting the user and SYSTEM everything (what new objects get).
std::vector<std::uint8_t> DefaultDacl() {
  std::vector<std::uint8_t> acl(8);
  for (const std::string_view sid : {se::kUserSid, std::string_view(kSystem)}) {
    const auto bytes = SidBytes(sid);
    std::vector<std::uint8_t> ace(8);
    ace[0] = 0;  // ACCESS_ALLOWED_ACE_TYPE
    const auto size = static_cast<std::uint16_t>(8 + bytes.size());
    std::memcpy(ace.data() + 2, &size, 2);
    const ULONG mask = 0x10000000;  // GENERIC_ALL
    std::memcpy(ace.data() + 4, &mask, 4);
    ace.insert(ace.end(), bytes.begin(), bytes.end());
    acl.insert(acl.end(), ace.begin(), ace.end());
  }
  acl[0] = 2;  // ACL_REVISION
  const auto size = static_cast<std::uint16_t>(acl.size());
  std::memcpy(acl.data() + 2, &size, 2);
  const std::uint16_t count = 2;
  std::memcpy(acl.data() + 4, &count, 2);
  return acl;
}

NTSTATUS BuildInformation(TokenData& token, ULONG infoClass, Info& info) {
  switch (infoClass) {
    case 1: {  // TokenUser
      const Group user{se::kUserSid.data(), 0};
      PutGroups(info, 0, &user, 1);
      return STATUS_SUCCESS;
    }
    case 2:  // TokenGroups
      info.Put<ULONG>(0, std::size(kGroups));
      PutGroups(info, 8, kGroups, std::size(kGroups));
      return STATUS_SUCCESS;
    case 3: {  // TokenPrivileges: LUID_AND_ATTRIBUTES are 12 bytes, 4-byte aligned
      std::lock_guard lock(token.mutex);
      info.Put<ULONG>(0, static_cast<ULONG>(token.privileges.size()));
      for (std::size_t i = 0; i < token.privileges.size(); ++i) {
        info.Put<ULONG>(4 + 12 * i, token.privileges[i].luid);
        info.Put<ULONG>(4 + 12 * i + 4, 0);
        info.Put<ULONG>(4 + 12 * i + 8, token.privileges[i].attributes);
      }
      return STATUS_SUCCESS;
    }
    case 4:  // TokenOwner: an administrator's objects belong to Administrators
      info.bytes.resize(8);
      info.PointTo(0, SidBytes(kAdministrators));
      return STATUS_SUCCESS;
    case 5:  // TokenPrimaryGroup
      info.bytes.resize(8);
      info.PointTo(0, SidBytes(se::kUserSid));
      return STATUS_SUCCESS;
    case 6:  // TokenDefaultDacl
      info.bytes.resize(8);
      info.PointTo(0, DefaultDacl());
      return STATUS_SUCCESS;
    case 7:  // TokenSource
      info.bytes.assign(16, 0);
      std::memcpy(info.bytes.data(), "User32  ", 8);
      return STATUS_SUCCESS;
    case 8:  // TokenType: TokenPrimary
      info.Put<ULONG>(0, 1);
      return STATUS_SUCCESS;
    case 10: {  // TokenStatistics
      std::lock_guard lock(token.mutex);
      info.bytes.assign(0x38, 0);
      info.Put<std::uint64_t>(0x00, token.id);
      info.Put<std::uint64_t>(0x08, 0x3E4);                     // AuthenticationId: the logon session
      info.Put<std::int64_t>(0x10, 0x7FFFFFFFFFFFFFFF);         // ExpirationTime: never
      info.Put<ULONG>(0x18, 1);                                 // TokenPrimary
      info.Put<ULONG>(0x24, 0x1000);                            // DynamicCharged
      info.Put<ULONG>(0x28, std::size(kGroups));
      info.Put<ULONG>(0x2C, static_cast<ULONG>(token.privileges.size()));
      info.Put<std::uint64_t>(0x30, token.modifiedId);
      return STATUS_SUCCESS;
    }
    case 12:  // TokenSessionId: the interactive session
      info.Put<ULONG>(0, 1);
      return STATUS_SUCCESS;
    case 18:  // TokenElevationType: TokenElevationTypeDefault (no split token)
      info.Put<ULONG>(0, 1);
      return STATUS_SUCCESS;
    case 20:  // TokenElevation: elevated
      info.Put<ULONG>(0, 1);
      return STATUS_SUCCESS;
    case 23:  // TokenVirtualizationAllowed
    case 24:  // TokenVirtualizationEnabled
    case 26:  // TokenUIAccess
    case 29:  // TokenIsAppContainer
      info.Put<ULONG>(0, 0);
      return STATUS_SUCCESS;
    case 25: {  // TokenIntegrityLevel
      const Group label{kHighIntegrity, kGroupIntegrity};
      PutGroups(info, 0, &label, 1);
      return STATUS_SUCCESS;
    }
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

// The process's primary token, made on first use.
void* PrimaryToken(ps::Process& process) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (!process.token) {
    auto* data = new TokenData{g_nextLuid++};
    data->modifiedId = g_nextLuid++;
    process.token = ob::CreateObject(Tokens(), 0x100, data);
  }
  return process.token;
}

}  // namespace

bool se::PrivilegeEnabled(ULONG privilege) {
  void* token = PrimaryToken(ps::CurrentProcess());
  auto& data = *static_cast<TokenData*>(ob::HeaderOf(token)->hostContext);
  std::lock_guard lock(data.mutex);
  for (const Privilege& p : data.privileges) {
    if (p.luid == privilege) return (p.attributes & SE_PRIVILEGE_ENABLED) != 0;
  }
  return false;
}

namespace {

// A token by handle or pseudo handle.
class TokenRef {
 public:
  NTSTATUS Open(HANDLE handle, ACCESS_MASK access) {
    const auto pseudo = reinterpret_cast<std::intptr_t>(handle);
    if (pseudo == kCurrentThreadToken) return STATUS_NO_TOKEN;
    if (pseudo == kCurrentProcessToken || pseudo == kCurrentThreadEffectiveToken) {
      void* token = PrimaryToken(ps::CurrentProcess());
      ob::ReferenceObject(token);
      ref_.Adopt(token);
      return STATUS_SUCCESS;
    }
    return ref_.Open(handle, access, &Tokens());
  }
  TokenData& data() { return ref_.context<TokenData>(); }

 private:
  ob::HandleReference ref_;
};

}  // namespace

NTSTATUS NTAPI NtOpenProcessTokenEx(HANDLE ProcessHandle, ACCESS_MASK DesiredAccess, ULONG HandleAttributes,
                                    HANDLE* TokenHandle) {
  if (!mm::WriteCaller(TokenHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  ps::Process* process = ps::ProcessOfHandle(ProcessHandle, ps::PROCESS_QUERY_LIMITED_INFORMATION);
  if (!process) return STATUS_INVALID_HANDLE;
  void* token = PrimaryToken(*process);
  ob::ReferenceObject(token);
  ACCESS_MASK access = DesiredAccess;
  if (access & 0x12000000) access |= TOKEN_ALL_ACCESS;  // GENERIC_ALL, MAXIMUM_ALLOWED
  if (access & 0x80000000) access |= 0x20008;           // GENERIC_READ: TOKEN_READ
  if (access & 0x40000000) access |= 0x200E0;           // GENERIC_WRITE: TOKEN_WRITE
  const bool kernelHandle = (HandleAttributes & 0x200) && ExGetPreviousMode() == 0;
  return ob::ReturnNewHandle(token, access & 0x01FFFFFF, TokenHandle, kernelHandle);
}

NTSTATUS NTAPI NtOpenProcessToken(HANDLE ProcessHandle, ACCESS_MASK DesiredAccess, HANDLE* TokenHandle) {
  return NtOpenProcessTokenEx(ProcessHandle, DesiredAccess, 0, TokenHandle);
}

// No thread impersonates.
NTSTATUS NTAPI NtOpenThreadTokenEx(HANDLE, ACCESS_MASK, BOOLEAN, ULONG, HANDLE* TokenHandle) {
  if (!mm::WriteCaller(TokenHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  return STATUS_NO_TOKEN;
}

NTSTATUS NTAPI NtOpenThreadToken(HANDLE ThreadHandle, ACCESS_MASK DesiredAccess, BOOLEAN OpenAsSelf,
                                 HANDLE* TokenHandle) {
  return NtOpenThreadTokenEx(ThreadHandle, DesiredAccess, OpenAsSelf, 0, TokenHandle);
}

NTSTATUS NTAPI NtQueryInformationToken(HANDLE TokenHandle, ULONG TokenInformationClass, PVOID TokenInformation,
                                       ULONG TokenInformationLength, ULONG* ReturnLength) {
  TokenRef token;
  if (const NTSTATUS s = token.Open(TokenHandle, TOKEN_QUERY); !NT_SUCCESS(s)) return s;
  Info info;
  if (const NTSTATUS s = BuildInformation(token.data(), TokenInformationClass, info); !NT_SUCCESS(s)) return s;
  if (!mm::WriteCaller(ReturnLength, static_cast<ULONG>(info.bytes.size()))) return STATUS_ACCESS_VIOLATION;
  if (TokenInformationLength < info.bytes.size()) return STATUS_BUFFER_TOO_SMALL;
  const auto bytes = info.For(reinterpret_cast<std::uint64_t>(TokenInformation));
  if (!mm::WriteCaller(TokenInformation, bytes.data(), bytes.size())) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtAdjustPrivilegesToken(HANDLE TokenHandle, BOOLEAN DisableAllPrivileges, PVOID NewState,
                                       ULONG BufferLength, PVOID PreviousState, ULONG* ReturnLength) {
  TokenRef token;
  const ACCESS_MASK needed = TOKEN_ADJUST_PRIVILEGES | (PreviousState ? TOKEN_QUERY : 0);
  if (const NTSTATUS s = token.Open(TokenHandle, needed); !NT_SUCCESS(s)) return s;
  struct Change {
    ULONG luid, high, attributes;
  };
  std::vector<Change> changes;
  if (!DisableAllPrivileges) {
    const auto count = mm::ReadCaller(static_cast<const ULONG*>(NewState));
    if (!count) return STATUS_ACCESS_VIOLATION;
    if (*count > 64) return STATUS_INVALID_PARAMETER;
    changes.resize(*count);
    if (!mm::ReadCaller(changes.data(), static_cast<const std::uint8_t*>(NewState) + 4, *count * sizeof(Change))) {
      return STATUS_ACCESS_VIOLATION;
    }
  }
  for (const Change& c : changes) {
    if (c.attributes & SE_PRIVILEGE_REMOVED) return STATUS_NOT_IMPLEMENTED;  // tokens keep their privileges
  }
  TokenData& data = token.data();
  std::lock_guard lock(data.mutex);
  // Worked out on a copy: a PreviousState buffer too small changes nothing.
  auto privileges = data.privileges;
  std::vector<Change> previous;
  bool allAssigned = true;
  auto apply = [&](Privilege& p, ULONG enable) {
    if ((p.attributes & SE_PRIVILEGE_ENABLED) != enable) {
      previous.push_back({p.luid, 0, p.attributes});
      p.attributes = (p.attributes & ~SE_PRIVILEGE_ENABLED) | enable;
    }
  };
  if (DisableAllPrivileges) {
    for (Privilege& p : privileges) apply(p, 0);
  } else {
    for (const Change& c : changes) {
      auto it = std::find_if(privileges.begin(), privileges.end(),
                             [&](const Privilege& p) { return c.high == 0 && p.luid == c.luid; });
      if (it == privileges.end()) {
        allAssigned = false;
        continue;
      }
      apply(*it, c.attributes & SE_PRIVILEGE_ENABLED);
    }
  }
  if (PreviousState) {
    const auto size = static_cast<ULONG>(4 + previous.size() * sizeof(Change));
    if (!mm::WriteCaller(ReturnLength, size)) return STATUS_ACCESS_VIOLATION;
    if (BufferLength < size) return STATUS_BUFFER_TOO_SMALL;
    const auto count = static_cast<ULONG>(previous.size());
    if (!mm::WriteCaller(static_cast<ULONG*>(PreviousState), count) ||
        !mm::WriteCaller(static_cast<std::uint8_t*>(PreviousState) + 4, previous.data(),
                         previous.size() * sizeof(Change))) {
      return STATUS_ACCESS_VIOLATION;
    }
  }
  data.privileges = std::move(privileges);
  if (!previous.empty()) data.modifiedId = g_nextLuid++;
  return allAssigned ? STATUS_SUCCESS : STATUS_NOT_ALL_ASSIGNED;
}

}  // namespace ntbox::nt
