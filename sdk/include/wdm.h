/* ntbox SDK: mingw-w64's wdm.h, then what sources written against the WDK's headers expect of it
 * and mingw-w64 lacks or spells differently. Found before mingw-w64's DDK directory (ntddk.h
 * includes <wdm.h> too). */
#ifndef NTBOX_SDK_WDM_H
#define NTBOX_SDK_WDM_H

#include_next <wdm.h>

/* CTL_CODE as an unsigned value, as the WDK's compiler sees it: a device type of 0x8000 or more
 * (the range for vendors) shifted as an int overflows, and C++ rejects such a case label in a
 * switch on a ULONG as narrowing. */
#undef CTL_CODE
#define CTL_CODE(DeviceType, Function, Method, Access)                                             \
  ((ULONG)(((ULONG)(DeviceType) << 16) | ((ULONG)(Access) << 14) | ((ULONG)(Function) << 2) |     \
           (ULONG)(Method)))

/* RTL_CONSTANT_STRING in C++: the literal is const there; the buffer pointer is not. A constant
 * expression, so a UNICODE_STRING at file scope needs no constructor (drivers have none run). */
#ifdef __cplusplus
extern "C++" {
template <class C, unsigned long long N>
constexpr C* NtboxConstantStringBuffer(const C (&s)[N]) {
  return const_cast<C*>(s);
}
}
#undef RTL_CONSTANT_STRING
#define RTL_CONSTANT_STRING(s) { sizeof(s) - sizeof((s)[0]), sizeof(s), NtboxConstantStringBuffer(s) }
#endif

/* ExAllocatePool2 (Windows 10 2004) and its POOL_FLAGS. */
#ifndef POOL_FLAG_NON_PAGED
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_REQUIRED_START 0x0000000000000001ULL
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RESERVED1 0x0000000000000010ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
#define POOL_FLAG_REQUIRED_END 0x0000000080000000ULL
#endif
#ifdef __cplusplus
extern "C" {
#endif
NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);

/* Generic DPC calls on every processor (Windows 7). */
NTKERNELAPI VOID NTAPI KeGenericCallDpc(PKDEFERRED_ROUTINE Routine, PVOID Context);
NTKERNELAPI VOID NTAPI KeSignalCallDpcDone(PVOID SystemArgument1);
NTKERNELAPI LOGICAL NTAPI KeSignalCallDpcSynchronize(PVOID SystemArgument2);

/* The WDK's inline for ExDeleteTimer's parameters: version 0, no callback. */
static __inline VOID ExInitializeDeleteTimerParameters(PEXT_DELETE_PARAMETERS Parameters) {
  RtlZeroMemory(Parameters, sizeof *Parameters);
}
#ifdef __cplusplus
}
#endif

/* The driver annotations the WDK's headers have and mingw-w64's driverspecs.h lacks: meaningful
 * to Code Analysis only. */
#ifndef _Dispatch_type_
#define _Dispatch_type_(type)
#endif
#ifndef _Kernel_float_saved_
#define _Kernel_float_saved_
#endif
#ifndef _Kernel_float_restored_
#define _Kernel_float_restored_
#endif
#ifndef _Kernel_requires_resource_held_
#define _Kernel_requires_resource_held_(kind)
#endif
#ifndef _Kernel_acquires_resource_
#define _Kernel_acquires_resource_(kind)
#endif
#ifndef _Kernel_releases_resource_
#define _Kernel_releases_resource_(kind)
#endif

#endif
