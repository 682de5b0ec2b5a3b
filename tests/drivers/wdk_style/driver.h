// Shared declarations of a WDK-style driver in two translation units.
#pragma once

#include <ntddk.h>
#include <wdmsec.h>
#include <ntstrsafe.h>
#include <dontuse.h>
#include <suppress.h>

#include "public.h"

#define WDKSTYLE_TAG 'ySdW'

typedef struct _DEVICE_EXTENSION {
    ULONG Requests;
    UNICODE_STRING Description;
    WCHAR DescriptionBuffer[64];
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

_IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS
DescribeDevice(
    _Inout_ PDEVICE_EXTENSION Extension,
    _In_ ULONG Requests
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
ReverseBuffer(
    _Inout_updates_bytes_(Length) PUCHAR Buffer,
    _In_ ULONG Length
    );

_Must_inspect_result_
_IRQL_requires_max_(DISPATCH_LEVEL)
PVOID
AllocateScratch(
    _In_ SIZE_T Size
    );
