// libFuzzer target: bytes as a Win32 program image, as ntbox run maps it: parse and validate, then
// map into a process's user range with imports bound to a stand-in, relocate, unmap. Every input
// ends in a clean refusal or a mapped image; none may crash or hang the host.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nt/Kernel.h"
#include "nt/ke/Thread.h"
#include "nt/mm/UserSpace.h"
#include "nt/ps/Process.h"
#include "pe/PeImage.h"
#include "pe/PeLoader.h"

namespace {

struct World {
  ntbox::nt::Kernel kernel;
  ntbox::nt::ke::ThreadAttachment attach;
  std::unique_ptr<ntbox::nt::ps::Process> process;
  World() {
    auto p = ntbox::nt::ps::Process::Create("fuzz.exe");
    if (p) process = std::move(*p);
  }
};

World& TheWorld() {
  static World* world = new World();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = TheWorld();
  if (!w.process) return 0;
  auto image = ntbox::pe::PeImage::Parse(std::vector<std::uint8_t>(data, data + size));
  if (!image) return 0;
  auto* space = w.process->space();
  ntbox::pe::LoadOptions load;
  load.regionStart = space->base() + 0x10000;
  load.regionEnd = space->imageRegionEnd();
  static std::uint64_t stand_in = 0;  // every import binds here: the loader's work, not the DLLs'
  load.resolveImport = [](const ntbox::pe::ImportRef&) -> std::optional<std::uint64_t> {
    return reinterpret_cast<std::uint64_t>(&stand_in);
  };
  auto loaded = ntbox::pe::LoadImage(std::move(*image), load);
  return 0;
}
