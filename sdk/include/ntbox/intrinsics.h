/* ntbox SDK: MSVC intrinsics drivers use that mingw-w64 declares (intrin.h) but never defines,
 * inline as MSVC emits them. Force-included into every driver by ntbox_add_driver(). Inline, so
 * the cli or sti stands in the driver's own code, where ntbox's load-time rewriting turns it
 * into a store to the thread's interrupt flag; a 2-byte out-of-line body could only trap. The
 * out-of-line copies (sdk/src/intrinsics.c) are linked only where an address is taken. */
#ifndef NTBOX_INTRINSICS_H
#define NTBOX_INTRINSICS_H

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

#endif
