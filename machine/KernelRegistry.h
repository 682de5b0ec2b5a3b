// The machine's registry as the kernel's configuration manager sees it (nt/cm/RegistryStore.h).
#pragma once
#include "machine/Registry.h"
#include "nt/cm/RegistryStore.h"

namespace ntbox::machine {

class KernelRegistry final : public nt::cm::RegistryStore {
 public:
  explicit KernelRegistry(Registry& registry) : registry_(registry) {}
  std::optional<std::string> FindKey(std::string_view path) override;
  nt::NTSTATUS CreateKey(std::string_view path) override;
  nt::NTSTATUS DeleteKey(std::string_view path) override;
  nt::NTSTATUS SetValue(std::string_view path, const nt::cm::StoredValue& value) override;
  nt::NTSTATUS DeleteValue(std::string_view path, std::string_view name) override;
  std::optional<nt::cm::StoredValue> GetValue(std::string_view path, std::string_view name) override;
  std::vector<nt::cm::StoredValue> Values(std::string_view path) override;
  std::vector<std::string> Subkeys(std::string_view path) override;

 private:
  Registry& registry_;
};

}  // namespace ntbox::machine
