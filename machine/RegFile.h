// .reg files as regedit and reg.exe write them ("Windows Registry Editor Version 5.00", UTF-16LE
// with a BOM; "REGEDIT4" and UTF-8 are read too). A file is parsed whole before anything changes,
// so a bad line refuses the file with its line number and leaves the registry as it was.
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "machine/Registry.h"
#include "support/Result.h"

namespace ntbox::machine {

struct RegFileOp {
  enum Kind { kCreateKey, kDeleteKey, kSetValue, kDeleteValue } kind;
  std::string key;  // registry path ("MACHINE\...")
  RegValue value;   // for kSetValue; name only for kDeleteValue
};

// Root key names as reg.exe accepts them → registry paths: HKLM → MACHINE, HKU → USER,
// HKCU → USER\.DEFAULT. Returns nullopt for an unknown root.
std::optional<std::string> RegistryPathFromKeyName(std::string_view keyName);
// The key name with its root spelled out (HKLM\X → HKEY_LOCAL_MACHINE\X), as reg.exe prints it.
std::string LongKeyName(std::string_view keyName);

Result<std::vector<RegFileOp>> ParseRegFile(const std::vector<std::uint8_t>& bytes);
Result<void> ApplyRegFile(Registry& registry, const std::vector<RegFileOp>& ops);

// The key and everything below it, as a .reg file (UTF-16LE, CRLF); keyName is how keys are named.
std::vector<std::uint8_t> ExportRegFile(Registry& registry, const std::string& path, const std::string& keyName);
// The .reg text of one value ("\"Start\"=dword:00000003").
std::string FormatRegFileValue(const RegValue& value);

}  // namespace ntbox::machine
