// The second translation unit: ntstrsafe here too (its workers must not clash at link time).
#include "driver.h"

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, DescribeDevice)
#endif

_Use_decl_annotations_
NTSTATUS
DescribeDevice(
    PDEVICE_EXTENSION Extension,
    ULONG Requests
    )
{
    PAGED_CODE();

    NTSTATUS status = RtlStringCbPrintfW(Extension->DescriptionBuffer, sizeof(Extension->DescriptionBuffer),
                                         L"WdkStyle device, %lu requests", Requests);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    size_t length = 0;
    status = RtlStringCbLengthW(Extension->DescriptionBuffer, sizeof(Extension->DescriptionBuffer), &length);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    Extension->Description.Buffer = Extension->DescriptionBuffer;
    Extension->Description.Length = static_cast<USHORT>(length);
    Extension->Description.MaximumLength = sizeof(Extension->DescriptionBuffer);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
VOID
ReverseBuffer(
    PUCHAR Buffer,
    ULONG Length
    )
{
    for (ULONG i = 0; i < Length / 2; i++) {
        UCHAR t = Buffer[i];
        Buffer[i] = Buffer[Length - 1 - i];
        Buffer[Length - 1 - i] = t;
    }
}

_Use_decl_annotations_
PVOID
AllocateScratch(
    SIZE_T Size
    )
{
    return ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, WDKSTYLE_TAG);
}
