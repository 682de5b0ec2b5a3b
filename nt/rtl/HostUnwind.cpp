#include "nt/rtl/HostUnwind.h"

#include <cstring>

#include "cpu/SafeCopy.h"

// libgcc's lookup of the FDE covering a pc (through each object's .eh_frame_hdr): exported by
// libgcc_s, which every C++ program here links.
struct dwarf_eh_bases {
  void* tbase;
  void* dbase;
  void* func;
};
extern "C" const void* _Unwind_Find_FDE(void* pc, dwarf_eh_bases* bases);

namespace ntbox::nt {
namespace {

// Reads .eh_frame (mapped, read-only data of a loaded object) and the stack (without faulting).
class Reader {
 public:
  explicit Reader(const std::uint8_t* at) : at_(at) {}
  const std::uint8_t* at() const { return at_; }
  void Skip(std::size_t n) { at_ += n; }
  std::uint8_t U8() { return *at_++; }
  std::uint16_t U16() { return Fixed<std::uint16_t>(); }
  std::uint32_t U32() { return Fixed<std::uint32_t>(); }
  std::uint64_t Uleb() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = U8();
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  }
  std::int64_t Sleb() {
    std::int64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    do {
      b = U8();
      v |= static_cast<std::int64_t>(b & 0x7F) << shift;
      shift += 7;
    } while ((b & 0x80) && shift < 64);
    if (shift < 64 && (b & 0x40)) v |= -(std::int64_t{1} << shift);
    return v;
  }
  // A pointer in a DW_EH_PE encoding (absptr, udata/sdata 2/4/8, pcrel); nullopt for others.
  bool Pointer(std::uint8_t encoding, std::uint64_t& out) {
    if (encoding == 0xFF) return false;  // omit
    const auto base = reinterpret_cast<std::uint64_t>(at_);
    std::uint64_t v = 0;
    switch (encoding & 0x0F) {
      case 0x00: v = Fixed<std::uint64_t>(); break;
      case 0x02: v = U16(); break;
      case 0x03: v = U32(); break;
      case 0x04: v = Fixed<std::uint64_t>(); break;
      case 0x0A: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(Fixed<std::int16_t>())); break;
      case 0x0B: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(Fixed<std::int32_t>())); break;
      case 0x0C: v = Fixed<std::uint64_t>(); break;
      case 0x01: v = Uleb(); break;
      case 0x09: v = static_cast<std::uint64_t>(Sleb()); break;
      default: return false;
    }
    switch (encoding & 0x70) {
      case 0x00: break;
      case 0x10: v += base; break;  // pcrel
      default: return false;
    }
    out = v;
    return true;
  }

 private:
  template <class T>
  T Fixed() {
    T v;
    std::memcpy(&v, at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  const std::uint8_t* at_;
};

// The rules that matter for a step: the CFA (a register plus an offset) and where rbp and the
// return address were saved (an offset from the CFA; 0: unchanged).
struct Rules {
  int cfaRegister = 7;  // DWARF x86-64: 6 rbp, 7 rsp, 16 the return address
  std::int64_t cfaOffset = 8;
  std::int64_t rbpAt = 0;
  std::int64_t returnAt = -8;
  bool valid = true;
};

constexpr int kRbp = 6, kReturn = 16;

// Runs CFA instructions in [from, to) until the location passes pc.
void Run(Reader r, const std::uint8_t* to, std::uint64_t location, std::uint64_t pc, std::uint64_t codeAlign,
         std::int64_t dataAlign, std::uint8_t pointerEncoding, Rules& rules, const Rules& initial) {
  Rules remembered[8];
  int depth = 0;
  auto setOffset = [&](std::uint64_t reg, std::int64_t offset) {
    if (reg == kRbp) rules.rbpAt = offset;
    if (reg == kReturn) rules.returnAt = offset;
  };
  auto restore = [&](std::uint64_t reg) {
    if (reg == kRbp) rules.rbpAt = initial.rbpAt;
    if (reg == kReturn) rules.returnAt = initial.returnAt;
  };
  while (r.at() < to && rules.valid) {
    const std::uint8_t op = r.U8();
    const std::uint8_t high = op & 0xC0, low = op & 0x3F;
    if (high == 0x40) {  // advance_loc
      location += low * codeAlign;
      if (location > pc) return;
      continue;
    }
    if (high == 0x80) {  // offset
      setOffset(low, static_cast<std::int64_t>(r.Uleb()) * dataAlign);
      continue;
    }
    if (high == 0xC0) {  // restore
      restore(low);
      continue;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {       // set_loc
        std::uint64_t to = 0;
        if (!r.Pointer(pointerEncoding, to)) rules.valid = false;
        location = to;
        if (location > pc) return;
        break;
      }
      case 0x02: location += r.U8() * codeAlign; if (location > pc) return; break;
      case 0x03: location += r.U16() * codeAlign; if (location > pc) return; break;
      case 0x04: location += r.U32() * codeAlign; if (location > pc) return; break;
      case 0x05: {  // offset_extended
        const auto reg = r.Uleb();
        setOffset(reg, static_cast<std::int64_t>(r.Uleb()) * dataAlign);
        break;
      }
      case 0x06: restore(r.Uleb()); break;            // restore_extended
      case 0x07: case 0x08: restore(r.Uleb()); break;  // undefined, same_value
      case 0x09: r.Uleb(); r.Uleb(); break;            // register (of a register we do not follow)
      case 0x0A: if (depth < 8) remembered[depth++] = rules; break;
      case 0x0B: if (depth > 0) rules = remembered[--depth]; break;
      case 0x0C: rules.cfaRegister = static_cast<int>(r.Uleb()); rules.cfaOffset = static_cast<std::int64_t>(r.Uleb()); break;
      case 0x0D: rules.cfaRegister = static_cast<int>(r.Uleb()); break;
      case 0x0E: rules.cfaOffset = static_cast<std::int64_t>(r.Uleb()); break;
      case 0x0F: rules.valid = false; break;  // def_cfa_expression
      case 0x10: case 0x16: {                 // expression, val_expression: skip the block
        r.Uleb();
        r.Skip(r.Uleb());
        break;
      }
      case 0x11: {  // offset_extended_sf
        const auto reg = r.Uleb();
        setOffset(reg, r.Sleb() * dataAlign);
        break;
      }
      case 0x12: rules.cfaRegister = static_cast<int>(r.Uleb()); rules.cfaOffset = r.Sleb() * dataAlign; break;
      case 0x13: rules.cfaOffset = r.Sleb() * dataAlign; break;
      case 0x14: case 0x15: r.Uleb(); r.Uleb(); break;  // val_offset(_sf)
      case 0x2E: r.Uleb(); break;                        // GNU_args_size
      case 0x2F: {                                       // GNU_negative_offset_extended
        const auto reg = r.Uleb();
        setOffset(reg, -static_cast<std::int64_t>(r.Uleb()) * dataAlign);
        break;
      }
      default: rules.valid = false; break;
    }
  }
}

template <class T>
bool LoadStack(std::uint64_t address, T& out) {
  return cpu::SafeCopy(&out, reinterpret_cast<const void*>(address), sizeof out);
}

}  // namespace

bool HostCfiStep(CONTEXT& c, bool atReturnAddress) {
  // A return address names the call before it (it may be the last instruction of its function).
  const std::uint64_t pc = atReturnAddress ? c.Rip - 1 : c.Rip;
  dwarf_eh_bases bases{};
  const auto* fde = static_cast<const std::uint8_t*>(_Unwind_Find_FDE(reinterpret_cast<void*>(pc), &bases));
  if (!fde) return false;
  // The FDE: length, CIE pointer (backwards from here), pc range, augmentation data, instructions.
  Reader f(fde);
  const std::uint32_t fdeLength = f.U32();
  if (fdeLength == 0 || fdeLength == 0xFFFFFFFF) return false;
  const std::uint8_t* fdeEnd = fde + 4 + fdeLength;
  const std::uint8_t* ciePointerAt = f.at();
  const std::uint32_t cieOffset = f.U32();
  const std::uint8_t* cie = ciePointerAt - cieOffset;

  Reader r(cie);
  const std::uint32_t cieLength = r.U32();
  if (cieLength == 0 || cieLength == 0xFFFFFFFF) return false;
  const std::uint8_t* cieEnd = cie + 4 + cieLength;
  if (r.U32() != 0) return false;  // a CIE's id
  const std::uint8_t version = r.U8();
  const char* augmentation = reinterpret_cast<const char*>(r.at());
  r.Skip(std::strlen(augmentation) + 1);
  const std::uint64_t codeAlign = r.Uleb();
  const std::int64_t dataAlign = r.Sleb();
  if (version == 1) r.U8(); else r.Uleb();  // the return address register
  std::uint8_t pointerEncoding = 0;
  if (augmentation[0] == 'z') {
    const std::uint64_t length = r.Uleb();
    const std::uint8_t* dataEnd = r.at() + length;
    for (const char* a = augmentation + 1; *a; ++a) {
      if (*a == 'R') pointerEncoding = r.U8();
      else if (*a == 'P') {
        std::uint64_t ignored = 0;
        if (!r.Pointer(r.U8(), ignored)) return false;
      } else if (*a == 'L') r.U8();
      else if (*a != 'S') break;
    }
    r = Reader(dataEnd);
  } else if (augmentation[0] != '\0') {
    return false;
  }

  std::uint64_t start = 0, range = 0;
  if (!f.Pointer(pointerEncoding, start) || !f.Pointer(pointerEncoding & 0x0F, range)) return false;
  if (pc < start || pc >= start + range) return false;
  if (augmentation[0] == 'z') f.Skip(f.Uleb());

  Rules initial;
  Run(r, cieEnd, start, pc, codeAlign, dataAlign, pointerEncoding, initial, initial);
  Rules rules = initial;
  Run(f, fdeEnd, start, pc, codeAlign, dataAlign, pointerEncoding, rules, initial);
  if (!rules.valid || (rules.cfaRegister != 7 && rules.cfaRegister != kRbp)) return false;
  const std::uint64_t cfa = (rules.cfaRegister == 7 ? c.Rsp : c.Rbp) + static_cast<std::uint64_t>(rules.cfaOffset);
  std::uint64_t ret = 0;
  if (!LoadStack(cfa + static_cast<std::uint64_t>(rules.returnAt), ret)) return false;
  if (rules.rbpAt) {
    std::uint64_t rbp = 0;
    if (!LoadStack(cfa + static_cast<std::uint64_t>(rules.rbpAt), rbp)) return false;
    c.Rbp = rbp;
  }
  c.Rip = ret;
  c.Rsp = cfa;
  return true;
}

}  // namespace ntbox::nt
