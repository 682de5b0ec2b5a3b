// A program's console: what kernelbase's console functions reach through \Device\ConDrv, served
// against the terminal or pipes the client lent (input from one descriptor, output to another), as
// conhost serves them on Windows. Wine 8.0's kernelbase speaks Wine's own console protocol to the
// device (IOCTL_CONDRV_*, include/wine/condrv.h: codes and layouts taken from there, not Windows'
// condrv protocol), so that is what the device answers.
//
// Input: bytes from the descriptor become what the request asks for: bytes (ReadFile, ReadConsoleA),
// UTF-16 (ReadConsoleW) or key events (ReadConsoleInput, _getch). The console modes drive the
// terminal: line input and echo are the terminal's canonical mode and echo, processed input is its
// Ctrl-C signal (which reaches the program as a console control event); a raw read gets Enter as
// '\r', as on Windows. The terminal's settings are put back when the console goes. Reads pend as
// IRPs a reader thread completes, so they are cancelled like any request when the program ends.
//
// Output: bytes or UTF-16 written as UTF-8; text attributes and cursor moves as ANSI sequences on a
// terminal. A terminal cannot be read back: ReadConsoleOutput and ScrollConsoleScreenBuffer are
// refused.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <termios.h>

#include "nt/Kernel.h"
#include "nt/io/HostDriver.h"
#include "nt/io/IoTypes.h"

namespace ntbox::user {

class Console {
 public:
  // in and out are the client's descriptors (the console keeps its own duplicates).
  Console(int in, int out);
  // Stops the reader and restores the terminal.
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // The kinds of file \Device\ConDrv opens (the file's FsContext2).
  enum class FileKind : std::uintptr_t { kInput = 1, kOutput, kConnection };

  // The device's requests, under the kernel lock (dispatch routines and the reader hold it).
  nt::NTSTATUS Read(nt::IRP* irp, std::uint32_t length);
  nt::NTSTATUS Write(nt::IRP* irp, const std::uint8_t* data, std::uint32_t length);
  nt::NTSTATUS Control(nt::IRP* irp, FileKind kind);
  // From any thread (the server's, for the client's Ctrl-C): the event is raised on the console's
  // own thread, attached to the kernel.
  void Interrupt(std::uint32_t event);

  // The processes on the console (a program and the ones it started that share it). A console
  // control event (CTRL_C_EVENT 0, CTRL_BREAK_EVENT 1) goes to each, by raise; end ends one.
  struct Process {
    std::function<void(std::uint32_t event)> raise;
    std::function<void(std::uint32_t code)> end;
  };
  void Attach(const void* key, Process process);
  void Detach(const void* key);
  // Ends every process on the console with code (its window closes: the client went away).
  void EndAll(std::uint32_t code);
  // Returns once no process is on the console.
  void WaitUntilEmpty();

 private:
  enum class ReadKind { kBytes, kWide, kWideWithControl, kRecords };
  struct PendingRead {
    nt::IRP* irp;
    ReadKind kind;
    std::uint32_t length;
  };
  nt::NTSTATUS Queue(nt::IRP* irp, ReadKind kind, std::uint32_t length);
  static void NTAPI CancelRead(nt::DEVICE_OBJECT* device, nt::IRP* irp);
  // Whether the head request can complete now, and completing it.
  bool Ready(ReadKind kind) const;
  std::uint32_t Fill(ReadKind kind, std::uint8_t* out, std::uint32_t length);
  // Completes a read that is ready: what Fill gives, or end of file for events.
  nt::NTSTATUS CompleteRead(nt::IRP* irp, ReadKind kind, std::uint32_t length);
  void Serve();
  void Reader();
  // Takes what the input descriptor has now without waiting (PeekConsoleInput, _kbhit).
  void Poll();
  void Take(const char* data, std::size_t size);
  void MakeRecords();
  std::string TakeLine(std::size_t max);
  void ApplyInputMode();
  void Emit(std::string_view text);

  int in_ = -1, out_ = -1;
  int wake_ = -1;  // eventfd: the reader looks again
  bool inTty_ = false, outTty_ = false;
  bool savedValid_ = false;
  termios saved_{};
  // Under the kernel lock, with the processes' list copied out.
  void Raise(std::uint32_t event);
  std::mutex processesMutex_;
  std::condition_variable processesGone_;
  std::map<const void*, Process> processes_;
  std::uint32_t inputMode_ = 0x1F7, outputMode_ = 0x3;
  std::uint32_t inputCp_ = 65001, outputCp_ = 65001;
  std::u16string title_;
  std::uint16_t attr_ = 0x7;
  // Input taken from the descriptor: raw bytes, then key events made from them (20-byte
  // INPUT_RECORDs) when a request wants events.
  std::string input_;
  std::deque<std::array<std::uint8_t, 20>> records_;
  bool eof_ = false;
  std::deque<PendingRead> pending_;
  bool stopping_ = false;
  std::atomic<int> interrupt_{-1};  // an event Interrupt asked for
  std::thread reader_;
};

// \Driver\ConDrv and \Device\ConDrv, with \??\CONIN$, \??\CONOUT$ and \??\CON. A process's console is
// the one its creator attached (ps::Process::console); CurrentIn, CurrentOut, Console, Input and
// Output open it, Connection and Reference open files relative to a console handle.
// The console a file of \Device\ConDrv belongs to; nullptr for any other object.
std::shared_ptr<Console> ConsoleOfFile(void* object);

class ConsoleDriver {
 public:
  explicit ConsoleDriver(nt::Kernel& kernel);

 private:
  std::unique_ptr<nt::io::HostDriver> driver_;
};

}  // namespace ntbox::user
