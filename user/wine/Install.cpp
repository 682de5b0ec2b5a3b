#include "user/wine/Install.h"

#include <cstdlib>
#include <system_error>

#include "support/Executable.h"

namespace ntbox::user::wine {

namespace fs = std::filesystem;

Result<fs::path> InstallDirectory() {
  fs::path dir;
  if (const char* env = std::getenv("NTBOX_WINE_DIR"); env && *env) {
    dir = env;
  } else {
    const fs::path bin = ExecutableDirectory();
    if (bin.empty()) return Fail("cannot find the ntbox binary to locate the Wine DLLs");
    dir = bin.parent_path() / "lib" / "ntbox" / "wine";
  }
  std::error_code ec;
  if (!fs::is_regular_file(dir / "x86_64-windows" / "ntdll.dll", ec)) {
    return Fail("the Wine DLLs programs run on are not installed in " + dir.string() +
                " (scripts/fetch-wine.sh installs them; NTBOX_WINE_DIR names another place)");
  }
  return dir;
}

Result<fs::path> OwnDllDirectory() {
  const fs::path bin = ExecutableDirectory();
  if (bin.empty()) return Fail("cannot find the ntbox binary to locate its DLLs");
  const fs::path dir = bin.parent_path() / "lib" / "ntbox" / "system32";
  std::error_code ec;
  if (!fs::is_regular_file(dir / "sechost.dll", ec)) return Fail("ntbox's own DLLs are not built in " + dir.string());
  return dir;
}

}  // namespace ntbox::user::wine
