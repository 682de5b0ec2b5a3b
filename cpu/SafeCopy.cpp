#include "cpu/SafeCopy.h"

// rdi = destination, rsi = source, rdx = size; returns 1 in eax when done, 0 after a fault. The
// touches (rdi = address) share the recovery: a fault anywhere before ntbox_safe_copy_fault
// returns 0 to the caller (no frame of their own is on the stack).
asm(R"(
  .text
  .globl ntbox_safe_copy_begin
  .globl ntbox_safe_copy_end
  .globl ntbox_safe_copy_fault
  .type ntbox_safe_copy_begin, @function
ntbox_safe_copy_begin:
  mov %rdx, %rcx
  rep movsb
  mov $1, %eax
  ret
ntbox_safe_touch_read:
  movb (%rdi), %al
  mov $1, %eax
  ret
ntbox_safe_touch_write:
  lock orb $0, (%rdi)
  mov $1, %eax
  ret
ntbox_safe_read64:
  mov (%rdi), %rax
  mov %rax, (%rsi)
  mov $1, %eax
  ret
ntbox_safe_write64:
  mov %rsi, (%rdi)
  mov $1, %eax
  ret
ntbox_safe_copy_fault:
  xor %eax, %eax
  ret
ntbox_safe_copy_end:
)");

extern "C" {
int ntbox_safe_copy_begin(void* destination, const void* source, std::size_t size);
int ntbox_safe_touch_read(const void* address);
int ntbox_safe_touch_write(const void* address);
int ntbox_safe_read64(const void* address, std::uint64_t* value);
int ntbox_safe_write64(void* address, std::uint64_t value);
void ntbox_safe_copy_fault();
void ntbox_safe_copy_end();
}

namespace ntbox::cpu {

bool SafeCopy(void* destination, const void* source, std::size_t size) {
  if (size == 0) return true;
  return ntbox_safe_copy_begin(destination, source, size) != 0;
}

bool SafeTouch(const void* address, bool write) {
  return (write ? ntbox_safe_touch_write(address) : ntbox_safe_touch_read(address)) != 0;
}

bool SafeRead64(const void* address, std::uint64_t& value) { return ntbox_safe_read64(address, &value) != 0; }
bool SafeWrite64(void* address, std::uint64_t value) { return ntbox_safe_write64(address, value) != 0; }

bool RecoverSafeCopyFault(std::uint64_t& rip, std::uint64_t& rax) {
  const auto begin = reinterpret_cast<std::uint64_t>(&ntbox_safe_copy_begin);
  const auto fault = reinterpret_cast<std::uint64_t>(&ntbox_safe_copy_fault);
  if (rip < begin || rip >= fault) return false;
  rip = fault;
  rax = 0;
  return true;
}

}  // namespace ntbox::cpu
