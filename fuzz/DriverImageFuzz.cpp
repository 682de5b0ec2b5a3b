// libFuzzer target: bytes as a driver image, through the in-process kernel's loader: parse and
// validate, map, relocate, bind imports against the export table, read COFF symbols, unload. Every
// input ends in a clean refusal or a loaded image; none may crash or hang the host.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nt/Kernel.h"
#include "nt/ke/Thread.h"
#include "pe/PeImage.h"

namespace {

struct World {
  ntbox::nt::Kernel kernel;
  ntbox::nt::ke::ThreadAttachment attach;
};

World& TheWorld() {
  static World* world = new World();  // one kernel per process, never destroyed mid-run
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = TheWorld();
  auto image = ntbox::pe::PeImage::Parse(std::vector<std::uint8_t>(data, data + size));
  if (!image) return 0;
  auto module = w.kernel.LoadModule(std::move(*image), "/fuzz/input.sys");
  if (module) w.kernel.UnloadModule(*module);
  return 0;
}
