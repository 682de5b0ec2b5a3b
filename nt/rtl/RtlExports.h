// Rtl exports: counted strings, conversions, version, assertions.
#pragma once
#include "nt/Types.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

void NTAPI RtlInitUnicodeString(UNICODE_STRING* Destination, PCWSTR Source);
NTSTATUS NTAPI RtlInitUnicodeStringEx(UNICODE_STRING* Destination, PCWSTR Source);
void NTAPI RtlInitAnsiString(ANSI_STRING* Destination, PCSTR Source);
void NTAPI RtlInitString(STRING* Destination, PCSTR Source);
void NTAPI RtlCopyUnicodeString(UNICODE_STRING* Destination, const UNICODE_STRING* Source);
void NTAPI RtlCopyString(STRING* Destination, const STRING* Source);
NTSTATUS NTAPI RtlAppendUnicodeStringToString(UNICODE_STRING* Destination, const UNICODE_STRING* Source);
NTSTATUS NTAPI RtlAppendUnicodeToString(UNICODE_STRING* Destination, PCWSTR Source);
LONG NTAPI RtlCompareUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                   BOOLEAN CaseInSensitive);
LONG NTAPI RtlCompareString(const STRING* String1, const STRING* String2, BOOLEAN CaseInSensitive);
BOOLEAN NTAPI RtlEqualUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                    BOOLEAN CaseInSensitive);
BOOLEAN NTAPI RtlEqualString(const STRING* String1, const STRING* String2, BOOLEAN CaseInSensitive);
BOOLEAN NTAPI RtlPrefixUnicodeString(const UNICODE_STRING* String1, const UNICODE_STRING* String2,
                                     BOOLEAN CaseInSensitive);
void NTAPI RtlFreeUnicodeString(UNICODE_STRING* UnicodeString);
void NTAPI RtlFreeAnsiString(ANSI_STRING* AnsiString);
NTSTATUS NTAPI RtlAnsiStringToUnicodeString(UNICODE_STRING* Destination, const ANSI_STRING* Source,
                                            BOOLEAN AllocateDestinationString);
NTSTATUS NTAPI RtlUnicodeStringToAnsiString(ANSI_STRING* Destination, const UNICODE_STRING* Source,
                                            BOOLEAN AllocateDestinationString);
NTSTATUS NTAPI RtlUpcaseUnicodeString(UNICODE_STRING* Destination, const UNICODE_STRING* Source,
                                      BOOLEAN AllocateDestinationString);
WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter);
WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter);
NTSTATUS NTAPI RtlUnicodeStringToInteger(const UNICODE_STRING* String, ULONG Base, ULONG* Value);
NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, UNICODE_STRING* String);
NTSTATUS NTAPI RtlCharToInteger(PCSTR String, ULONG Base, ULONG* Value);

// How many bytes from the start the two blocks have in common.
SIZE_T NTAPI RtlCompareMemory(const void* Source1, const void* Source2, SIZE_T Length);

// Bits and bitmaps (rtl/Bitmap.cpp).
struct RTL_BITMAP {
  ULONG SizeOfBitMap;
  ULONG* Buffer;
};
static_assert(sizeof(RTL_BITMAP) == 0x10);
static_assert(offsetof(RTL_BITMAP, Buffer) == 0x8);
CCHAR NTAPI RtlFindMostSignificantBit(ULONGLONG Set);
CCHAR NTAPI RtlFindLeastSignificantBit(ULONGLONG Set);
void NTAPI RtlInitializeBitMap(RTL_BITMAP* BitMapHeader, ULONG* BitMapBuffer, ULONG SizeOfBitMap);
void NTAPI RtlClearAllBits(RTL_BITMAP* BitMapHeader);
void NTAPI RtlSetAllBits(RTL_BITMAP* BitMapHeader);
void NTAPI RtlClearBits(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG NumberToClear);
void NTAPI RtlSetBits(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG NumberToSet);
void NTAPI RtlClearBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber);
void NTAPI RtlSetBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber);
BOOLEAN NTAPI RtlTestBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber);
BOOLEAN NTAPI RtlAreBitsClear(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG Length);
BOOLEAN NTAPI RtlAreBitsSet(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG Length);
ULONG NTAPI RtlFindClearBits(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex);
ULONG NTAPI RtlFindSetBits(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex);
ULONG NTAPI RtlFindClearBitsAndSet(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex);
ULONG NTAPI RtlFindSetBitsAndClear(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex);
ULONG NTAPI RtlNumberOfClearBits(RTL_BITMAP* BitMapHeader);
ULONG NTAPI RtlNumberOfSetBits(RTL_BITMAP* BitMapHeader);

NTSTATUS NTAPI RtlGetVersion(RTL_OSVERSIONINFOW* VersionInformation);
// VER_* type bits and conditions, three bits of condition per type bit.
ULONGLONG NTAPI VerSetConditionMask(ULONGLONG ConditionMask, ULONG TypeMask, UCHAR Condition);
// STATUS_SUCCESS when the machine's version meets every condition; STATUS_REVISION_MISMATCH if not.
NTSTATUS NTAPI RtlVerifyVersionInfo(RTL_OSVERSIONINFOEXW* VersionInfo, ULONG TypeMask, ULONGLONG ConditionMask);
// A new random (version 4) UUID.
NTSTATUS NTAPI ExUuidCreate(void* Uuid);
BOOLEAN NTAPI PsGetVersion(ULONG* MajorVersion, ULONG* MinorVersion, ULONG* BuildNumber,
                           UNICODE_STRING* CSDVersion);

void NTAPI RtlAssert(PVOID FailedAssertion, PVOID FileName, ULONG LineNumber, char* Message);

// Case mapping shared by the Rtl and CRT routines: ASCII, Latin-1 and the basic Greek and
// Cyrillic blocks (what drivers compare in practice); other characters map to themselves.
char16_t UpcaseChar(char16_t c);
char16_t DowncaseChar(char16_t c);

}  // namespace ntbox::nt
