/* ntbox SDK: mingw-w64's ntddk.h (which includes the SDK's wdm.h), then what the WDK's ntddk.h
 * declares and mingw-w64's lacks. */
#ifndef NTBOX_SDK_NTDDK_H
#define NTBOX_SDK_NTDDK_H

#include_next <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif
/* Stack expansion with a context (Windows 8). */
NTKERNELAPI NTSTATUS NTAPI KeExpandKernelStackAndCalloutEx(PEXPAND_STACK_CALLOUT Callout, PVOID Parameter,
                                                           SIZE_T Size, BOOLEAN Wait, PVOID Context);
#ifdef __cplusplus
}
#endif

#endif
