// Bit helpers and bitmaps (RTL_BITMAP: a bit count and the driver's ULONG buffer), as drivers use
// them for slot and resource tables. Bits past SizeOfBitMap are never read or written.
#include "nt/rtl/RtlExports.h"

#include <algorithm>

namespace ntbox::nt {
namespace {

bool Get(const RTL_BITMAP* map, ULONG bit) { return (map->Buffer[bit / 32] >> (bit % 32)) & 1; }

void Put(RTL_BITMAP* map, ULONG first, ULONG count, bool value) {
  for (ULONG bit = first; bit < first + count && bit < map->SizeOfBitMap; ++bit) {
    const ULONG mask = 1u << (bit % 32);
    if (value) {
      map->Buffer[bit / 32] |= mask;
    } else {
      map->Buffer[bit / 32] &= ~mask;
    }
  }
}

bool RunIs(const RTL_BITMAP* map, ULONG first, ULONG count, bool value) {
  if (first > map->SizeOfBitMap || count > map->SizeOfBitMap - first) return false;
  for (ULONG bit = first; bit < first + count; ++bit) {
    if (Get(map, bit) != value) return false;
  }
  return true;
}

// The first run of count bits equal to value at or after hint, wrapping to the start once.
ULONG FindRun(const RTL_BITMAP* map, ULONG count, ULONG hint, bool value) {
  const ULONG size = map->SizeOfBitMap;
  if (hint >= size) hint = 0;
  if (count == 0) return hint;
  if (count > size) return 0xFFFFFFFF;
  for (int pass = 0; pass < 2; ++pass) {
    const ULONG begin = pass == 0 ? hint : 0;
    const ULONG end = pass == 0 ? size : std::min(size, hint + count - 1);
    ULONG run = 0;
    for (ULONG bit = begin; bit < end; ++bit) {
      run = Get(map, bit) == value ? run + 1 : 0;
      if (run == count) return bit + 1 - count;
    }
  }
  return 0xFFFFFFFF;
}

ULONG Count(const RTL_BITMAP* map, bool value) {
  ULONG n = 0;
  for (ULONG bit = 0; bit < map->SizeOfBitMap; ++bit) n += Get(map, bit) == value;
  return n;
}

}  // namespace

CCHAR NTAPI RtlFindMostSignificantBit(ULONGLONG Set) { return Set ? static_cast<CCHAR>(63 - __builtin_clzll(Set)) : -1; }

CCHAR NTAPI RtlFindLeastSignificantBit(ULONGLONG Set) { return Set ? static_cast<CCHAR>(__builtin_ctzll(Set)) : -1; }

void NTAPI RtlInitializeBitMap(RTL_BITMAP* BitMapHeader, ULONG* BitMapBuffer, ULONG SizeOfBitMap) {
  BitMapHeader->SizeOfBitMap = SizeOfBitMap;
  BitMapHeader->Buffer = BitMapBuffer;
}

void NTAPI RtlClearAllBits(RTL_BITMAP* BitMapHeader) { Put(BitMapHeader, 0, BitMapHeader->SizeOfBitMap, false); }
void NTAPI RtlSetAllBits(RTL_BITMAP* BitMapHeader) { Put(BitMapHeader, 0, BitMapHeader->SizeOfBitMap, true); }
void NTAPI RtlClearBits(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG NumberToClear) {
  Put(BitMapHeader, StartingIndex, NumberToClear, false);
}
void NTAPI RtlSetBits(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG NumberToSet) {
  Put(BitMapHeader, StartingIndex, NumberToSet, true);
}
void NTAPI RtlClearBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber) { Put(BitMapHeader, BitNumber, 1, false); }
void NTAPI RtlSetBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber) { Put(BitMapHeader, BitNumber, 1, true); }
BOOLEAN NTAPI RtlTestBit(RTL_BITMAP* BitMapHeader, ULONG BitNumber) {
  return BitNumber < BitMapHeader->SizeOfBitMap && Get(BitMapHeader, BitNumber) ? TRUE : FALSE;
}
BOOLEAN NTAPI RtlAreBitsClear(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG Length) {
  return RunIs(BitMapHeader, StartingIndex, Length, false) ? TRUE : FALSE;
}
BOOLEAN NTAPI RtlAreBitsSet(RTL_BITMAP* BitMapHeader, ULONG StartingIndex, ULONG Length) {
  return RunIs(BitMapHeader, StartingIndex, Length, true) ? TRUE : FALSE;
}
ULONG NTAPI RtlFindClearBits(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex) {
  return FindRun(BitMapHeader, NumberToFind, HintIndex, false);
}
ULONG NTAPI RtlFindSetBits(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex) {
  return FindRun(BitMapHeader, NumberToFind, HintIndex, true);
}
ULONG NTAPI RtlFindClearBitsAndSet(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex) {
  const ULONG at = FindRun(BitMapHeader, NumberToFind, HintIndex, false);
  if (at != 0xFFFFFFFF) Put(BitMapHeader, at, NumberToFind, true);
  return at;
}
ULONG NTAPI RtlFindSetBitsAndClear(RTL_BITMAP* BitMapHeader, ULONG NumberToFind, ULONG HintIndex) {
  const ULONG at = FindRun(BitMapHeader, NumberToFind, HintIndex, true);
  if (at != 0xFFFFFFFF) Put(BitMapHeader, at, NumberToFind, false);
  return at;
}
ULONG NTAPI RtlNumberOfClearBits(RTL_BITMAP* BitMapHeader) { return Count(BitMapHeader, false); }
ULONG NTAPI RtlNumberOfSetBits(RTL_BITMAP* BitMapHeader) { return Count(BitMapHeader, true); }

}  // namespace ntbox::nt
