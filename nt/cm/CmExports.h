// The configuration manager's services: keys and values of the machine's registry, for programs
// (Nt*, system calls) and drivers (Zw*, the same code with KernelMode as the previous mode).
#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

// KEY_INFORMATION_CLASS and KEY_VALUE_INFORMATION_CLASS.
enum : ULONG {
  KeyBasicInformation = 0,
  KeyNodeInformation = 1,
  KeyFullInformation = 2,
  KeyNameInformation = 3,
  KeyCachedInformation = 4,
};
enum : ULONG {
  KeyValueBasicInformation = 0,
  KeyValueFullInformation = 1,
  KeyValuePartialInformation = 2,
  KeyValueFullInformationAlign64 = 3,
  KeyValuePartialInformationAlign64 = 4,
};

NTSTATUS NTAPI NtCreateKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG TitleIndex,
                           UNICODE_STRING* Class, ULONG CreateOptions, ULONG* Disposition);
NTSTATUS NTAPI NtOpenKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI NtOpenKeyEx(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG OpenOptions);
NTSTATUS NTAPI NtQueryKey(HANDLE KeyHandle, ULONG KeyInformationClass, PVOID KeyInformation, ULONG Length,
                          ULONG* ResultLength);
NTSTATUS NTAPI NtEnumerateKey(HANDLE KeyHandle, ULONG Index, ULONG KeyInformationClass, PVOID KeyInformation,
                              ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI NtQueryValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG KeyValueInformationClass,
                               PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI NtEnumerateValueKey(HANDLE KeyHandle, ULONG Index, ULONG KeyValueInformationClass,
                                   PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI NtSetValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                             ULONG DataSize);
NTSTATUS NTAPI NtDeleteKey(HANDLE KeyHandle);
NTSTATUS NTAPI NtDeleteValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName);
NTSTATUS NTAPI NtFlushKey(HANDLE KeyHandle);

NTSTATUS NTAPI ZwCreateKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG TitleIndex,
                           UNICODE_STRING* Class, ULONG CreateOptions, ULONG* Disposition);
NTSTATUS NTAPI ZwOpenKey(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes);
NTSTATUS NTAPI ZwOpenKeyEx(HANDLE* KeyHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes, ULONG OpenOptions);
NTSTATUS NTAPI ZwQueryKey(HANDLE KeyHandle, ULONG KeyInformationClass, PVOID KeyInformation, ULONG Length,
                          ULONG* ResultLength);
NTSTATUS NTAPI ZwEnumerateKey(HANDLE KeyHandle, ULONG Index, ULONG KeyInformationClass, PVOID KeyInformation,
                              ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI ZwQueryValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG KeyValueInformationClass,
                               PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI ZwEnumerateValueKey(HANDLE KeyHandle, ULONG Index, ULONG KeyValueInformationClass,
                                   PVOID KeyValueInformation, ULONG Length, ULONG* ResultLength);
NTSTATUS NTAPI ZwSetValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                             ULONG DataSize);
NTSTATUS NTAPI ZwDeleteKey(HANDLE KeyHandle);
NTSTATUS NTAPI ZwDeleteValueKey(HANDLE KeyHandle, UNICODE_STRING* ValueName);
NTSTATUS NTAPI ZwFlushKey(HANDLE KeyHandle);

}  // namespace ntbox::nt
