// Security descriptors on objects, as far as ntbox keeps them: a device's DACL (set by
// ObSetSecurityObjectByPointer or NtSetSecurityObject, as wdmsec's IoCreateDeviceSecure does), checked
// when a program opens the device. Read from a binary SECURITY_DESCRIPTOR, absolute or self-relative.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "nt/Types.h"

namespace ntbox::nt::se {

struct Ace {
  bool allow = true;  // ACCESS_ALLOWED_ACE_TYPE, else ACCESS_DENIED_ACE_TYPE
  ACCESS_MASK mask = 0;
  std::string sid;  // "S-1-5-32-544"
};

struct Dacl {
  std::vector<Ace> aces;  // in order
};

// The descriptor's DACL: nullopt when it has none (every access allowed); an error status for a
// descriptor that is not one (or cannot be read).
struct ReadDaclResult {
  NTSTATUS status = 0;
  std::optional<Dacl> dacl;
};
ReadDaclResult ReadDacl(const void* securityDescriptor);

// Whether the machine's user (every program's token) may have desired (generic rights already
// mapped) under dacl, whose generic rights map through mapping (GENERIC_READ, WRITE, EXECUTE, ALL).
struct GenericMapping {
  ACCESS_MASK read, write, execute, all;
};
bool UserMayAccess(const Dacl& dacl, ACCESS_MASK desired, const GenericMapping& mapping);
// Generic rights replaced by what the mapping gives them.
ACCESS_MASK MapGenericRights(ACCESS_MASK access, const GenericMapping& mapping);
// Files' and devices' (FILE_GENERIC_READ, _WRITE, _EXECUTE, FILE_ALL_ACCESS).
constexpr GenericMapping kFileGenericMapping{0x120089, 0x120116, 0x1200A0, 0x1F01FF};

// Whether the program token carries the SID (the user's, or an enabled group's).
bool UserTokenHas(std::string_view sid);

// Whether the calling process's token has the privilege (SE_*_PRIVILEGE) enabled.
constexpr ULONG SE_LOAD_DRIVER_PRIVILEGE = 10;
bool PrivilegeEnabled(ULONG privilege);

}  // namespace ntbox::nt::se
