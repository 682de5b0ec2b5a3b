/* ntbox SDK: mingw-w64's ntstrsafe.h, with its routines' bodies at every optimization level and
 * usable from more than one C file of a driver.
 * - gcc defines __NO_INLINE__ at -O0, and mingw-w64 then drops every body, expecting a library
 *   no driver links: the bodies are kept (inline, emitted where used).
 * - Its routines are `extern __inline` definitions, which C99 emits as external definitions in
 *   every translation unit (a driver of two C files fails to link): static inline in C, as C++
 *   gets them inline with one copy kept. */
#ifndef NTBOX_SDK_NTSTRSAFE_H
#define NTBOX_SDK_NTSTRSAFE_H

/* What it includes, first: only its own declarations see the changes below. */
#include <_mingw_unicode.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <specstrings.h>

#pragma push_macro("__CRT__NO_INLINE")
#undef __CRT__NO_INLINE
#ifdef __cplusplus
#include_next <ntstrsafe.h>
#else
#define extern static
#include_next <ntstrsafe.h>
#undef extern
#endif
#pragma pop_macro("__CRT__NO_INLINE")

#endif
