// On-disk PE/COFF structures (PE32+), defined from the Microsoft PE format specification.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntbox::pe {

constexpr std::uint16_t kDosSignature = 0x5A4D;     // "MZ"
constexpr std::uint32_t kNtSignature = 0x00004550;  // "PE\0\0"
constexpr std::uint16_t kOptionalMagicPe32 = 0x10B;
constexpr std::uint16_t kOptionalMagicPe32Plus = 0x20B;

constexpr std::uint16_t kMachineAmd64 = 0x8664;
constexpr std::uint16_t kMachineI386 = 0x014C;
constexpr std::uint16_t kMachineArm64 = 0xAA64;
constexpr std::uint16_t kMachineArmNt = 0x01C4;
constexpr std::uint16_t kMachineIa64 = 0x0200;

constexpr std::uint16_t kFileRelocsStripped = 0x0001;
constexpr std::uint16_t kFileExecutableImage = 0x0002;
constexpr std::uint16_t kFileDll = 0x2000;

constexpr std::uint16_t kSubsystemNative = 1;
constexpr std::uint16_t kSubsystemWindowsGui = 2;
constexpr std::uint16_t kSubsystemWindowsCui = 3;

constexpr std::uint16_t kDllDynamicBase = 0x0040;
constexpr std::uint16_t kDllForceIntegrity = 0x0080;
constexpr std::uint16_t kDllNxCompat = 0x0100;

constexpr std::uint32_t kSectionCode = 0x00000020;
constexpr std::uint32_t kSectionInitializedData = 0x00000040;
constexpr std::uint32_t kSectionUninitializedData = 0x00000080;
constexpr std::uint32_t kSectionDiscardable = 0x02000000;
constexpr std::uint32_t kSectionNotPaged = 0x08000000;
constexpr std::uint32_t kSectionExecute = 0x20000000;
constexpr std::uint32_t kSectionRead = 0x40000000;
constexpr std::uint32_t kSectionWrite = 0x80000000;

enum DirectoryIndex : unsigned {
  kDirExport = 0,
  kDirImport = 1,
  kDirResource = 2,
  kDirException = 3,
  kDirSecurity = 4,
  kDirBaseReloc = 5,
  kDirDebug = 6,
  kDirTls = 9,
  kDirLoadConfig = 10,
  kDirIat = 12,
  kDirDelayImport = 13,
  kDirCount = 16,
};

constexpr std::uint16_t kRelAbsolute = 0;
constexpr std::uint16_t kRelHighLow = 3;
constexpr std::uint16_t kRelDir64 = 10;

struct DosHeader {
  std::uint16_t e_magic;
  std::uint16_t e_cblp, e_cp, e_crlc, e_cparhdr, e_minalloc, e_maxalloc, e_ss, e_sp, e_csum,
      e_ip, e_cs, e_lfarlc, e_ovno;
  std::uint16_t e_res[4];
  std::uint16_t e_oemid, e_oeminfo;
  std::uint16_t e_res2[10];
  std::int32_t e_lfanew;
};
static_assert(sizeof(DosHeader) == 64);
static_assert(offsetof(DosHeader, e_lfanew) == 0x3C);

struct FileHeader {
  std::uint16_t Machine;
  std::uint16_t NumberOfSections;
  std::uint32_t TimeDateStamp;
  std::uint32_t PointerToSymbolTable;
  std::uint32_t NumberOfSymbols;
  std::uint16_t SizeOfOptionalHeader;
  std::uint16_t Characteristics;
};
static_assert(sizeof(FileHeader) == 20);

struct DataDirectory {
  std::uint32_t VirtualAddress;
  std::uint32_t Size;
};

struct OptionalHeader64 {
  std::uint16_t Magic;
  std::uint8_t MajorLinkerVersion, MinorLinkerVersion;
  std::uint32_t SizeOfCode, SizeOfInitializedData, SizeOfUninitializedData;
  std::uint32_t AddressOfEntryPoint;
  std::uint32_t BaseOfCode;
  std::uint64_t ImageBase;
  std::uint32_t SectionAlignment;
  std::uint32_t FileAlignment;
  std::uint16_t MajorOperatingSystemVersion, MinorOperatingSystemVersion;
  std::uint16_t MajorImageVersion, MinorImageVersion;
  std::uint16_t MajorSubsystemVersion, MinorSubsystemVersion;
  std::uint32_t Win32VersionValue;
  std::uint32_t SizeOfImage;
  std::uint32_t SizeOfHeaders;
  std::uint32_t CheckSum;
  std::uint16_t Subsystem;
  std::uint16_t DllCharacteristics;
  std::uint64_t SizeOfStackReserve, SizeOfStackCommit, SizeOfHeapReserve, SizeOfHeapCommit;
  std::uint32_t LoaderFlags;
  std::uint32_t NumberOfRvaAndSizes;
  DataDirectory Directory[kDirCount];
};
static_assert(sizeof(OptionalHeader64) == 240);
static_assert(offsetof(OptionalHeader64, ImageBase) == 24);
static_assert(offsetof(OptionalHeader64, NumberOfRvaAndSizes) == 108);

struct SectionHeader {
  char Name[8];
  std::uint32_t VirtualSize;
  std::uint32_t VirtualAddress;
  std::uint32_t SizeOfRawData;
  std::uint32_t PointerToRawData;
  std::uint32_t PointerToRelocations;
  std::uint32_t PointerToLinenumbers;
  std::uint16_t NumberOfRelocations;
  std::uint16_t NumberOfLinenumbers;
  std::uint32_t Characteristics;
};
static_assert(sizeof(SectionHeader) == 40);

struct ImportDescriptor {
  std::uint32_t OriginalFirstThunk;  // import lookup table
  std::uint32_t TimeDateStamp;
  std::uint32_t ForwarderChain;
  std::uint32_t Name;
  std::uint32_t FirstThunk;  // import address table
};
static_assert(sizeof(ImportDescriptor) == 20);

constexpr std::uint64_t kOrdinalFlag64 = 0x8000000000000000ull;

struct ExportDirectory {
  std::uint32_t Characteristics;
  std::uint32_t TimeDateStamp;
  std::uint16_t MajorVersion, MinorVersion;
  std::uint32_t Name;
  std::uint32_t Base;
  std::uint32_t NumberOfFunctions;
  std::uint32_t NumberOfNames;
  std::uint32_t AddressOfFunctions;
  std::uint32_t AddressOfNames;
  std::uint32_t AddressOfNameOrdinals;
};
static_assert(sizeof(ExportDirectory) == 40);

struct BaseRelocationBlock {
  std::uint32_t VirtualAddress;
  std::uint32_t SizeOfBlock;
};
static_assert(sizeof(BaseRelocationBlock) == 8);

}  // namespace ntbox::pe
