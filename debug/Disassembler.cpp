#include "debug/Disassembler.h"

#include <Zydis/Zydis.h>

#include <cctype>

#include <fmt/format.h>

#include "nt/support/Symbolize.h"

namespace ntbox::debug {
namespace {

struct FormatContext {
  const AddressNamer* name;
};

ZydisFormatterFunc g_printAddress = nullptr;

// Absolute addresses (branch targets, rip-relative operands) as WinDbg shows them.
ZyanStatus PrintAddress(const ZydisFormatter* formatter, ZydisFormatterBuffer* buffer, ZydisFormatterContext* context) {
  ZyanU64 address = 0;
  if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(context->instruction, context->operand, context->runtime_address,
                                             &address))) {
    return g_printAddress(formatter, buffer, context);
  }
  const auto* fc = static_cast<const FormatContext*>(context->user_data);
  const std::string symbol = fc && *fc->name ? (*fc->name)(address) : std::string();
  const std::string text =
      symbol.empty() ? nt::WinDbgAddress(address) : fmt::format("{} ({})", symbol, nt::WinDbgAddress(address));
  ZYAN_CHECK(ZydisFormatterBufferAppend(buffer, ZYDIS_TOKEN_SYMBOL));
  ZyanString* string = nullptr;
  ZYAN_CHECK(ZydisFormatterBufferGetString(buffer, &string));
  ZyanStringView view;
  ZYAN_CHECK(ZyanStringViewInsideBuffer(&view, text.c_str()));
  return ZyanStringAppend(string, &view);
}

const ZydisFormatter& Formatter() {
  static const ZydisFormatter formatter = [] {
    ZydisFormatter f;
    // Intel style with MASM's numbers (Zydis's MASM style keeps addresses relative: "$-47h").
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_INTEL);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_HEX_PREFIX, 0);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_HEX_SUFFIX, reinterpret_cast<ZyanUPointer>("h"));
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_HEX_UPPERCASE, ZYAN_TRUE);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_FORCE_SIZE, ZYAN_TRUE);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_IMM_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_DISP_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_FORCE_RELATIVE_RIPREL, ZYAN_FALSE);
    ZydisFormatterSetProperty(&f, ZYDIS_FORMATTER_PROP_FORCE_RELATIVE_BRANCHES, ZYAN_FALSE);
    const void* hook = reinterpret_cast<const void*>(&PrintAddress);
    ZydisFormatterSetHook(&f, ZYDIS_FORMATTER_FUNC_PRINT_ADDRESS_ABS, &hook);
    g_printAddress = reinterpret_cast<ZydisFormatterFunc>(const_cast<void*>(hook));
    return f;
  }();
  return formatter;
}

// MASM's numbers as WinDbg writes them: a leading 0 before a letter (0D0h), none of the h below 10
// ([rsp+8], 0).
std::string MasmNumbers(std::string_view text) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '!' || c == '`'; };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && std::isxdigit(static_cast<unsigned char>(text[j]))) ++j;
    const bool number = j > i && j < text.size() && text[j] == 'h' && (i == 0 || !word(text[i - 1])) &&
                        (j + 1 >= text.size() || !word(text[j + 1]));
    if (!number) {
      out.append(text.substr(i, std::max<std::size_t>(j - i, 1)));
      i = std::max(j, i + 1);
      continue;
    }
    const std::string_view digits = text.substr(i, j - i);
    if (digits.size() == 1 && std::isdigit(static_cast<unsigned char>(digits[0]))) {
      out += digits;
    } else {
      if (!std::isdigit(static_cast<unsigned char>(digits[0]))) out += '0';
      out += digits;
      out += 'h';
    }
    i = j + 1;
  }
  return out;
}

// WinDbg: the mnemonic in a column of 7, operands joined by a bare comma.
std::string WinDbgLayout(std::string_view zydis) {
  std::string text = MasmNumbers(zydis);
  if (text == "int3") return "int     3";
  std::string out;
  bool inQuote = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') inQuote = !inQuote;
    if (text[i] == ',' && i + 1 < text.size() && text[i + 1] == ' ') {
      out += ',';
      ++i;
      continue;
    }
    out += text[i];
  }
  // Prefixes (lock, rep) stay with the mnemonic they qualify.
  std::size_t split = 0;
  for (;;) {
    const std::size_t space = out.find(' ', split);
    if (space == std::string::npos) return out;
    const std::string word = out.substr(split, space - split);
    if (word == "lock" || word == "rep" || word == "repe" || word == "repne" || word == "repz" || word == "repnz") {
      split = space + 1;
      continue;
    }
    const std::string mnemonic = out.substr(0, space);
    std::string rest = out.substr(space + 1);
    return fmt::format("{:<7} {}", mnemonic, rest);
  }
}

}  // namespace

Instruction Disassemble(std::uint64_t address, std::span<const std::uint8_t> code, const AddressNamer& name) {
  Instruction out;
  out.address = address;
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (code.empty() || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data(), code.size(), &insn, ops))) {
    return out;
  }
  out.length = insn.length;
  for (unsigned i = 0; i < insn.length; ++i) out.bytes += fmt::format("{:02x}", code[i]);
  char buffer[512];
  FormatContext context{&name};
  if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&Formatter(), &insn, ops, insn.operand_count_visible, buffer,
                                                    sizeof buffer, address, &context))) {
    out.length = 0;
    return out;
  }
  out.text = WinDbgLayout(buffer);
  switch (insn.meta.category) {
    case ZYDIS_CATEGORY_CALL: out.isCall = true; break;
    case ZYDIS_CATEGORY_RET: out.isReturn = true; break;
    case ZYDIS_CATEGORY_UNCOND_BR: out.isJump = true; break;
    case ZYDIS_CATEGORY_COND_BR:
      out.isJump = true;
      out.isConditional = true;
      break;
    default: break;
  }
  if ((out.isCall || out.isJump) && insn.operand_count_visible > 0) {
    ZyanU64 target = 0;
    if (ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], address, &target))) {
      out.target = target;
    } else if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].mem.base == ZYDIS_REGISTER_RIP &&
               ops[0].mem.index == ZYDIS_REGISTER_NONE &&
               ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], address, &target))) {
      out.memoryTarget = target;
    }
  }
  return out;
}

}  // namespace ntbox::debug
