#include "nt/se/SecurityDescriptor.h"

#include <fmt/format.h>

#include <cstring>

#include "cpu/SafeCopy.h"
#include "nt/Status.h"

namespace ntbox::nt::se {
namespace {

constexpr USHORT SE_DACL_PRESENT = 0x4, SE_SELF_RELATIVE = 0x8000;
constexpr UCHAR ACCESS_ALLOWED_ACE_TYPE = 0, ACCESS_DENIED_ACE_TYPE = 1;
constexpr ACCESS_MASK GENERIC_READ = 0x80000000, GENERIC_WRITE = 0x40000000, GENERIC_EXECUTE = 0x20000000,
                      GENERIC_ALL = 0x10000000, MAXIMUM_ALLOWED = 0x02000000;

template <class T>
bool Read(T& out, const void* at) {
  return cpu::SafeCopy(&out, at, sizeof out);
}

std::optional<std::string> SidText(const std::uint8_t* sid) {
  std::uint8_t head[8];
  if (!cpu::SafeCopy(head, sid, sizeof head) || head[0] != 1 || head[1] > 15) return std::nullopt;
  std::uint64_t authority = 0;
  for (int i = 2; i < 8; ++i) authority = (authority << 8) | head[i];
  std::string text = fmt::format("S-1-{}", authority);
  for (int i = 0; i < head[1]; ++i) {
    std::uint32_t sub = 0;
    if (!cpu::SafeCopy(&sub, sid + 8 + 4 * i, sizeof sub)) return std::nullopt;
    text += fmt::format("-{}", sub);
  }
  return text;
}

}  // namespace

ACCESS_MASK MapGenericRights(ACCESS_MASK mask, const GenericMapping& m) {
  ACCESS_MASK out = mask & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
  if (mask & GENERIC_READ) out |= m.read;
  if (mask & GENERIC_WRITE) out |= m.write;
  if (mask & GENERIC_EXECUTE) out |= m.execute;
  if (mask & GENERIC_ALL) out |= m.all;
  return out;
}

ReadDaclResult ReadDacl(const void* securityDescriptor) {
  const auto* sd = static_cast<const std::uint8_t*>(securityDescriptor);
  std::uint8_t revision = 0;
  USHORT control = 0;
  if (!sd || !Read(revision, sd) || !Read(control, sd + 2)) return {STATUS_INVALID_SECURITY_DESCR, {}};
  if (revision != 1) return {STATUS_UNKNOWN_REVISION, {}};
  if (!(control & SE_DACL_PRESENT)) return {STATUS_SUCCESS, std::nullopt};
  const std::uint8_t* acl = nullptr;
  if (control & SE_SELF_RELATIVE) {
    ULONG offset = 0;  // SECURITY_DESCRIPTOR_RELATIVE.Dacl at +0x10
    if (!Read(offset, sd + 0x10)) return {STATUS_INVALID_SECURITY_DESCR, {}};
    acl = offset ? sd + offset : nullptr;
  } else {
    const std::uint8_t* pointer = nullptr;  // SECURITY_DESCRIPTOR.Dacl at +0x20
    if (!Read(pointer, sd + 0x20)) return {STATUS_INVALID_SECURITY_DESCR, {}};
    acl = pointer;
  }
  if (!acl) return {STATUS_SUCCESS, std::nullopt};  // a NULL DACL: everyone
  // ACL: AclRevision, Sbz1, AclSize, AceCount, Sbz2; then the ACEs.
  std::uint8_t aclRevision = 0;
  USHORT aclSize = 0, count = 0;
  if (!Read(aclRevision, acl) || !Read(aclSize, acl + 2) || !Read(count, acl + 4) ||
      (aclRevision != 2 && aclRevision != 4) || aclSize < 8) {
    return {STATUS_INVALID_ACL, {}};
  }
  Dacl dacl;
  std::size_t at = 8;
  for (USHORT i = 0; i < count; ++i) {
    std::uint8_t type = 0;
    USHORT size = 0;
    ACCESS_MASK mask = 0;
    if (at + 8 > aclSize || !Read(type, acl + at) || !Read(size, acl + at + 2) || size < 8 + 8 || at + size > aclSize ||
        !Read(mask, acl + at + 4)) {
      return {STATUS_INVALID_ACL, {}};
    }
    if (type == ACCESS_ALLOWED_ACE_TYPE || type == ACCESS_DENIED_ACE_TYPE) {
      const auto sid = SidText(acl + at + 8);
      if (!sid) return {STATUS_INVALID_SID, {}};
      dacl.aces.push_back(Ace{type == ACCESS_ALLOWED_ACE_TYPE, mask, *sid});
    }  // other ACE types (audit, object ACEs) grant and deny nothing here
    at += size;
  }
  return {STATUS_SUCCESS, std::move(dacl)};
}

bool UserMayAccess(const Dacl& dacl, ACCESS_MASK desired, const GenericMapping& mapping) {
  const bool maximum = desired & MAXIMUM_ALLOWED;
  ACCESS_MASK remaining = MapGenericRights(desired, mapping) & ~MAXIMUM_ALLOWED;
  ACCESS_MASK granted = 0;
  for (const Ace& ace : dacl.aces) {
    if (!UserTokenHas(ace.sid)) continue;
    const ACCESS_MASK mask = MapGenericRights(ace.mask, mapping);
    if (!ace.allow) {
      if (mask & remaining) return false;
      continue;
    }
    granted |= mask;
    remaining &= ~mask;
    if (remaining == 0 && !maximum) return true;
  }
  return remaining == 0 && (!maximum || granted != 0);
}

}  // namespace ntbox::nt::se
