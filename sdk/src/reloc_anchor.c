/* Linked into every driver by ntbox_add_driver().
 * GNU ld writes no .reloc section when an image happens to need no fixups, yet marks it
 * DYNAMIC_BASE; a loader then cannot tell "needs none" from "stripped". One absolute address
 * guarantees a relocation block, so ntbox can place the driver in kernel space like Windows. */
extern char __ImageBase[];
__attribute__((used)) char *const ntbox_reloc_anchor = __ImageBase;
