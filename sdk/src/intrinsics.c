/* The out-of-line copies of the intrinsics sdk/include/ntbox/prelude.h makes inline, for a
 * driver that takes their address: an archive member, linked only when referenced. */
void _disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
void _enable(void) { __asm__ __volatile__("sti" ::: "memory"); }
