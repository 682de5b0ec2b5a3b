/* ntbox SDK: the WDK's dontuse.h, which marks the C runtime's unbounded string routines as
 * deprecated in drivers (use ntstrsafe.h's) through an MSVC pragma. gcc and clang have no
 * warning-only equivalent for a declared function (only #pragma GCC poison, an error), so the
 * header is here for sources that include it, and bans nothing. */
#pragma once
