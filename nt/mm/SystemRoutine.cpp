#include <string>

#include "nt/ExportTable.h"
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
  return e ? e->address : nullptr;
}

}  // namespace ntbox::nt
