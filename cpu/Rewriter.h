// Load-time rewriting of the privileged instructions a driver's hot paths execute, so they run at
// native speed instead of through a trap. The IRQL and the interrupt flag are bytes of the GS block
// (nt/ke/Thread.h), so:
//   mov reg, cr8   (KeGetCurrentIrql, PAGED_CODE)  -> a load of gs:[irql]
//   mov cr8, reg   (KeRaiseIrql, KeLowerIrql)      -> a store to gs:[irql] while the IRQL stays on one
//                  side of DISPATCH_LEVEL; a crossing calls the kernel's helper (IrqlWriteEntry: the
//                  verifier's rules, trimming of pageable memory); a value above 15 runs the original
//                  instruction, which traps as it does unrewritten (#GP)
//   cli / sti                                      -> a store to gs:[interrupts disabled]
// The flags are saved around the IRQL store's compares only where they are live after it. Each
// 64-bit constant for KUSER_SHARED_DATA (KeQueryTickCount, SharedUserData->...) points at the host's
// read-only copy the kernel's clock keeps current, rewritten in place.
// A site is rewritten as a jump from a window of whole instructions (the site first, at least 5
// bytes, no branch target inside) to a trampoline in a trailer mapped right after the image: the
// replacements, the other instructions of the window (relative operands re-aimed), and a jump back.
// Where fewer than 5 bytes are free, a 2-byte jump to 5 bytes of padding between functions (int3 or
// nops no code reaches) that jumps on. Anything in doubt is left to the trap handler: code not
// reached from the image's functions, a function with an indirect jump or an exception handler
// other than __C_specific_handler, a window that would hold a call, a relocation or a branch target.
//
// The plan is made from the file in RVA space before the image is mapped (the trailer's size goes
// into the mapping); every displacement between the image and its trailer is the same wherever the
// image lands, so the trampolines are final bytes already (the helper's address is written into the
// trailer's slots at Apply).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::cpu {

// One kind of site: how many there are and what became of them.
struct SiteCount {
  unsigned sites = 0;      // found in the image's code
  unsigned rewritten = 0;  // of those, rewritten (alone or in another site's window)
  unsigned throughPadding = 0;  // of the rewritten, through a short jump to padding
  // Why the others were not (each site counts once, for the first reason found).
  unsigned unreached = 0;        // not in code reached from the image's functions
  unsigned unsafeFunction = 0;   // in a function with an indirect jump, an unknown handler, bad code
  unsigned branchTarget = 0;     // a branch target or a relocation inside the window
  unsigned shortWindow = 0;      // too few bytes of movable instructions, and no padding in reach
  unsigned left() const { return unreached + unsafeFunction + branchTarget + shortWindow; }
};

struct RewriteStats {
  SiteCount cr8Reads, cr8Writes, interruptFlag;  // mov reg, cr8; mov cr8, reg; cli and sti
  // KUSER_SHARED_DATA's address as a 64-bit constant (movabs reg, 0xFFFFF780000003xx; mov rax,
  // [moffs64]) in code reached from the image's functions, and of those rewritten in place.
  unsigned sharedDataSites = 0;
  unsigned sharedDataRewritten = 0;
};

class ImageRewrite {
 public:
  // One rewritten window.
  struct Window {
    std::uint32_t rva = 0;  // where the jump to the trampoline is
    std::uint8_t length = 0;
    std::vector<std::uint8_t> original;  // the window's bytes before
    std::uint32_t trampoline = 0;        // offset in the trailer
    std::uint32_t trampolineLength = 0;
    // Each trampoline instruction (by its offset) and the original instruction it stands for;
    // the jump back stands for the window's end.
    struct Piece {
      std::uint32_t offset = 0;
      std::uint32_t rva = 0;
    };
    std::vector<Piece> pieces;
    // A window under 5 bytes jumps (2 bytes) to 5 bytes of padding that jump on: where, and the
    // padding's bytes before (padRva 0: none).
    std::uint32_t padRva = 0;
    std::vector<std::uint8_t> padOriginal;
  };

  // One 64-bit constant for KUSER_SHARED_DATA rewritten in place to the host's read-only view of
  // the page (same length: no trampoline).
  struct Constant {
    std::uint32_t rva = 0;  // of the 8 bytes
    std::uint64_t original = 0, rewritten = 0;
  };

  // The GS block's bytes the replacements use (nt/ke/Thread.h's kpcr::).
  struct GsBytes {
    std::uint32_t irql = 0;
    std::uint32_t interruptsDisabled = 0;
  };
  // The rewriting of image (its file bytes); sharedData: the read-only view drivers'
  // KUSER_SHARED_DATA constants are pointed at (0: none).
  static ImageRewrite Plan(const pe::PeImage& image, GsBytes gs, std::uint64_t sharedData = 0);

  // Where the trailer goes (its RVA: the image's size, page-aligned) and how big it is (0: none).
  std::uint32_t trailerRva() const { return trailerRva_; }
  std::uint32_t trailerSize() const { return static_cast<std::uint32_t>(trailer_.size()); }
  // The trailer begins with one 8-byte slot per general register: the address of the helper entry
  // a crossing IRQL store through that register calls (IrqlWriteEntry).
  static constexpr std::uint32_t kSlotsSize = 16 * 8;
  const RewriteStats& stats() const { return stats_; }
  const std::vector<Window>& windows() const { return windows_; }
  const std::vector<Constant>& constants() const { return constants_; }
  // Whether there is anything to write (a window or a constant).
  bool empty() const { return windows_.empty() && constants_.empty(); }

  // Writes the trampolines into the trailer and the jumps into the image, which is mapped at base,
  // writable, with its trailer. Nothing of its code may have run yet.
  void Apply(std::uint8_t* base) const;

  // The original instruction a trampoline address stands for (its address), for reports,
  // exceptions and the debugger; nullopt outside the trailer's trampolines.
  std::optional<std::uint64_t> OriginalOf(std::uint64_t base, std::uint64_t address) const;
  // Where execution resumed at an original instruction's address goes on: the trampoline's copy
  // for an instruction moved there (its window now holds the jump), else the address itself.
  std::uint64_t ResumeAt(std::uint64_t base, std::uint64_t address) const;

  // Puts the original bytes back into bytes (a copy of the image's memory at address) where the
  // windows' jumps are: code as the driver was built, for reports and views.
  void RestoreOriginal(std::uint64_t base, std::uint64_t address, std::uint8_t* bytes, std::size_t size) const;

  // Decodes every trampoline against the window it replaced, from the image mapped at base:
  // the same instructions with the same effects, each site's replacement checked for its kind
  // (the same register, the GS byte, the helper's slot). The first difference, as an error.
  Result<void> Verify(std::uint64_t base) const;

 private:
  std::uint32_t trailerRva_ = 0;
  GsBytes gs_;
  std::vector<std::uint8_t> trailer_;
  std::vector<Window> windows_;  // sorted by rva
  std::vector<Constant> constants_;
  std::uint64_t sharedData_ = 0;
  RewriteStats stats_;
};

}  // namespace ntbox::cpu
