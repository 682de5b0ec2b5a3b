// The security reference monitor's part ntbox has: the access token every program of the machine
// runs with (one user, an elevated administrator, as a driver developer's test machine has), and
// the services that open and read it.
#pragma once
#include <string_view>

#include "nt/Types.h"

namespace ntbox::nt {

namespace se {
// The machine's one user, and its registry key (HKEY_CURRENT_USER, relative to \REGISTRY).
constexpr std::string_view kUserSid = "S-1-5-21-0-0-0-1000";
constexpr std::string_view kUserKey = "USER\\S-1-5-21-0-0-0-1000";
static_assert(kUserKey.substr(5) == kUserSid);
}  // namespace se

NTSTATUS NTAPI NtOpenProcessToken(HANDLE ProcessHandle, ACCESS_MASK DesiredAccess, HANDLE* TokenHandle);
NTSTATUS NTAPI NtOpenProcessTokenEx(HANDLE ProcessHandle, ACCESS_MASK DesiredAccess, ULONG HandleAttributes,
                                    HANDLE* TokenHandle);
NTSTATUS NTAPI NtOpenThreadToken(HANDLE ThreadHandle, ACCESS_MASK DesiredAccess, BOOLEAN OpenAsSelf,
                                 HANDLE* TokenHandle);
NTSTATUS NTAPI NtOpenThreadTokenEx(HANDLE ThreadHandle, ACCESS_MASK DesiredAccess, BOOLEAN OpenAsSelf,
                                   ULONG HandleAttributes, HANDLE* TokenHandle);
NTSTATUS NTAPI NtQueryInformationToken(HANDLE TokenHandle, ULONG TokenInformationClass, PVOID TokenInformation,
                                       ULONG TokenInformationLength, ULONG* ReturnLength);
NTSTATUS NTAPI NtAdjustPrivilegesToken(HANDLE TokenHandle, BOOLEAN DisableAllPrivileges, PVOID NewState,
                                       ULONG BufferLength, PVOID PreviousState, ULONG* ReturnLength);

}  // namespace ntbox::nt
