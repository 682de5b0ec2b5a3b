// libFuzzer target: bytes as a .reg file, as reg import reads it: parse, then apply to a registry
// of its own in one transaction. Every input is refused with a reason or applied; none may crash or
// hang the host, and none may delete a root key or a hive's root.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "machine/RegFile.h"
#include "machine/Registry.h"

namespace {

ntbox::machine::Registry& TheRegistry() {
  static ntbox::machine::Registry* registry = [] {
    const std::string file = "/tmp/ntbox_fuzz_registry_" + std::to_string(::getpid()) + ".db";
    auto r = ntbox::machine::Registry::Open(file);
    if (!r) std::abort();
    (void)(*r)->CreateKey("MACHINE\\SYSTEM\\ControlSet001\\Services");
    (void)(*r)->CreateKey("MACHINE\\SOFTWARE");
    return r->release();
  }();
  return *registry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& registry = TheRegistry();
  auto ops = ntbox::machine::ParseRegFile(std::vector<std::uint8_t>(data, data + size));
  if (ops) (void)ntbox::machine::ApplyRegFile(registry, *ops);
  // The invariant .reg files must never break: the machine's roots stay.
  if (!registry.KeyExists("MACHINE\\SYSTEM\\ControlSet001") || !registry.KeyExists("MACHINE\\SOFTWARE")) {
    std::abort();
  }
  return 0;
}
