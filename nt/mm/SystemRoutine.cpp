#include <string>

#include "nt/ExportTable.h"
#include "nt/Kernel.h"
#include "nt/ExportThunks.h"
#include "nt/mm/MmExports.h"

namespace ntbox::nt {

PVOID NTAPI MmGetSystemRoutineAddress(UNICODE_STRING* SystemRoutineName) {
  std::string name;
  for (USHORT i = 0; i < SystemRoutineName->Length / 2; ++i) {
    const char16_t c = SystemRoutineName->Buffer[i];
    if (c > 0x7F) return nullptr;  // export names are ASCII
    name.push_back(static_cast<char>(c));
  }
  const Export* e = FindSystemRoutine(name);
  if (!e) return nullptr;
  // The routine as the caller's imports are bound: through its entry thunk, with the IRQL check
  // for a verified driver.
  const auto caller = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
  Kernel& kernel = Kernel::Current();
  const Module* module = kernel.ModuleAt(caller);
  return ExportEntry(*e, module && kernel.config().verifier.On(module->fileName, vf::flags::kIrqlChecking));
}

}  // namespace ntbox::nt
