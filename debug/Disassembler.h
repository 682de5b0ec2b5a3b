// One instruction as WinDbg's u and uf print it: MASM syntax, "mov     qword ptr [rsp+10h],rdx",
// addresses in operands named as "module!symbol (fffff800`64521000)".
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace ntbox::debug {

struct Instruction {
  std::uint64_t address = 0;
  unsigned length = 0;  // 0: the bytes do not decode (WinDbg's "???")
  std::string bytes;    // hex, as read
  std::string text;     // "mov     qword ptr [rsp+10h],rdx"
  // Control flow, for uf's blocks and p's step over calls.
  bool isCall = false, isReturn = false, isJump = false, isConditional = false;
  std::optional<std::uint64_t> target;  // a direct branch's destination
  std::optional<std::uint64_t> memoryTarget;  // call/jmp qword ptr [rip+x]: the pointer's address
};

// The name an operand's address gets: "FirstDriverSample!DbgPrint", or empty for none.
using AddressNamer = std::function<std::string(std::uint64_t)>;

// Decodes code (read from address) as one x64 instruction.
Instruction Disassemble(std::uint64_t address, std::span<const std::uint8_t> code, const AddressNamer& name);

}  // namespace ntbox::debug
