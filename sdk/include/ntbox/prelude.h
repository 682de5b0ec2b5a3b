/* ntbox SDK: force-included into every driver by ntbox_add_driver(), before its own headers.
 *
 * MSVC's intrinsics drivers use that mingw-w64 declares (intrin.h) but never defines, inline as
 * MSVC emits them: the cli or sti stands in the driver's own code, where ntbox's load-time
 * rewriting turns it into a store to the thread's interrupt flag (a 2-byte out-of-line body could
 * only trap). Out-of-line copies (sdk/src/intrinsics.c) are linked only where an address is taken.
 *
 * gcc has no structured exception handling: __try gets an error that says what to do instead of
 * a cascade of syntax errors. */
#ifndef NTBOX_PRELUDE_H
#define NTBOX_PRELUDE_H

#ifdef __cplusplus
extern "C" {
#endif

extern __inline__ __attribute__((__gnu_inline__, __always_inline__, __artificial__)) void _disable(void) {
  __asm__ __volatile__("cli" ::: "memory");
}

extern __inline__ __attribute__((__gnu_inline__, __always_inline__, __artificial__)) void _enable(void) {
  __asm__ __volatile__("sti" ::: "memory");
}

#ifdef __cplusplus
}
#endif

#ifndef __clang__
#define __try _Pragma("GCC error \"__try/__except/__finally need structured exception handling, which gcc lacks: build the driver with clang (ntbox_add_driver(NAME SOURCES ... CLANG))\"") if (1)
#define __except(filter) else if (0)
#define __finally if (1)
#define __leave
#endif

#endif
