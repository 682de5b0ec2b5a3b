// The memory behind an IRP: ntbox's bookkeeping in front of the IRP and its stack locations
// (IoSizeOfIrp bytes, as drivers expect them), and, for buffered requests, the system buffer.
#pragma once
#include <atomic>
#include <cstdint>

#include "nt/io/IoTypes.h"

namespace ntbox::nt::io {

enum class IrpOrigin : std::uint8_t {
  kDriver,        // IoAllocateIrp: the driver frees it (its completion routine stops completion)
  kSystemService, // a request from a process: the I/O manager finishes and frees it
  kSynchronous,   // IoBuildDeviceIoControlRequest / IoBuildSynchronousFsdRequest: freed at completion
  kAsynchronous,  // IoBuildAsynchronousFsdRequest: the driver frees it in its completion routine
};

struct IrpBlock {
  std::uint64_t magic;
  IrpOrigin origin;
  std::atomic<std::uint32_t> done;  // completion finished (a waiter may read IoStatus and free)
  ULONG userOutputLength;           // the caller's output size for a buffered copy-back
  PVOID kernelOutput;               // IoBuild* buffered requests: where the output goes
  std::uint64_t waiting;            // a thread sleeps until done (set and read under the kernel lock)
  void* async;                      // a program's overlapped request (io/Overlapped.h), or nullptr
  std::size_t bytes;                // the whole block, for freeing
  alignas(16) IRP irp;
  // IO_STACK_LOCATION stack[StackSize] follows, then the system buffer.

  IO_STACK_LOCATION* stack() { return reinterpret_cast<IO_STACK_LOCATION*>(&irp + 1); }
};

constexpr std::uint64_t kIrpMagic = 0x7072496F62746Eull;  // "ntboIrp"

// An IRP with stackSize locations and bufferSize bytes of system buffer (16-byte aligned) behind.
IrpBlock* AllocateIrpBlock(CCHAR stackSize, IrpOrigin origin, ULONG bufferSize = 0);
void* SystemBufferOf(IrpBlock* block);
IrpBlock* BlockOf(IRP* irp);  // nullptr when irp is not an IRP ntbox allocated
void FreeIrpBlock(IrpBlock* block);
// Blocks until a pending system-service IRP has completed.
void WaitForCompletion(IrpBlock* block);

}  // namespace ntbox::nt::io
