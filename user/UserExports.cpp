#include "user/UserExports.h"

#include "support/Text.h"

namespace ntbox::user {
namespace {

const UserExport* Find(std::span<const UserExport> table, std::string_view name) {
  for (const UserExport& e : table) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

const UserExport* FindUserExport(std::string_view dll, std::string_view name) {
  // kernel32 forwards some functions to ntdll (RtlCaptureContext, __C_specific_handler ...):
  // a program may import them from either.
  if (EqualsNoCase(dll, "kernel32.dll") || EqualsNoCase(dll, "ntdll.dll") || EqualsNoCase(dll, "kernelbase.dll")) {
    return Find(Kernel32Exports(), name);
  }
  if (EqualsNoCase(dll, "msvcrt.dll")) return Find(MsvcrtExports(), name);
  return nullptr;
}

std::optional<std::uint64_t> CrtDataImport(std::string_view dll, std::string_view name, CrtData& crt) {
  if (!EqualsNoCase(dll, "msvcrt.dll")) return std::nullopt;
  auto at = [](auto& field) { return reinterpret_cast<std::uint64_t>(&field); };
  if (name == "_acmdln") return at(crt.acmdln);
  if (name == "_wcmdln") return at(crt.wcmdln);
  if (name == "__initenv" || name == "_environ") return at(crt.environ);
  if (name == "__winitenv" || name == "_wenviron") return at(crt.wenviron);
  if (name == "_fmode") return at(crt.fmode);
  if (name == "_commode") return at(crt.commode);
  if (name == "__argc") return at(crt.argc);
  if (name == "__argv") return at(crt.argv);
  if (name == "__wargv") return at(crt.wargv);
  if (name == "__mb_cur_max") return at(crt.mbCurMax);
  if (name == "_iob") return at(crt.iob);
  return std::nullopt;
}

}  // namespace ntbox::user
