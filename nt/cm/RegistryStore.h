// Where the configuration manager keeps keys and values: the machine's registry (machine/Registry,
// an SQLite file) behind an interface, so the kernel does not depend on how it is stored. Paths are
// relative to \REGISTRY ("MACHINE\SOFTWARE\Vendor"), UTF-8, compared without case; the empty path
// is \REGISTRY itself.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nt/Types.h"

namespace ntbox::nt::cm {

struct StoredValue {
  std::string name;  // empty: the key's default value
  ULONG type = 0;
  std::vector<std::uint8_t> data;
};

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  // The key's path as stored (the case it was created with), or nullopt when there is none.
  virtual std::optional<std::string> FindKey(std::string_view path) = 0;
  // Creates one key whose parent exists.
  virtual NTSTATUS CreateKey(std::string_view path) = 0;
  // Deletes a key that has no subkeys (the caller checks), with its values.
  virtual NTSTATUS DeleteKey(std::string_view path) = 0;
  virtual NTSTATUS SetValue(std::string_view path, const StoredValue& value) = 0;
  virtual NTSTATUS DeleteValue(std::string_view path, std::string_view name) = 0;
  virtual std::optional<StoredValue> GetValue(std::string_view path, std::string_view name) = 0;
  // In the order they were first set, as Windows enumerates them.
  virtual std::vector<StoredValue> Values(std::string_view path) = 0;
  // Names, sorted without case as Windows enumerates them.
  virtual std::vector<std::string> Subkeys(std::string_view path) = 0;
};

}  // namespace ntbox::nt::cm
