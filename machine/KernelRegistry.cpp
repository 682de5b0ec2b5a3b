#include "machine/KernelRegistry.h"

#include "nt/Status.h"

namespace ntbox::machine {
namespace {

// What a failed change of the store becomes for the service that asked for it.
nt::NTSTATUS StatusOf(const Result<void>& r, nt::NTSTATUS refused) {
  if (r) return nt::STATUS_SUCCESS;
  switch (r.error().win32) {
    case 2:
      return nt::STATUS_OBJECT_NAME_NOT_FOUND;
    case 5:
      return refused;
    case 87:
      return nt::STATUS_INVALID_PARAMETER;
    default:
      return nt::STATUS_REGISTRY_IO_FAILED;
  }
}

nt::cm::StoredValue Stored(RegValue v) { return {std::move(v.name), v.type, std::move(v.data)}; }

}  // namespace

std::optional<std::string> KernelRegistry::FindKey(std::string_view path) { return registry_.CanonicalPath(path); }

nt::NTSTATUS KernelRegistry::CreateKey(std::string_view path) {
  return StatusOf(registry_.CreateKey(path), nt::STATUS_ACCESS_DENIED);
}

nt::NTSTATUS KernelRegistry::DeleteKey(std::string_view path) {
  return StatusOf(registry_.DeleteKey(path), nt::STATUS_CANNOT_DELETE);
}

nt::NTSTATUS KernelRegistry::SetValue(std::string_view path, const nt::cm::StoredValue& value) {
  return StatusOf(registry_.SetValue(path, RegValue{value.name, value.type, value.data}), nt::STATUS_ACCESS_DENIED);
}

nt::NTSTATUS KernelRegistry::DeleteValue(std::string_view path, std::string_view name) {
  return StatusOf(registry_.DeleteValue(path, name), nt::STATUS_ACCESS_DENIED);
}

std::optional<nt::cm::StoredValue> KernelRegistry::GetValue(std::string_view path, std::string_view name) {
  auto v = registry_.GetValue(path, name);
  if (!v) return std::nullopt;
  return Stored(std::move(*v));
}

std::vector<nt::cm::StoredValue> KernelRegistry::Values(std::string_view path) {
  std::vector<nt::cm::StoredValue> out;
  for (auto& v : registry_.Values(path)) out.push_back(Stored(std::move(v)));
  return out;
}

std::vector<std::string> KernelRegistry::Subkeys(std::string_view path) { return registry_.Subkeys(path); }

}  // namespace ntbox::machine
