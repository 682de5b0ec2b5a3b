/* MSVC intrinsics drivers use that mingw-w64 declares but never defines. Linked into every
 * driver by ntbox_add_driver(); each is the single instruction MSVC emits for it. */
void _disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
void _enable(void) { __asm__ __volatile__("sti" ::: "memory"); }
