// Where the Wine DLLs and NLS tables programs run on are installed (scripts/fetch-wine.sh):
// $NTBOX_WINE_DIR, else lib/ntbox/wine beside the ntbox binary's bin/ (the build tree and an
// installed tree alike).
#pragma once
#include <filesystem>

#include "support/Result.h"

namespace ntbox::user::wine {

// The directory holding x86_64-windows/ and nls/; an error saying how to install them when absent.
Result<std::filesystem::path> InstallDirectory();
// ntbox's own system DLLs (user/dlls: sechost.dll ...), lib/ntbox/system32 beside bin/; they come
// before Wine's.
Result<std::filesystem::path> OwnDllDirectory();

}  // namespace ntbox::user::wine
