// Assembly text shared by the routines that load a CONTEXT (x64 layout: Xmm0 at 0x1A0): the
// kernel's own continue (nt/rtl/Exception) and the return to a program's context (user/SystemCall).
#pragma once

#define NTBOX_ASM_LOAD_XMM_FROM(base)      \
  "movdqu 0x1A0(" base "), %xmm0\n"        \
  "movdqu 0x1B0(" base "), %xmm1\n"        \
  "movdqu 0x1C0(" base "), %xmm2\n"        \
  "movdqu 0x1D0(" base "), %xmm3\n"        \
  "movdqu 0x1E0(" base "), %xmm4\n"        \
  "movdqu 0x1F0(" base "), %xmm5\n"        \
  "movdqu 0x200(" base "), %xmm6\n"        \
  "movdqu 0x210(" base "), %xmm7\n"        \
  "movdqu 0x220(" base "), %xmm8\n"        \
  "movdqu 0x230(" base "), %xmm9\n"        \
  "movdqu 0x240(" base "), %xmm10\n"       \
  "movdqu 0x250(" base "), %xmm11\n"       \
  "movdqu 0x260(" base "), %xmm12\n"       \
  "movdqu 0x270(" base "), %xmm13\n"       \
  "movdqu 0x280(" base "), %xmm14\n"       \
  "movdqu 0x290(" base "), %xmm15\n"
