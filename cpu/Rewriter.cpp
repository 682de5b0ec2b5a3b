#include "cpu/Rewriter.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "cpu/Trap.h"

namespace ntbox::cpu {
namespace {

constexpr std::uint32_t kPage = 4096;
// The analysis keeps a few bytes of state per byte of image: a larger image (the loader takes up
// to 512 MiB) is left to the trap handler rather than costing gigabytes.
constexpr std::uint32_t kMaxAnalysedImage = 64u << 20;
constexpr std::uint32_t kJumpLength = 5;  // jmp rel32
constexpr std::uint32_t kScnCode = 0x20, kScnExecute = 0x20000000;
constexpr std::uint8_t kUnwindExceptionHandler = 1, kUnwindTerminationHandler = 2, kUnwindChained = 4;

template <class T>
bool ReadAt(const std::vector<std::uint8_t>& view, std::uint64_t rva, T& out) {
  if (rva > view.size() || sizeof(T) > view.size() - rva) return false;
  std::memcpy(&out, view.data() + rva, sizeof(T));
  return true;
}

// The image as the loader lays it out (headers, then each section at its RVA), at its preferred
// base: what the rewriter analyses.
std::vector<std::uint8_t> Layout(const pe::PeImage& image) {
  std::vector<std::uint8_t> view(image.sizeOfImage(), 0);
  const auto& file = image.file();
  std::memcpy(view.data(), file.data(), std::min<std::size_t>({image.sizeOfHeaders(), file.size(), view.size()}));
  for (const pe::Section& s : image.sections()) {
    if (s.virtualAddress >= view.size()) continue;
    const std::size_t n = std::min<std::size_t>(s.rawSize, view.size() - s.virtualAddress);
    if (n) std::memcpy(view.data() + s.virtualAddress, file.data() + s.rawOffset, n);
  }
  return view;
}

struct Insn {
  ZydisDecodedInstruction insn{};
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT]{};
};

// Whether an instruction may be a site: an IRQL access, cli/sti, or a 64-bit constant (the later
// checks decide).
bool MaySite(const Insn& d);

// The analysis: recursive descent over the image's code from its functions, the branch targets,
// and which code is rewritable.
class Analysis {
 public:
  Analysis(const pe::PeImage& image, std::vector<std::uint8_t> view) : image_(image), view_(std::move(view)) {
    ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    length_.assign(view_.size(), 0);
    owner_.assign(view_.size(), kNone);
    strong_.assign(view_.size(), false);
    target_.assign(view_.size(), false);
    relocated_.assign(view_.size(), false);
    table_.assign(view_.size(), false);
    for (const pe::Section& s : image.sections()) {
      if (s.characteristics & (kScnCode | kScnExecute)) code_.emplace_back(s.virtualAddress, s.virtualAddress + s.virtualSize);
    }
  }

  void Run() {
    ReadImports();
    ReadRelocations();
    // Strong seeds: the image's functions (.pdata), its entry point, its exports, and what their
    // code calls. Their code is what may be rewritten.
    std::vector<std::uint32_t> seeds;
    const pe::DataDirectory pdata = image_.directory(pe::kDirException);
    for (std::uint32_t at = 0; at + 12 <= pdata.Size; at += 12) {
      std::uint32_t entry[3];
      if (!ReadAt(view_, pdata.VirtualAddress + at, entry)) break;
      if (!InCode(entry[0])) continue;
      seeds.push_back(entry[0]);
      functions_.emplace_back(entry[0], entry[1]);
      ReadHandler(entry[0], entry[1], entry[2]);
    }
    if (InCode(image_.entryPointRva())) seeds.push_back(image_.entryPointRva());
    ReadExports(seeds);
    // Functions .pdata does not list (clang emits no entry for a leaf) whose address is stored as a
    // pointer (a callback table): a relocated pointer to a 16-byte aligned address outside every
    // listed function, where compilers start functions; a case label or a jump table is inside one.
    std::sort(functions_.begin(), functions_.end());
    for (const std::uint32_t p : pointers_) {
      auto it = std::upper_bound(functions_.begin(), functions_.end(), std::make_pair(p, ~0u));
      const bool inside = it != functions_.begin() && p < std::prev(it)->second;
      if (p % 16 == 0 && !inside) seeds.push_back(p);
    }
    for (const std::uint32_t s : seeds) Target(s);
    for (const std::uint32_t s : seeds) Descend(s, true);
    for (std::size_t i = 0; i < calls_.size(); ++i) Descend(calls_[i], true);
    // Weak seeds: addresses of code taken as data (relocated pointers, rip-relative lea). Their
    // code is decoded for its branch targets only: a pointer into .text may be a jump table.
    for (std::size_t i = 0; i < weak_.size(); ++i) Descend(weak_[i], false);
  }

  bool InCode(std::uint64_t rva) const {
    return std::any_of(code_.begin(), code_.end(), [&](const auto& r) { return rva >= r.first && rva < r.second; });
  }
  bool Decoded(std::uint32_t rva) const { return rva < length_.size() && length_[rva] != 0; }
  bool Strong(std::uint32_t rva) const { return rva < strong_.size() && strong_[rva]; }
  bool IsTarget(std::uint32_t rva) const { return rva < target_.size() && target_[rva]; }
  bool Relocated(std::uint32_t rva) const { return rva < relocated_.size() && relocated_[rva]; }
  bool SafeAt(std::uint32_t rva) const {
    const std::uint32_t o = owner_[rva];
    return o != kNone && !unsafe_[Find(o)];
  }
  bool Decode(std::uint32_t rva, Insn& out) const {
    if (rva >= view_.size()) return false;
    const std::size_t available = std::min<std::size_t>(15, view_.size() - rva);
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder_, view_.data() + rva, available, &out.insn, out.ops));
  }
  const std::vector<std::uint8_t>& view() const { return view_; }
  // The decoded instructions that may be sites (MaySite), in order.
  std::vector<std::uint32_t> Candidates() const {
    std::vector<std::uint32_t> all = candidates_;
    std::sort(all.begin(), all.end());
    return all;
  }

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFF;

  // Regions: the code reached from one seed without following calls; joined where they meet.
  std::uint32_t NewRegion() {
    parent_.push_back(static_cast<std::uint32_t>(parent_.size()));
    unsafe_.push_back(false);
    return parent_.back();
  }
  std::uint32_t Find(std::uint32_t r) const {
    while (parent_[r] != r) r = parent_[r];
    return r;
  }
  void Join(std::uint32_t a, std::uint32_t b) {
    a = Find(a);
    b = Find(b);
    if (a == b) return;
    parent_[b] = a;
    unsafe_[a] = unsafe_[a] || unsafe_[b];
  }
  void MarkUnsafe(std::uint32_t r) { unsafe_[Find(r)] = true; }

  void Target(std::uint64_t rva) {
    if (rva < target_.size()) target_[rva] = true;
  }

  void Descend(std::uint32_t seed, bool strong) {
    if (!InCode(seed)) return;
    if (Decoded(seed) && (!strong || strong_[seed])) return;
    const std::uint32_t region = NewRegion();
    std::vector<std::uint32_t> work{seed};
    std::vector<std::uint32_t> path;  // the straight line of code just walked
    while (!work.empty()) {
      std::uint32_t rva = work.back();
      work.pop_back();
      path.clear();
      for (;;) {
        if (!InCode(rva) || table_[rva]) {
          if (strong || !table_[rva]) MarkUnsafe(region);  // ran off the code: data, or a function that does not return
          break;
        }
        if (length_[rva]) {
          Join(owner_[rva], region);
          if (!strong || strong_[rva]) break;
        } else if (owner_[rva] != kNone) {
          // Inside an instruction decoded before: overlapping code (or data taken for code).
          MarkUnsafe(owner_[rva]);
          MarkUnsafe(region);
          break;
        }
        Insn d;
        if (!Decode(rva, d)) {
          MarkUnsafe(region);
          break;
        }
        const std::uint32_t length = d.insn.length;
        bool overlap = false;
        for (std::uint32_t i = 1; i < length && rva + i < length_.size(); ++i) {
          if (length_[rva + i] || (owner_[rva + i] != kNone && owner_[rva + i] != owner_[rva])) overlap = true;
        }
        if (overlap) {
          MarkUnsafe(region);
          if (owner_[rva] != kNone) MarkUnsafe(owner_[rva]);
          break;
        }
        if (!length_[rva]) {
          length_[rva] = static_cast<std::uint8_t>(length);
          for (std::uint32_t i = 0; i < length && rva + i < owner_.size(); ++i) owner_[rva + i] = region;
          if (MaySite(d)) candidates_.push_back(rva);
        } else {
          Join(owner_[rva], region);
        }
        if (strong) strong_[rva] = true;
        if (path.size() == kPathLength) path.erase(path.begin());
        path.push_back(rva);
        const std::uint64_t next = std::uint64_t{rva} + length;
        // Operands that name code: rip-relative addresses (a lea of a function, a jump table).
        for (int i = 0; i < d.insn.operand_count_visible; ++i) {
          const auto& op = d.ops[i];
          if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP) {
            const std::uint64_t at = next + static_cast<std::uint64_t>(op.mem.disp.value);
            if (InCode(at)) {
              Target(at);
              weak_.push_back(static_cast<std::uint32_t>(at));
            }
          }
        }
        const auto category = d.insn.meta.category;
        const bool relative = d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && d.ops[0].imm.is_relative;
        const std::uint64_t branch = relative ? next + static_cast<std::uint64_t>(d.ops[0].imm.value.s) : 0;
        if (category == ZYDIS_CATEGORY_CALL) {
          if (relative) {
            Target(branch);
            calls_.push_back(static_cast<std::uint32_t>(branch));
          }
          rva = static_cast<std::uint32_t>(next);
          continue;
        }
        if (category == ZYDIS_CATEGORY_COND_BR) {
          if (!relative) {
            MarkUnsafe(region);
            break;
          }
          Target(branch);
          work.push_back(static_cast<std::uint32_t>(branch));
          rva = static_cast<std::uint32_t>(next);
          continue;
        }
        if (category == ZYDIS_CATEGORY_UNCOND_BR) {
          if (relative) {
            Target(branch);
            rva = static_cast<std::uint32_t>(branch);
            path.clear();
            continue;
          }
          // jmp [rip+x]: a tail call through the import table. A switch's jump table is followed
          // when its shape is understood (JumpTable); any other indirect jump (a computed target)
          // leaves the function to the trap handler.
          const auto& op = d.ops[0];
          if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP &&
              op.mem.index == ZYDIS_REGISTER_NONE) {
            break;
          }
          const auto cases = strong && op.type == ZYDIS_OPERAND_TYPE_REGISTER ? JumpTable(path, op.reg.value)
                                                                              : std::nullopt;
          if (!cases) {
            MarkUnsafe(region);
            break;
          }
          for (const std::uint32_t c : *cases) {
            Target(c);
            work.push_back(c);
          }
          break;
        }
        if (category == ZYDIS_CATEGORY_RET || d.insn.mnemonic == ZYDIS_MNEMONIC_INT3 ||
            d.insn.mnemonic == ZYDIS_MNEMONIC_UD2 || d.insn.mnemonic == ZYDIS_MNEMONIC_HLT ||
            d.insn.mnemonic == ZYDIS_MNEMONIC_INT) {
          break;
        }
        rva = static_cast<std::uint32_t>(next);
      }
    }
  }

  static constexpr std::size_t kPathLength = 24;

  // The cases of a switch's jump table, as gcc and clang emit it for x64 (entries are 32-bit
  // offsets from the table, which may sit inside .text), from the code walked up to `jmp r`:
  //   cmp idx, N-1 ; ja default          (jae: N; clang -O0: sub idx, N-1)
  //   ... lea t, [rip+table] ; movsxd r, dword [t+idx*4] (or mov r32, [...]; cdqe)
  //   add r, t ; jmp r
  // The table's bytes are marked as data, never decoded as code. nullopt when the shape differs or
  // an entry does not lead into code.
  std::optional<std::vector<std::uint32_t>> JumpTable(const std::vector<std::uint32_t>& walked, ZydisRegister r) {
    std::vector<std::pair<std::uint32_t, Insn>> path(walked.size());
    for (std::size_t k = 0; k < walked.size(); ++k) {
      path[k].first = walked[k];
      if (!Decode(walked[k], path[k].second)) return std::nullopt;
    }
    auto largest = [](ZydisRegister x) { return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, x); };
    auto writes = [&](const Insn& d, ZydisRegister x) {
      for (int i = 0; i < d.insn.operand_count; ++i) {
        const auto& op = d.ops[i];
        if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
            largest(op.reg.value) == largest(x)) {
          return true;
        }
      }
      return false;
    };
    std::size_t i = path.size();  // the jmp is not in path yet
    // add r, t
    while (i > 0 && !writes(path[i - 1].second, r)) --i;
    if (i == 0) return std::nullopt;
    const Insn& add = path[--i].second;
    if (add.insn.mnemonic != ZYDIS_MNEMONIC_ADD || add.ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        largest(add.ops[0].reg.value) != largest(r)) {
      return std::nullopt;
    }
    const ZydisRegister t = add.ops[1].reg.value;
    // lea t, [rip+table]
    std::size_t j = i;
    while (j > 0 && !writes(path[j - 1].second, t)) --j;
    if (j == 0) return std::nullopt;
    const auto& [leaAt, lea] = path[--j];
    if (lea.insn.mnemonic != ZYDIS_MNEMONIC_LEA || lea.ops[1].mem.base != ZYDIS_REGISTER_RIP) return std::nullopt;
    const std::uint64_t table = leaAt + lea.insn.length + static_cast<std::uint64_t>(lea.ops[1].mem.disp.value);
    // A 4-byte entry loaded, and before it the bound: cmp reg, imm followed by ja or jae.
    bool entryLoad = false;
    std::optional<std::uint64_t> count;
    for (std::size_t k = i; k-- > 0 && !count;) {
      const Insn& d = path[k].second;
      if ((d.insn.mnemonic == ZYDIS_MNEMONIC_MOVSXD || d.insn.mnemonic == ZYDIS_MNEMONIC_MOV) &&
          d.ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[1].size == 32 && d.ops[1].mem.base != ZYDIS_REGISTER_RIP) {
        entryLoad = true;
      }
      const bool above = d.insn.mnemonic == ZYDIS_MNEMONIC_JNBE, aboveOrEqual = d.insn.mnemonic == ZYDIS_MNEMONIC_JNB;
      if ((above || aboveOrEqual) && k > 0) {
        const Insn& cmp = path[k - 1].second;  // cmp or sub (clang -O0), of a register or a variable
        if ((cmp.insn.mnemonic != ZYDIS_MNEMONIC_CMP && cmp.insn.mnemonic != ZYDIS_MNEMONIC_SUB) ||
            cmp.ops[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || (cmp.ops[1].imm.is_signed && cmp.ops[1].imm.value.s < 0)) {
          return std::nullopt;
        }
        count = cmp.ops[1].imm.value.u + (above ? 1 : 0);
      } else if (d.insn.meta.category == ZYDIS_CATEGORY_COND_BR || d.insn.meta.category == ZYDIS_CATEGORY_CALL) {
        return std::nullopt;
      }
    }
    if (!entryLoad || !count || *count == 0 || *count > 4096 || table + 4 * *count > view_.size()) return std::nullopt;
    std::vector<std::uint32_t> cases;
    for (std::uint64_t k = 0; k < *count; ++k) {
      std::int32_t entry = 0;
      if (!ReadAt(view_, table + 4 * k, entry)) return std::nullopt;
      const std::uint64_t target = table + static_cast<std::uint64_t>(static_cast<std::int64_t>(entry));
      if (!InCode(target)) return std::nullopt;
      cases.push_back(static_cast<std::uint32_t>(target));
    }
    for (std::uint64_t b = table; b < table + 4 * *count; ++b) table_[b] = true;
    return cases;
  }

  // A function's exception handler: __C_specific_handler's scope table names the code that runs
  // on an exception (filters, __except and __finally blocks); any other handler's data is not
  // understood, and its function is left alone.
  void ReadHandler(std::uint32_t begin, std::uint32_t end, std::uint32_t unwind) {
    std::uint8_t header[4];
    if (!ReadAt(view_, unwind, header)) return;
    const std::uint8_t flags = header[0] >> 3;
    if (flags & kUnwindChained || !(flags & (kUnwindExceptionHandler | kUnwindTerminationHandler))) return;
    const std::uint32_t codes = (header[2] + 1u) & ~1u;
    const std::uint64_t at = std::uint64_t{unwind} + 4 + 2ull * codes;
    std::uint32_t handler = 0, count = 0;
    const bool known = ReadAt(view_, at, handler) && IsCSpecificHandler(handler) && ReadAt(view_, at + 4, count) &&
                       count <= 1024;
    if (known) {
      for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t scope[4];  // BeginAddress, EndAddress, HandlerAddress, JumpTarget
        if (!ReadAt(view_, at + 8 + 16ull * i, scope)) break;
        for (const std::uint32_t a : {scope[2], scope[3]}) {
          if (a > 1 && InCode(a)) {
            Target(a);
            calls_.push_back(a);
          }
        }
      }
      return;
    }
    unknownHandlers_.emplace_back(begin, end);
  }

 public:
  // Whether the status flags may be read after rva before all six are written again: along the
  // code that follows (direct jumps followed), up to 32 instructions. A call or a return ends them
  // (no routine takes or returns flags); a conditional branch, an indirect jump, or code not
  // decoded keeps them.
  bool FlagsLiveAt(std::uint32_t rva) const {
    constexpr ZydisAccessedFlagsMask kStatus = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF |
                                               ZYDIS_CPUFLAG_ZF | ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;
    ZydisAccessedFlagsMask written = 0;
    for (int n = 0; n < 32; ++n) {
      Insn d;
      if (!Decoded(rva) || !Decode(rva, d)) return true;
      if (const ZydisAccessedFlags* f = d.insn.cpu_flags) {
        if (f->tested & kStatus & ~written) return true;
        written |= (f->modified | f->set_0 | f->set_1 | f->undefined) & kStatus;
        if (written == kStatus) return false;
      }
      const auto c = d.insn.meta.category;
      if (c == ZYDIS_CATEGORY_CALL || c == ZYDIS_CATEGORY_RET) return false;
      if (c == ZYDIS_CATEGORY_UNCOND_BR && d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && d.ops[0].imm.is_relative) {
        rva = static_cast<std::uint32_t>(rva + d.insn.length + d.ops[0].imm.value.s);
        continue;
      }
      if (c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR || d.insn.mnemonic == ZYDIS_MNEMONIC_INT3 ||
          d.insn.mnemonic == ZYDIS_MNEMONIC_UD2) {
        return true;
      }
      rva += d.insn.length;
    }
    return true;
  }

  // Padding between functions within reach of a short jump at from (the jump's end): 5 bytes that
  // no code reaches and that are int3 or whole nops (what compilers and linkers align functions
  // with), no relocation or branch target among them, clear of the ranges already taken; the
  // nearest such place, or 0. A jump table inside .text is neither.
  std::uint32_t FindPadding(std::uint32_t from, const std::vector<std::uint32_t>& taken) const {
    auto free = [&](std::uint32_t rva) {
      return rva < view_.size() && owner_[rva] == kNone && !target_[rva] && !relocated_[rva] && !table_[rva] &&
             InCode(rva);
    };
    const std::uint32_t low = from > 128 ? from - 128 : 0;
    const std::uint32_t high = from + 127 + kJumpLength;
    std::uint32_t best = 0;
    std::uint64_t bestDistance = ~0ull;
    for (std::uint32_t rva = low, runStart = low; rva < high;) {
      std::uint32_t length = 0;
      const std::uint8_t b = rva < view_.size() ? view_[rva] : 0;
      if (free(rva) && b == 0xCC) {
        length = 1;
      } else if (Insn d; free(rva) && (b == 0x90 || b == 0x66 || b == 0x0F || b == 0x2E) && Decode(rva, d) &&
                         d.insn.mnemonic == ZYDIS_MNEMONIC_NOP) {
        length = d.insn.length;
        for (std::uint32_t k = 1; k < length; ++k) {
          if (!free(rva + k)) length = 0;
        }
      }
      if (length == 0) {
        runStart = ++rva;
        continue;
      }
      rva += length;
      // Each place of 5 bytes in the run so far that ends here or before.
      for (std::uint32_t p = runStart; p + kJumpLength <= rva; ++p) {
        const std::int64_t offset = std::int64_t{p} - from;
        if (offset < -128 || offset > 127) continue;
        const bool clear = std::none_of(taken.begin(), taken.end(),
                                        [&](std::uint32_t t) { return p < t + kJumpLength && t < p + kJumpLength; });
        const std::uint64_t distance = static_cast<std::uint64_t>(offset < 0 ? -offset : offset);
        if (clear && distance < bestDistance) {
          best = p;
          bestDistance = distance;
        }
      }
    }
    return best;
  }

  // Functions whose handler is not understood: no site in them is rewritten.
  bool InUnknownHandlerFunction(std::uint32_t rva) const {
    return std::any_of(unknownHandlers_.begin(), unknownHandlers_.end(),
                       [&](const auto& f) { return rva >= f.first && rva < f.second; });
  }

 private:
  // The handler is an import thunk (jmp [rip+slot]) whose slot binds __C_specific_handler.
  bool IsCSpecificHandler(std::uint32_t rva) const {
    Insn d;
    if (!Decode(rva, d) || d.insn.mnemonic != ZYDIS_MNEMONIC_JMP || d.ops[0].type != ZYDIS_OPERAND_TYPE_MEMORY ||
        d.ops[0].mem.base != ZYDIS_REGISTER_RIP) {
      return false;
    }
    const std::uint64_t slot = rva + d.insn.length + static_cast<std::uint64_t>(d.ops[0].mem.disp.value);
    const auto it = std::find_if(imports_.begin(), imports_.end(), [&](const auto& i) { return i.first == slot; });
    return it != imports_.end() && it->second == "__C_specific_handler";
  }

  void ReadImports() {
    const pe::DataDirectory dir = image_.directory(pe::kDirImport);
    for (std::uint32_t at = 0; at + 20 <= dir.Size && at < 20 * 256; at += 20) {
      std::uint32_t d[5];
      if (!ReadAt(view_, dir.VirtualAddress + at, d) || (d[0] == 0 && d[4] == 0)) break;
      const std::uint32_t names = d[0] ? d[0] : d[4];
      for (std::uint32_t i = 0; i < 4096; ++i) {
        std::uint64_t thunk = 0;
        if (!ReadAt(view_, names + 8ull * i, thunk) || thunk == 0) break;
        std::string name;
        if (!(thunk >> 63)) {
          for (std::uint64_t c = (thunk & 0x7FFFFFFF) + 2; c < view_.size() && view_[c] && name.size() < 256; ++c) {
            name += static_cast<char>(view_[c]);
          }
        }
        imports_.emplace_back(d[4] + 8ull * i, std::move(name));
      }
    }
  }

  void ReadRelocations() {
    const pe::DataDirectory dir = image_.directory(pe::kDirBaseReloc);
    std::uint32_t offset = 0;
    while (offset + 8 <= dir.Size) {
      std::uint32_t block[2];
      if (!ReadAt(view_, dir.VirtualAddress + offset, block) || block[1] < 8 || block[1] > dir.Size - offset) break;
      for (std::uint32_t i = 0; i < (block[1] - 8) / 2; ++i) {
        std::uint16_t entry = 0;
        if (!ReadAt(view_, dir.VirtualAddress + offset + 8 + 2ull * i, entry)) break;
        const std::uint32_t type = entry >> 12;
        const std::uint64_t rva = std::uint64_t{block[0]} + (entry & 0xFFF);
        const std::uint32_t width = type == 10 ? 8 : type == 3 ? 4 : type == 0 ? 0 : 2;
        for (std::uint32_t b = 0; b < width && rva + b < relocated_.size(); ++b) relocated_[rva + b] = true;
        std::uint64_t value = 0;
        if (type == 10 && ReadAt(view_, rva, value)) {
          const std::uint64_t target = value - image_.preferredBase();
          if (InCode(target)) {
            Target(target);
            weak_.push_back(static_cast<std::uint32_t>(target));
            pointers_.push_back(static_cast<std::uint32_t>(target));
          }
        }
      }
      offset += block[1];
    }
  }

  void ReadExports(std::vector<std::uint32_t>& seeds) {
    const pe::DataDirectory dir = image_.directory(pe::kDirExport);
    std::uint32_t header[10];
    if (dir.Size < 40 || !ReadAt(view_, dir.VirtualAddress, header)) return;
    const std::uint32_t count = std::min<std::uint32_t>(header[5], 65536), functions = header[7];
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t rva = 0;
      if (!ReadAt(view_, functions + 4ull * i, rva)) break;
      if (InCode(rva)) seeds.push_back(rva);
    }
  }

  const pe::PeImage& image_;
  std::vector<std::uint8_t> view_;
  ZydisDecoder decoder_{};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> code_;
  std::vector<std::uint8_t> length_;    // instruction length at its first byte
  std::vector<std::uint32_t> owner_;    // region of each decoded byte
  std::vector<bool> strong_, target_, relocated_;
  std::vector<bool> table_;  // jump tables' bytes: data
  std::vector<std::uint32_t> parent_;
  std::vector<bool> unsafe_;
  std::vector<std::uint32_t> calls_, weak_;
  std::vector<std::uint32_t> pointers_;  // targets of relocated 64-bit pointers into code
  std::vector<std::uint32_t> candidates_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> functions_;  // .pdata's [begin, end)
  std::vector<std::pair<std::uint64_t, std::string>> imports_;  // IAT slot RVA, name
  std::vector<std::pair<std::uint32_t, std::uint32_t>> unknownHandlers_;
};

bool IsCr8Read(const Insn& d) {
  return d.insn.mnemonic == ZYDIS_MNEMONIC_MOV && d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
         d.ops[1].reg.value == ZYDIS_REGISTER_CR8 && d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER;
}

enum class SiteKind { kNone, kCr8Read, kCr8Write, kCli, kSti };

SiteKind SiteOf(const Insn& d) {
  if (IsCr8Read(d)) return SiteKind::kCr8Read;
  if (d.insn.mnemonic == ZYDIS_MNEMONIC_MOV && d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
      d.ops[0].reg.value == ZYDIS_REGISTER_CR8 && d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
      d.ops[1].reg.value >= ZYDIS_REGISTER_RAX && d.ops[1].reg.value <= ZYDIS_REGISTER_R15 &&
      d.ops[1].reg.value != ZYDIS_REGISTER_RSP) {
    return SiteKind::kCr8Write;
  }
  if (d.insn.mnemonic == ZYDIS_MNEMONIC_CLI) return SiteKind::kCli;
  if (d.insn.mnemonic == ZYDIS_MNEMONIC_STI) return SiteKind::kSti;
  return SiteKind::kNone;
}

SiteCount& CountOf(RewriteStats& stats, SiteKind kind) {
  switch (kind) {
    case SiteKind::kCr8Write: return stats.cr8Writes;
    case SiteKind::kCli:
    case SiteKind::kSti: return stats.interruptFlag;
    default: return stats.cr8Reads;
  }
}

// A general register's number in instruction encodings (rax 0 ... r15 15).
unsigned RegisterNumber(ZydisRegister r) {
  return static_cast<unsigned>(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r) - ZYDIS_REGISTER_RAX);
}

constexpr std::uint64_t kSharedDataAddress = 0xFFFFF78000000000ull;

// Where in the instruction a 64-bit KUSER_SHARED_DATA address sits: movabs reg, imm64 (what gcc
// and clang emit for SharedUserData and KeQueryTickCount), or a load from a 64-bit absolute
// address (mov al/ax/eax/rax, moffs64). A store to it stays: the trap handler refuses it.
std::optional<std::uint32_t> SharedDataConstant(const Insn& d) {
  if (d.insn.mnemonic != ZYDIS_MNEMONIC_MOV) return std::nullopt;
  auto inPage = [](std::uint64_t v) { return v >= kSharedDataAddress && v < kSharedDataAddress + 0x1000 - 16; };
  if (d.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && d.insn.raw.imm[0].size == 64 && inPage(d.ops[1].imm.value.u)) {
    return d.insn.raw.imm[0].offset;
  }
  if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && d.ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY &&
      d.ops[1].mem.base == ZYDIS_REGISTER_NONE && d.ops[1].mem.index == ZYDIS_REGISTER_NONE &&
      d.insn.raw.disp.size == 64 && inPage(static_cast<std::uint64_t>(d.ops[1].mem.disp.value))) {
    return d.insn.raw.disp.offset;
  }
  return std::nullopt;
}

bool MaySite(const Insn& d) {
  return SiteOf(d) != SiteKind::kNone || SharedDataConstant(d).has_value();
}

bool EndsPath(const Insn& d) {
  const auto c = d.insn.meta.category;
  return c == ZYDIS_CATEGORY_RET || c == ZYDIS_CATEGORY_UNCOND_BR;
}

// Whether an instruction may move to a trampoline: no call (its return address would be the
// trampoline's), no branch that cannot reach back (loop, jrcxz: 8-bit only), nothing that reads rip
// but through a memory operand.
bool Movable(const Insn& d) {
  if (SiteOf(d) != SiteKind::kNone) return true;  // replaced
  const auto c = d.insn.meta.category;
  if (c == ZYDIS_CATEGORY_CALL || c == ZYDIS_CATEGORY_SYSCALL || c == ZYDIS_CATEGORY_SYSTEM) return false;
  switch (d.insn.mnemonic) {
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JRCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
      return false;
    default:
      break;
  }
  if (c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_COND_BR) {
    // Relative (re-aimed in the trampoline) or through memory at a rip-relative slot (adjusted).
    const auto& op = d.ops[0];
    return (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative) ||
           (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP);
  }
  for (int i = 0; i < d.insn.operand_count; ++i) {
    const auto& op = d.ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && op.reg.value == ZYDIS_REGISTER_RIP) return false;
    if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative) return false;
  }
  return true;
}

void EmitImm32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// `movzx r32, byte ptr gs:[irql]` for `mov r64, cr8`: the same register, the IRQL zero-extended.
void EmitIrqlLoad(std::vector<std::uint8_t>& out, ZydisRegister destination, std::uint32_t irql) {
  const unsigned n = RegisterNumber(destination);
  out.push_back(0x65);  // gs
  if (n >= 8) out.push_back(0x44);  // REX.R
  out.insert(out.end(), {0x0F, 0xB6, static_cast<std::uint8_t>(0x04 | ((n & 7) << 3)), 0x25});
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(irql >> (8 * i)));
}

// `mov byte ptr gs:[flag], 1` for cli, 0 for sti.
void EmitInterruptFlag(std::vector<std::uint8_t>& out, bool disable, std::uint32_t flag) {
  out.insert(out.end(), {0x65, 0xC6, 0x04, 0x25});
  EmitImm32(out, flag);
  out.push_back(disable ? 1 : 0);
}

// `mov cr8, rN`: the store to gs:[irql] when the IRQL stays below DISPATCH_LEVEL or at or above it;
// a crossing calls the helper through the trailer's slot for rN (rsp as at the original
// instruction, so its return address stands for the instruction after it); a value above 15 runs
// the original instruction, which traps (#GP) as unrewritten. Flags saved around the compares when
// live. here: the RVA out's end is at; slot: the RVA of rN's slot.
void EmitIrqlStore(std::vector<std::uint8_t>& out, unsigned n, bool flagsLive, std::uint32_t irql,
                   std::uint64_t here, std::uint64_t slot) {
  const std::size_t start = out.size();
  auto compareValue = [&](std::uint8_t imm) {  // cmp rN, imm8
    out.insert(out.end(), {static_cast<std::uint8_t>(n >= 8 ? 0x49 : 0x48), 0x83,
                           static_cast<std::uint8_t>(0xF8 | (n & 7)), imm});
  };
  auto compareCurrent = [&] {  // cmp byte ptr gs:[irql], DISPATCH_LEVEL
    out.insert(out.end(), {0x65, 0x80, 0x3C, 0x25});
    EmitImm32(out, irql);
    out.push_back(2);
  };
  auto store = [&] {  // mov byte ptr gs:[irql], rN's low byte
    out.push_back(0x65);
    if (n >= 8) out.push_back(0x44);
    else if (n >= 4) out.push_back(0x40);  // spl, bpl, sil, dil
    out.insert(out.end(), {0x88, static_cast<std::uint8_t>(0x04 | ((n & 7) << 3)), 0x25});
    EmitImm32(out, irql);
  };
  auto popFlags = [&] {
    if (flagsLive) out.push_back(0x9D);
  };
  auto jump8 = [&](std::uint8_t opcode) {
    out.insert(out.end(), {opcode, 0});
    return out.size() - 1;
  };
  auto bind = [&](std::size_t displacement) {
    out[displacement] = static_cast<std::uint8_t>(out.size() - (displacement + 1));
  };
  if (flagsLive) out.push_back(0x9C);  // pushfq
  compareValue(2);
  const std::size_t toHigh = jump8(0x73);  // jae
  compareCurrent();
  const std::size_t toSlowFromHigh = jump8(0x73);  // jae: from DISPATCH_LEVEL or above to below
  store();
  popFlags();
  const std::size_t done1 = jump8(0xEB);
  bind(toHigh);
  compareValue(15);
  const std::size_t toFault = jump8(0x77);  // ja: reserved bits
  compareCurrent();
  const std::size_t toSlowFromLow = jump8(0x72);  // jb: from below DISPATCH_LEVEL to it or above
  store();
  popFlags();
  const std::size_t done2 = jump8(0xEB);
  bind(toFault);
  popFlags();
  out.insert(out.end(), {static_cast<std::uint8_t>(n >= 8 ? 0x45 : 0x44), 0x0F, 0x22,
                         static_cast<std::uint8_t>(0xC0 | (n & 7))});  // mov cr8, rN
  const std::size_t done3 = jump8(0xEB);
  bind(toSlowFromHigh);
  bind(toSlowFromLow);
  popFlags();
  out.insert(out.end(), {0xFF, 0x15});  // call [rip+slot]
  const std::uint64_t next = here + (out.size() - start) + 4;
  EmitImm32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int64_t>(slot - next))));
  for (const std::size_t d : {done1, done2, done3}) bind(d);
}

void EmitRel32(std::vector<std::uint8_t>& out, std::vector<std::uint8_t> opcode, std::uint64_t from, std::uint64_t to) {
  out.insert(out.end(), opcode.begin(), opcode.end());
  const std::uint64_t next = from + opcode.size() + 4;
  const auto rel = static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int64_t>(to - next)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(rel >> (8 * i)));
}

}  // namespace

ImageRewrite ImageRewrite::Plan(const pe::PeImage& image, GsBytes gs, std::uint64_t sharedData) {
  ImageRewrite plan;
  plan.gs_ = gs;
  plan.sharedData_ = sharedData;
  plan.trailerRva_ = (image.sizeOfImage() + kPage - 1) & ~(kPage - 1);
  if (image.sizeOfImage() > kMaxAnalysedImage) return plan;
  Analysis a(image, Layout(image));
  a.Run();
  const auto& view = a.view();
  std::vector<std::uint32_t> padsTaken;
  std::vector<std::uint8_t>& out = plan.trailer_;
  out.assign(kSlotsSize, 0);
  std::uint32_t claimedUntil = 0;  // windows do not overlap
  for (const std::uint32_t site : a.Candidates()) {
    Insn first;
    if (!a.Decode(site, first)) continue;
    if (const auto field = SharedDataConstant(first)) {
      ++plan.stats_.sharedDataSites;
      const std::uint32_t at = site + *field;
      std::uint64_t value = 0;
      std::memcpy(&value, view.data() + at, 8);
      bool relocated = false;
      for (std::uint32_t b = 0; b < 8; ++b) relocated |= a.Relocated(at + b);
      if (sharedData && a.Strong(site) && !relocated) {
        plan.constants_.push_back({at, value, sharedData + (value - kSharedDataAddress)});
        ++plan.stats_.sharedDataRewritten;
      }
      continue;
    }
    const SiteKind kind = SiteOf(first);
    if (kind == SiteKind::kNone) continue;
    SiteCount& count = CountOf(plan.stats_, kind);
    ++count.sites;
    if (site < claimedUntil) continue;  // rewritten in an earlier site's window
    if (!a.Strong(site)) {
      ++count.unreached;
      continue;
    }
    if (!a.SafeAt(site) || a.InUnknownHandlerFunction(site)) {
      ++count.unsafeFunction;
      continue;
    }
    // The window: the site and the instructions after it, until 5 bytes.
    std::vector<std::pair<std::uint32_t, Insn>> window;
    std::uint32_t at = site;
    bool ended = false;
    while (at - site < kJumpLength) {
      Insn d;
      if (!a.Decoded(at) || !a.Strong(at) || !a.Decode(at, d) || !a.SafeAt(at) || (at != site && a.IsTarget(at))) break;
      bool relocated = false;
      for (std::uint32_t b = 0; b < d.insn.length; ++b) relocated |= a.Relocated(at + b);
      if (relocated || !Movable(d)) break;
      window.emplace_back(at, d);
      at += d.insn.length;
      if (EndsPath(d)) {
        ended = true;
        break;
      }
    }
    // Under 5 bytes: a short jump (2 bytes) to padding in reach, which jumps on.
    std::uint32_t pad = 0;
    if (!window.empty() && at - site < kJumpLength && at - site >= 2) {
      pad = a.FindPadding(site + 2, padsTaken);
      if (pad) padsTaken.push_back(pad);
    }
    if (window.empty() || (at - site < kJumpLength && !pad)) {
      ++(window.empty() || a.IsTarget(at) ? count.branchTarget : count.shortWindow);
      continue;
    }
    // The trampoline, at its RVA in the trailer.
    Window w;
    w.rva = site;
    w.length = static_cast<std::uint8_t>(at - site);
    w.original.assign(view.begin() + site, view.begin() + at);
    if (pad) {
      w.padRva = pad;
      w.padOriginal.assign(view.begin() + pad, view.begin() + pad + kJumpLength);
      ++count.throughPadding;
    }
    w.trampoline = static_cast<std::uint32_t>(out.size());
    for (const auto& [rva, d] : window) {
      const std::uint64_t here = std::uint64_t{plan.trailerRva_} + out.size();
      w.pieces.push_back({static_cast<std::uint32_t>(out.size()), rva});
      const std::uint64_t next = std::uint64_t{rva} + d.insn.length;
      const auto c = d.insn.meta.category;
      const SiteKind k = SiteOf(d);
      if (k != SiteKind::kNone) ++CountOf(plan.stats_, k).rewritten;
      if (k == SiteKind::kCr8Read) {
        EmitIrqlLoad(out, d.ops[0].reg.value, gs.irql);
      } else if (k == SiteKind::kCr8Write) {
        const unsigned n = RegisterNumber(d.ops[1].reg.value);
        EmitIrqlStore(out, n, a.FlagsLiveAt(static_cast<std::uint32_t>(next)), gs.irql, here,
                      std::uint64_t{plan.trailerRva_} + 8u * n);
      } else if (k == SiteKind::kCli || k == SiteKind::kSti) {
        EmitInterruptFlag(out, k == SiteKind::kCli, gs.interruptsDisabled);
      } else if ((c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR) &&
                 d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        const std::uint64_t target = next + static_cast<std::uint64_t>(d.ops[0].imm.value.s);
        if (c == ZYDIS_CATEGORY_UNCOND_BR) {
          EmitRel32(out, {0xE9}, here, target);
        } else {
          // jcc: its condition is the low nibble of the short (7x) or near (0F 8x) opcode.
          const std::uint8_t* bytes = view.data() + rva + d.insn.raw.prefix_count;
          const std::uint8_t condition = (bytes[0] == 0x0F ? bytes[1] : bytes[0]) & 0x0F;
          EmitRel32(out, {0x0F, static_cast<std::uint8_t>(0x80 | condition)}, here, target);
        }
      } else {
        const std::size_t start = out.size();
        out.insert(out.end(), view.begin() + rva, view.begin() + next);
        bool ripRelative = false;
        for (int i = 0; i < d.insn.operand_count_visible; ++i) {
          if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[i].mem.base == ZYDIS_REGISTER_RIP) ripRelative = true;
        }
        if (ripRelative) {
          // The same absolute address from the trampoline: the displacement moves by the distance.
          const std::int64_t disp = d.insn.raw.disp.value;
          const std::int64_t moved = disp + static_cast<std::int64_t>(next) - static_cast<std::int64_t>(here + d.insn.length);
          const auto value = static_cast<std::uint32_t>(static_cast<std::int32_t>(moved));
          std::memcpy(out.data() + start + d.insn.raw.disp.offset, &value, 4);
        }
      }
    }
    if (!ended) {
      const std::uint64_t here = std::uint64_t{plan.trailerRva_} + out.size();
      w.pieces.push_back({static_cast<std::uint32_t>(out.size()), at});
      EmitRel32(out, {0xE9}, here, at);
    }
    w.trampolineLength = static_cast<std::uint32_t>(out.size()) - w.trampoline;
    // Trampolines 16-byte aligned, separated by int3.
    while (out.size() % 16) out.push_back(0xCC);
    claimedUntil = at;
    plan.windows_.push_back(std::move(w));
  }
  if (plan.windows_.empty()) {
    out.clear();
  } else {
    out.resize((out.size() + kPage - 1) & ~std::size_t{kPage - 1}, 0xCC);
  }
  return plan;
}

void ImageRewrite::Apply(std::uint8_t* base) const {
  for (const Constant& c : constants_) std::memcpy(base + c.rva, &c.rewritten, 8);
  if (trailer_.empty()) return;
  std::memcpy(base + trailerRva_, trailer_.data(), trailer_.size());
  for (unsigned n = 0; n < 16; ++n) {
    const std::uint64_t entry = IrqlWriteEntry(n);
    std::memcpy(base + trailerRva_ + 8 * n, &entry, 8);
  }
  for (const Window& w : windows_) {
    std::vector<std::uint8_t> jump;
    if (w.padRva) {
      jump = {0xEB, static_cast<std::uint8_t>(static_cast<std::int64_t>(w.padRva) - (std::int64_t{w.rva} + 2))};
      std::vector<std::uint8_t> onward;
      EmitRel32(onward, {0xE9}, w.padRva, std::uint64_t{trailerRva_} + w.trampoline);
      std::memcpy(base + w.padRva, onward.data(), onward.size());
    } else {
      EmitRel32(jump, {0xE9}, w.rva, std::uint64_t{trailerRva_} + w.trampoline);
    }
    jump.resize(w.length, 0xCC);  // never reached: nothing branches inside a window
    std::memcpy(base + w.rva, jump.data(), jump.size());
  }
}

std::optional<std::uint64_t> ImageRewrite::OriginalOf(std::uint64_t base, std::uint64_t address) const {
  if (address < base + trailerRva_ || address >= base + trailerRva_ + trailer_.size()) return std::nullopt;
  const auto offset = static_cast<std::uint32_t>(address - base - trailerRva_);
  auto it = std::upper_bound(windows_.begin(), windows_.end(), offset,
                             [](std::uint32_t o, const Window& w) { return o < w.trampoline; });
  if (it == windows_.begin()) return std::nullopt;
  --it;
  if (offset >= it->trampoline + it->trampolineLength) return std::nullopt;
  std::uint32_t rva = it->pieces.front().rva;
  for (const auto& p : it->pieces) {
    if (p.offset <= offset) rva = p.rva;
  }
  return base + rva;
}

std::uint64_t ImageRewrite::ResumeAt(std::uint64_t base, std::uint64_t address) const {
  if (address <= base) return address;
  const std::uint64_t rva = address - base;
  auto it = std::upper_bound(windows_.begin(), windows_.end(), rva, [](std::uint64_t r, const Window& w) { return r < w.rva; });
  if (it == windows_.begin()) return address;
  --it;
  if (rva <= it->rva || rva >= std::uint64_t{it->rva} + it->length) return address;  // the window's start is its jump
  for (const auto& p : it->pieces) {
    if (p.rva == rva) return base + trailerRva_ + p.offset;
  }
  return address;
}

void ImageRewrite::RestoreOriginal(std::uint64_t base, std::uint64_t address, std::uint8_t* bytes,
                                   std::size_t size) const {
  for (const Window& w : windows_) {
    const std::uint64_t from = base + w.rva, to = from + w.length;
    if (to <= address || from >= address + size) continue;
    for (std::uint64_t a = std::max(from, address); a < std::min(to, address + size); ++a) {
      bytes[a - address] = w.original[a - from];
    }
  }
  for (const Window& w : windows_) {
    if (!w.padRva) continue;
    const std::uint64_t from = base + w.padRva, to = from + w.padOriginal.size();
    if (to <= address || from >= address + size) continue;
    for (std::uint64_t a = std::max(from, address); a < std::min(to, address + size); ++a) {
      bytes[a - address] = w.padOriginal[a - from];
    }
  }
  for (const Constant& c : constants_) {
    const std::uint64_t from = base + c.rva, to = from + 8;
    if (to <= address || from >= address + size) continue;
    for (std::uint64_t a = std::max(from, address); a < std::min(to, address + size); ++a) {
      bytes[a - address] = static_cast<std::uint8_t>(c.original >> (8 * (a - from)));
    }
  }
}

Result<void> ImageRewrite::Verify(std::uint64_t base) const {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const auto* image = reinterpret_cast<const std::uint8_t*>(base);
  auto decode = [&](std::uint64_t at, std::size_t size, Insn& d) {
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, reinterpret_cast<const std::uint8_t*>(at), size, &d.insn, d.ops));
  };
  // Where a relative operand (branch, rip-relative memory) leads.
  auto absolute = [](const Insn& d, std::uint64_t ip) -> std::optional<std::uint64_t> {
    for (int i = 0; i < d.insn.operand_count_visible; ++i) {
      const auto& op = d.ops[i];
      if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative) {
        return ip + d.insn.length + static_cast<std::uint64_t>(op.imm.value.s);
      }
      if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP) {
        return ip + d.insn.length + static_cast<std::uint64_t>(op.mem.disp.value);
      }
    }
    return std::nullopt;
  };
  auto gsByte = [](const ZydisDecodedOperand& op, std::uint32_t offset) {
    return op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.segment == ZYDIS_REGISTER_GS &&
           op.mem.base == ZYDIS_REGISTER_NONE && op.mem.index == ZYDIS_REGISTER_NONE && op.mem.disp.value == offset &&
           op.size == 8;
  };
  for (const Constant& c : constants_) {
    std::uint64_t now = 0;
    std::memcpy(&now, image + c.rva, 8);
    if (now != c.rewritten || c.rewritten - sharedData_ != c.original - kSharedDataAddress) {
      return Fail(fmt::format("constant at {:#x}: not the shared data page's copy", c.rva));
    }
  }
  const std::uint64_t trailer = base + trailerRva_;
  for (const Window& w : windows_) {
    const std::uint64_t windowAt = base + w.rva, trampolineAt = trailer + w.trampoline;
    // The window jumps to its trampoline, directly or through its padding.
    Insn jump;
    if (!decode(windowAt, w.length, jump) || jump.insn.mnemonic != ZYDIS_MNEMONIC_JMP) {
      return Fail(fmt::format("window at {:#x}: no jump", w.rva));
    }
    std::uint64_t target = *absolute(jump, windowAt);
    if (w.padRva) {
      Insn onward;
      if (target != base + w.padRva || !decode(target, kJumpLength, onward) || onward.insn.mnemonic != ZYDIS_MNEMONIC_JMP) {
        return Fail(fmt::format("window at {:#x}: no jump through its padding", w.rva));
      }
      target = *absolute(onward, target);
    }
    if (target != trampolineAt) return Fail(fmt::format("window at {:#x}: does not lead to its trampoline", w.rva));
    // Piece by piece: each original instruction and what stands for it.
    for (std::size_t p = 0; p < w.pieces.size(); ++p) {
      const auto& piece = w.pieces[p];
      const std::uint64_t tIp = trailer + piece.offset;
      const std::uint32_t end = p + 1 < w.pieces.size() ? w.pieces[p + 1].offset : w.trampoline + w.trampolineLength;
      const std::size_t size = end - piece.offset;
      if (OriginalOf(base, tIp) != base + piece.rva) {
        return Fail(fmt::format("window at {:#x}: {:#x} maps back to the wrong address", w.rva, piece.rva));
      }
      if (piece.rva == w.rva + w.length) {  // the jump back
        Insn back;
        if (!decode(tIp, size, back) || back.insn.mnemonic != ZYDIS_MNEMONIC_JMP || back.insn.length != size ||
            absolute(back, tIp) != windowAt + w.length) {
          return Fail(fmt::format("window at {:#x}: the trampoline does not return to its end", w.rva));
        }
        continue;
      }
      const std::uint64_t oIp = windowAt + (piece.rva - w.rva);
      Insn o;
      if (!decode(reinterpret_cast<std::uint64_t>(w.original.data()) + (piece.rva - w.rva), w.length - (piece.rva - w.rva), o)) {
        return Fail(fmt::format("window at {:#x}+{:#x}: does not decode", w.rva, piece.rva - w.rva));
      }
      // The replacement's instructions, in order.
      std::vector<Insn> t;
      for (std::size_t off = 0; off < size;) {
        Insn d;
        if (!decode(tIp + off, size - off, d)) {
          return Fail(fmt::format("window at {:#x}+{:#x}: its trampoline does not decode", w.rva, piece.rva - w.rva));
        }
        off += d.insn.length;
        t.push_back(d);
      }
      const SiteKind kind = SiteOf(o);
      bool same = false;
      if (kind == SiteKind::kCr8Read) {
        same = t.size() == 1 && t[0].insn.mnemonic == ZYDIS_MNEMONIC_MOVZX && gsByte(t[0].ops[1], gs_.irql) &&
               RegisterNumber(t[0].ops[0].reg.value) == RegisterNumber(o.ops[0].reg.value);
      } else if (kind == SiteKind::kCli || kind == SiteKind::kSti) {
        same = t.size() == 1 && t[0].insn.mnemonic == ZYDIS_MNEMONIC_MOV && gsByte(t[0].ops[0], gs_.interruptsDisabled) &&
               t[0].ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && t[0].ops[1].imm.value.u == (kind == SiteKind::kCli ? 1u : 0u);
      } else if (kind == SiteKind::kCr8Write) {
        // Stores of the register's low byte to gs:[irql], the original instruction, one call through
        // the register's slot to its helper entry, and branches only within the replacement or to its end.
        const unsigned n = RegisterNumber(o.ops[1].reg.value);
        unsigned stores = 0, originals = 0, calls = 0;
        bool stray = false;
        std::uint64_t ip = tIp;
        for (const Insn& d : t) {
          const auto c = d.insn.meta.category;
          if (d.insn.mnemonic == ZYDIS_MNEMONIC_MOV && gsByte(d.ops[0], gs_.irql)) {
            stray |= d.ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER || RegisterNumber(d.ops[1].reg.value) != n;
            ++stores;
          } else if (SiteOf(d) == SiteKind::kCr8Write) {
            stray |= RegisterNumber(d.ops[1].reg.value) != n;
            ++originals;
          } else if (c == ZYDIS_CATEGORY_CALL) {
            const auto slot = absolute(d, ip);
            std::uint64_t entry = 0;
            if (slot && *slot == trailer + 8 * n) std::memcpy(&entry, reinterpret_cast<const void*>(*slot), 8);
            stray |= entry != IrqlWriteEntry(n);
            ++calls;
          } else if (c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR) {
            const auto to = absolute(d, ip);
            stray |= !to || *to <= tIp || *to > tIp + size;
          } else if (d.insn.mnemonic == ZYDIS_MNEMONIC_CMP) {
            stray |= !(gsByte(d.ops[0], gs_.irql) ||
                       (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && RegisterNumber(d.ops[0].reg.value) == n));
          } else {
            stray |= d.insn.mnemonic != ZYDIS_MNEMONIC_PUSHFQ && d.insn.mnemonic != ZYDIS_MNEMONIC_POPFQ;
          }
          ip += d.insn.length;
        }
        same = !stray && stores == 2 && originals == 1 && calls == 1 && t.back().insn.meta.category == ZYDIS_CATEGORY_CALL;
      } else {
        same = t.size() == 1 && o.insn.mnemonic == t[0].insn.mnemonic &&
               o.insn.operand_count_visible == t[0].insn.operand_count_visible && absolute(o, oIp) == absolute(t[0], tIp);
        for (int i = 0; same && i < o.insn.operand_count_visible; ++i) {
          const auto &a = o.ops[i], &b = t[0].ops[i];
          same = a.type == b.type && a.size == b.size;
          if (same && a.type == ZYDIS_OPERAND_TYPE_REGISTER) same = a.reg.value == b.reg.value;
          if (same && a.type == ZYDIS_OPERAND_TYPE_MEMORY && a.mem.base != ZYDIS_REGISTER_RIP) {
            same = a.mem.base == b.mem.base && a.mem.index == b.mem.index && a.mem.scale == b.mem.scale &&
                   a.mem.disp.value == b.mem.disp.value && a.mem.segment == b.mem.segment;
          }
          if (same && a.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && !a.imm.is_relative) same = a.imm.value.u == b.imm.value.u;
        }
      }
      if (!same) {
        return Fail(fmt::format("window at {:#x}+{:#x}: the trampoline's code differs", w.rva, piece.rva - w.rva));
      }
    }
  }
  return {};
}

}  // namespace ntbox::cpu
