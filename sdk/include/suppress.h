/* ntbox SDK: the WDK's suppress.h, for PREfast's `#pragma prefast(suppress: ...)` and
 * `#pragma warning(suppress: ...)`. No code analysis runs here; the SDK's flags keep gcc and
 * clang quiet about those pragmas (-Wno-unknown-pragmas), so sources that include this build as
 * they are. */
#pragma once
