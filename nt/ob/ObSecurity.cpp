// Setting an object's security: ObSetSecurityObjectByPointer (what wdmsec's IoCreateDeviceSecure
// calls with the descriptor its SDDL string makes) and NtSetSecurityObject. ntbox keeps a DACL for
// devices, where opens by programs are checked against it; other objects' security is not kept.
#include "nt/Status.h"
#include "nt/io/DeviceState.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/Object.h"
#include "nt/se/SecurityDescriptor.h"

namespace ntbox::nt {
namespace {

constexpr ULONG DACL_SECURITY_INFORMATION = 0x4;
constexpr ACCESS_MASK WRITE_DAC = 0x40000;

NTSTATUS SetSecurity(void* object, ULONG information, const void* descriptor) {
  io::DeviceState* state = io::StateOf(static_cast<const DEVICE_OBJECT*>(object));
  if (!state) return STATUS_NOT_SUPPORTED;
  if (!(information & DACL_SECURITY_INFORMATION)) return STATUS_SUCCESS;  // owner, group, SACL: not kept
  se::ReadDaclResult read = se::ReadDacl(descriptor);
  if (!NT_SUCCESS(read.status)) return read.status;
  state->dacl = std::move(read.dacl);
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI ObSetSecurityObjectByPointer(PVOID Object, ULONG SecurityInformation, PVOID SecurityDescriptor) {
  return SetSecurity(Object, SecurityInformation, SecurityDescriptor);
}

NTSTATUS NTAPI NtSetSecurityObject(HANDLE Handle, ULONG SecurityInformation, PVOID SecurityDescriptor) {
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(Handle, WRITE_DAC, nullptr); !NT_SUCCESS(s)) return s;
  return SetSecurity(ref.body(), SecurityInformation, SecurityDescriptor);
}

}  // namespace ntbox::nt
