// ntbox gdbserver: the debugger engine as a GDB Remote Serial Protocol stub, so gdb (and VS Code,
// CLion, IDA through it) debug drivers: registers, memory, software breakpoints, single steps,
// interrupts, and the library list (each loaded driver with its load address, so gdb reads its
// DWARF itself and resolves pending breakpoints when a driver loads).
#pragma once

namespace ntbox::debug {

// Serves one gdb connection (in: what gdb sends, out: what it reads) until gdb detaches, kills
// or goes away. The caller attached the debugger (nt::kd::Debugger::Attach); on return every
// breakpoint is gone and the machine runs.
void ServeGdb(int in, int out);

}  // namespace ntbox::debug
