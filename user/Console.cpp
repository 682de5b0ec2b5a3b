#include "user/Console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "nt/Status.h"
#include "nt/io/IoExports.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "support/Utf16.h"

namespace ntbox::user {
namespace {

using nt::IRP;
using nt::NTSTATUS;
using nt::io::HostDriver;

// Wine's console requests: CTL_CODE(FILE_DEVICE_CONSOLE, function, METHOD_BUFFERED, access).
constexpr std::uint32_t Condrv(std::uint32_t function, std::uint32_t access) {
  return (0x50u << 16) | (access << 14) | (function << 2);
}
constexpr std::uint32_t kRead = 1, kWrite = 2, kAny = 0;
enum : std::uint32_t {
  GET_MODE = Condrv(0, kRead),
  SET_MODE = Condrv(1, kWrite),
  IS_UNIX = Condrv(2, kAny),
  READ_CONSOLE = Condrv(10, kRead),
  READ_FILE = Condrv(11, kRead),
  READ_INPUT = Condrv(12, kRead),
  WRITE_INPUT = Condrv(13, kWrite),
  PEEK = Condrv(14, kRead),
  GET_INPUT_INFO = Condrv(15, kRead),
  SET_INPUT_INFO = Condrv(16, kWrite),
  GET_TITLE = Condrv(17, kRead),
  SET_TITLE = Condrv(18, kWrite),
  CTRL_EVENT = Condrv(19, kAny),
  BEEP = Condrv(20, kAny),
  FLUSH = Condrv(21, kAny),
  GET_WINDOW = Condrv(22, kAny),
  GET_PROCESS_LIST = Condrv(23, kAny),
  READ_CONSOLE_CONTROL = Condrv(24, kRead),
  WRITE_CONSOLE = Condrv(30, kWrite),
  WRITE_FILE = Condrv(31, kWrite),
  READ_OUTPUT = Condrv(32, kRead),
  WRITE_OUTPUT = Condrv(33, kWrite),
  GET_OUTPUT_INFO = Condrv(34, kRead),
  SET_OUTPUT_INFO = Condrv(35, kWrite),
  ACTIVATE = Condrv(36, kWrite),
  FILL_OUTPUT = Condrv(37, kWrite),
  SCROLL = Condrv(38, kWrite),
  BIND_PID = Condrv(51, kAny),
};

// Console modes (SetConsoleMode).
constexpr std::uint32_t ENABLE_PROCESSED_INPUT = 0x1, ENABLE_LINE_INPUT = 0x2, ENABLE_ECHO_INPUT = 0x4;

// struct condrv_output_info (68 bytes of shorts, then a 16-entry color table).
struct OutputInfo {
  std::int16_t cursorSize, cursorVisible, cursorX, cursorY, width, height, attr, popupAttr;
  std::int16_t winLeft, winTop, winRight, winBottom, maxWidth, maxHeight;
  std::int16_t fontWidth, fontHeight, fontWeight, fontPitchFamily;
  std::uint32_t colorMap[16];
};
static_assert(sizeof(OutputInfo) == 100);
constexpr std::uint32_t kSetOutputCursorPos = 0x2, kSetOutputAttr = 0x8;
struct InputInfo {
  std::uint32_t inputCp, outputCp, inputCount;
};
constexpr std::uint32_t kSetInputCp = 0x1, kSetOutputCp = 0x2;
struct FillParams {
  std::int32_t x, y, mode, count, wrap;
  char16_t ch;
  std::uint16_t attr;
};
static_assert(sizeof(FillParams) == 24);
struct OutputParams {
  std::uint32_t x, y, mode, width;
};
constexpr std::int32_t kCharInfoText = 0, kCharInfoAttr = 1, kCharInfoTextAttr = 2;

// A key event (INPUT_RECORD, KEY_EVENT) as Windows reports a key press or release.
std::array<std::uint8_t, 20> KeyRecord(bool down, char16_t ch, std::uint16_t vk, std::uint16_t scan,
                                       std::uint32_t state) {
  std::array<std::uint8_t, 20> r{};
  const std::uint16_t type = 1;  // KEY_EVENT
  const std::uint32_t isDown = down;
  const std::uint16_t repeat = 1;
  std::memcpy(&r[0], &type, 2);
  std::memcpy(&r[4], &isDown, 4);
  std::memcpy(&r[8], &repeat, 2);
  std::memcpy(&r[10], &vk, 2);
  std::memcpy(&r[12], &scan, 2);
  std::memcpy(&r[14], &ch, 2);
  std::memcpy(&r[16], &state, 4);
  return r;
}

// The terminal's escape sequences for the keys _getch reports as 0xE0 + scan code.
struct EnhancedKey {
  std::string_view sequence;
  std::uint16_t vk, scan;
};
constexpr EnhancedKey kEnhancedKeys[] = {
    {"\x1b[A", 0x26, 0x48}, {"\x1b[B", 0x28, 0x50}, {"\x1b[C", 0x27, 0x4D}, {"\x1b[D", 0x25, 0x4B},
    {"\x1b[H", 0x24, 0x47}, {"\x1b[F", 0x23, 0x4F}, {"\x1bOH", 0x24, 0x47}, {"\x1bOF", 0x23, 0x4F},
    {"\x1b[1~", 0x24, 0x47}, {"\x1b[4~", 0x23, 0x4F}, {"\x1b[2~", 0x2D, 0x52}, {"\x1b[3~", 0x2E, 0x53},
    {"\x1b[5~", 0x21, 0x49}, {"\x1b[6~", 0x22, 0x51},
};
constexpr std::uint32_t kEnhancedKey = 0x100;

constexpr std::uint32_t CP_UTF8 = 65001;

// A console code page other than UTF-8 is taken as Latin-1 (its first 256 code points); a
// character it lacks becomes '?'.
std::string ToCodePage(std::uint32_t codePage, std::string_view utf8) {
  if (codePage == CP_UTF8) return std::string(utf8);
  std::string out;
  for (char16_t c : Utf8ToUtf16(utf8)) out += c < 0x100 ? static_cast<char>(c) : '?';
  return out;
}
std::string FromCodePage(std::uint32_t codePage, std::string_view text) {
  if (codePage == CP_UTF8) return std::string(text);
  std::u16string wide;
  for (char c : text) wide += static_cast<char16_t>(static_cast<unsigned char>(c));
  return Utf16ToUtf8(wide);
}

// How many bytes of UTF-8 text fit in max without cutting a character.
std::size_t CharBoundary(std::string_view s, std::size_t max) {
  if (max >= s.size()) return s.size();
  while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xC0) == 0x80) --max;
  return max;
}

}  // namespace

Console::Console(int in, int out) {
  in_ = ::fcntl(in, F_DUPFD_CLOEXEC, 3);
  out_ = ::fcntl(out, F_DUPFD_CLOEXEC, 3);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  inTty_ = in_ >= 0 && ::isatty(in_);
  outTty_ = out_ >= 0 && ::isatty(out_);
  if (inTty_ && ::tcgetattr(in_, &saved_) == 0) savedValid_ = true;
  ApplyInputMode();
  reader_ = std::thread([this] { Reader(); });
}

Console::~Console() {
  {
    std::lock_guard lock(nt::ke::TheKernelLock());
    stopping_ = true;
    // Requests still queued end with the console (their process has ended).
    while (!pending_.empty()) {
      IRP* irp = pending_.front().irp;
      pending_.pop_front();
      if (nt::io::ExchangeCancelRoutine(irp, nullptr)) HostDriver::Complete(irp, nt::STATUS_CANCELLED, 0);
    }
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
  // The reader takes the kernel lock: a caller that holds it lets go while the reader ends.
  auto& lock = nt::ke::TheKernelLock();
  const unsigned depth = lock.HeldByCaller() ? lock.ReleaseAll() : 0;
  if (reader_.joinable()) reader_.join();
  if (depth) lock.Reacquire(depth);
  if (savedValid_) (void)::tcsetattr(in_, TCSANOW, &saved_);
  for (int fd : {in_, out_, wake_}) {
    if (fd >= 0) ::close(fd);
  }
}

// The terminal follows the input mode: canonical and echoing for line input, raw (Enter as '\r')
// otherwise; Ctrl-C a signal (a control event for the program) only with processed input.
void Console::ApplyInputMode() {
  if (!savedValid_) return;
  termios t = saved_;
  if (!(inputMode_ & ENABLE_LINE_INPUT)) {
    t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ECHONL);
    t.c_iflag &= ~static_cast<tcflag_t>(ICRNL | INLCR);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
  } else {
    t.c_lflag |= ICANON;
    if (inputMode_ & ENABLE_ECHO_INPUT) {
      t.c_lflag |= ECHO;
    } else {
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    }
  }
  if (inputMode_ & ENABLE_PROCESSED_INPUT) {
    t.c_lflag |= ISIG;
  } else {
    t.c_lflag &= ~static_cast<tcflag_t>(ISIG);
  }
  (void)::tcsetattr(in_, TCSANOW, &t);
}

void Console::Emit(std::string_view input) {
  // A terminal adds the carriage return to a line feed itself.
  std::string crlf;
  if (outTty_ && input.find("\r\n") != std::string_view::npos) {
    for (std::size_t i = 0; i < input.size(); ++i) {
      if (input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n') continue;
      crlf += input[i];
    }
    input = crlf;
  }
  const std::string_view text = input;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(out_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Bytes from the input descriptor. In line mode a line ends "\r\n", as Windows' consoles return it.
void Console::Take(const char* data, std::size_t size) {
  const bool line = inputMode_ & ENABLE_LINE_INPUT;
  for (std::size_t i = 0; i < size; ++i) {
    if (line && data[i] == '\n' && (input_.empty() || input_.back() != '\r')) input_ += '\r';
    input_ += data[i];
  }
}

void Console::Poll() {
  if (eof_ || in_ < 0) return;
  for (;;) {
    pollfd p{in_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || !(p.revents & (POLLIN | POLLHUP))) return;
    char buffer[4096];
    const ssize_t n = ::read(in_, buffer, sizeof buffer);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    Take(buffer, static_cast<std::size_t>(n));
  }
}

// Key events for what input_ holds: a press and a release per character, the terminal's sequences
// for the arrows and the editing keys as those keys.
void Console::MakeRecords() {
  std::size_t at = 0;
  while (at < input_.size()) {
    std::string_view rest = std::string_view(input_).substr(at);
    const EnhancedKey* key = nullptr;
    for (const auto& k : kEnhancedKeys) {
      if (rest.starts_with(k.sequence)) key = &k;
    }
    if (key) {
      records_.push_back(KeyRecord(true, 0, key->vk, key->scan, kEnhancedKey));
      records_.push_back(KeyRecord(false, 0, key->vk, key->scan, kEnhancedKey));
      at += key->sequence.size();
      continue;
    }
    std::size_t length = 1;
    const auto lead = static_cast<unsigned char>(rest[0]);
    if (lead >= 0xF0) length = 4;
    else if (lead >= 0xE0) length = 3;
    else if (lead >= 0xC0) length = 2;
    if (length > rest.size()) break;  // the rest of the character is still to come
    const std::u16string chars = Utf8ToUtf16(rest.substr(0, length));
    for (char16_t c : chars) {
      std::uint16_t vk = 0;
      std::uint32_t state = 0;
      if (c == u'\r' || c == u'\n') {
        vk = 0x0D;  // VK_RETURN
        c = u'\r';
      } else if (c == 0x1B) {
        vk = 0x1B;
      } else if (c == 0x08 || c == 0x7F) {
        vk = 0x08;  // VK_BACK: the terminal's erase key
        c = 0x08;
      } else if (c < 0x20) {
        vk = static_cast<std::uint16_t>('@' + c);  // Ctrl+letter
        state = 0x8;  // LEFT_CTRL_PRESSED
      } else if (c < 0x80) {
        const char16_t upper = (c >= u'a' && c <= u'z') ? c - 0x20 : c;
        vk = static_cast<std::uint16_t>(upper);
      }
      records_.push_back(KeyRecord(true, c, vk, 0, state));
      records_.push_back(KeyRecord(false, c, vk, 0, state));
    }
    at += length;
  }
  input_.erase(0, at);
}

bool Console::Ready(ReadKind kind) const {
  if (eof_) return true;
  if (kind == ReadKind::kRecords) return !records_.empty() || !input_.empty();
  for (const auto& r : records_) {
    if (r[4] && (r[14] || r[15])) return true;  // a key press with a character
  }
  if (!(inputMode_ & ENABLE_LINE_INPUT) || inTty_) return !input_.empty();
  return input_.find('\n') != std::string::npos;
}

// The next line (line mode) or what there is (raw), at most max bytes, keys already made into
// events first (their characters).
std::string Console::TakeLine(std::size_t max) {
  if (!records_.empty()) {
    std::u16string chars;
    for (const auto& r : records_) {
      char16_t c;
      std::memcpy(&c, &r[14], 2);
      if (r[4] && c) chars += c;
    }
    records_.clear();
    input_.insert(0, Utf16ToUtf8(chars));
  }
  std::size_t end = input_.size();
  if (inputMode_ & ENABLE_LINE_INPUT) {
    if (const std::size_t nl = input_.find('\n'); nl != std::string::npos) end = nl + 1;
  }
  end = CharBoundary(input_, std::min(end, max));
  std::string out = input_.substr(0, end);
  input_.erase(0, end);
  return out;
}

std::uint32_t Console::Fill(ReadKind kind, std::uint8_t* out, std::uint32_t length) {
  switch (kind) {
    case ReadKind::kRecords: {
      MakeRecords();
      const std::size_t n = std::min<std::size_t>(records_.size(), length / 20);
      for (std::size_t i = 0; i < n; ++i) {
        std::memcpy(out + 20 * i, records_.front().data(), 20);
        records_.pop_front();
      }
      return static_cast<std::uint32_t>(20 * n);
    }
    case ReadKind::kBytes: {
      std::string text = ToCodePage(inputCp_, TakeLine(length));
      std::memcpy(out, text.data(), text.size());
      return static_cast<std::uint32_t>(text.size());
    }
    case ReadKind::kWide:
    case ReadKind::kWideWithControl: {
      const std::uint32_t skip = kind == ReadKind::kWideWithControl ? 4 : 0;
      if (length < skip) return 0;
      if (skip) std::memset(out, 0, skip);  // dwConsoleKeyState
      // UTF-8 never takes fewer bytes than UTF-16 units, so the bytes taken fit as UTF-16.
      const std::u16string wide = Utf8ToUtf16(TakeLine((length - skip) / 2));
      std::memcpy(out + skip, wide.data(), wide.size() * 2);
      return static_cast<std::uint32_t>(skip + wide.size() * 2);
    }
  }
  return 0;
}

void Console::Serve() {
  while (!pending_.empty() && Ready(pending_.front().kind)) {
    const PendingRead p = pending_.front();
    pending_.pop_front();
    // Everything here runs under the kernel lock, as the cancel routine does: an IRP still queued
    // has its routine.
    (void)nt::io::ExchangeCancelRoutine(p.irp, nullptr);
    CompleteRead(p.irp, p.kind, p.length);
  }
}

NTSTATUS Console::CompleteRead(IRP* irp, ReadKind kind, std::uint32_t length) {
  if (eof_ && kind == ReadKind::kRecords && records_.empty() && input_.empty()) {
    return HostDriver::Complete(irp, nt::STATUS_END_OF_FILE, 0);  // ReadConsoleInput fails; _getch returns EOF
  }
  auto* buffer = static_cast<std::uint8_t*>(irp->AssociatedIrp.SystemBuffer);
  return HostDriver::Complete(irp, nt::STATUS_SUCCESS, buffer ? Fill(kind, buffer, length) : 0);
}

void NTAPI Console::CancelRead(nt::DEVICE_OBJECT*, IRP* irp) {
  nt::IoReleaseCancelSpinLock(irp->CancelIrql);
  auto* file = irp->Tail.Overlay.CurrentStackLocation->FileObject;
  auto* console = static_cast<std::shared_ptr<Console>*>(file->FsContext)->get();
  auto& q = console->pending_;
  q.erase(std::remove_if(q.begin(), q.end(), [irp](const PendingRead& p) { return p.irp == irp; }), q.end());
  HostDriver::Complete(irp, nt::STATUS_CANCELLED, 0);
}

NTSTATUS Console::Queue(IRP* irp, ReadKind kind, std::uint32_t length) {
  if (pending_.empty() && (Poll(), Ready(kind))) return CompleteRead(irp, kind, length);
  irp->Tail.Overlay.CurrentStackLocation->Control |= nt::SL_PENDING_RETURNED;
  pending_.push_back({irp, kind, length});
  (void)nt::io::ExchangeCancelRoutine(irp, &CancelRead);
  if (irp->Cancel && nt::io::ExchangeCancelRoutine(irp, nullptr)) {
    pending_.pop_back();
    return HostDriver::Complete(irp, nt::STATUS_CANCELLED, 0);
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
  return nt::STATUS_PENDING;
}

void Console::Reader() {
  nt::ke::ThreadAttachment attachment(0);
  auto& lock = nt::ke::TheKernelLock();
  for (;;) {
    bool want;
    {
      std::lock_guard held(lock);
      if (stopping_) return;
      want = !pending_.empty() && !eof_;
    }
    pollfd p[2] = {{wake_, POLLIN, 0}, {want ? in_ : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents & POLLIN) {
      std::uint64_t value;
      (void)!::read(wake_, &value, sizeof value);
      if (const int event = interrupt_.exchange(-1); event >= 0) {
        std::lock_guard held(lock);
        Raise(static_cast<std::uint32_t>(event));
      }
    }
    if (!p[1].revents) continue;
    char buffer[4096];
    const ssize_t n = ::read(in_, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    std::lock_guard held(lock);
    if (n <= 0) {
      eof_ = true;
    } else {
      Take(buffer, static_cast<std::size_t>(n));
    }
    Serve();
  }
}

void Console::Interrupt(std::uint32_t event) {
  interrupt_.store(static_cast<int>(event));
  const std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
}

void Console::Attach(const void* key, Process process) {
  std::lock_guard lock(processesMutex_);
  processes_[key] = std::move(process);
}

void Console::Detach(const void* key) {
  std::lock_guard lock(processesMutex_);
  processes_.erase(key);
  processesGone_.notify_all();
}

void Console::Raise(std::uint32_t event) {
  std::vector<Process> processes;
  {
    std::lock_guard lock(processesMutex_);
    for (const auto& [key, p] : processes_) processes.push_back(p);
  }
  for (const Process& p : processes) p.raise(event);
}

void Console::EndAll(std::uint32_t code) {
  std::vector<Process> processes;
  {
    std::lock_guard lock(processesMutex_);
    for (const auto& [key, p] : processes_) processes.push_back(p);
  }
  for (const Process& p : processes) p.end(code);
}

void Console::WaitUntilEmpty() {
  std::unique_lock lock(processesMutex_);
  processesGone_.wait(lock, [this] { return processes_.empty(); });
}

NTSTATUS Console::Read(IRP* irp, std::uint32_t length) { return Queue(irp, ReadKind::kBytes, length); }

NTSTATUS Console::Write(IRP* irp, const std::uint8_t* data, std::uint32_t length) {
  Emit(FromCodePage(outputCp_, std::string_view(reinterpret_cast<const char*>(data), length)));
  return HostDriver::Complete(irp, nt::STATUS_SUCCESS, length);
}

NTSTATUS Console::Control(IRP* irp, FileKind kind) {
  const auto& p = irp->Tail.Overlay.CurrentStackLocation->Parameters.DeviceIoControl;
  auto* buffer = static_cast<std::uint8_t*>(irp->AssociatedIrp.SystemBuffer);
  const std::uint32_t in = p.InputBufferLength, out = p.OutputBufferLength;
  const bool input = kind == FileKind::kInput, output = kind == FileKind::kOutput;
  auto done = [irp](std::uint64_t information = 0) { return HostDriver::Complete(irp, nt::STATUS_SUCCESS, information); };
  auto fail = [irp](NTSTATUS status) { return HostDriver::Complete(irp, status, 0); };
  auto put = [&](const void* value, std::size_t size) {
    if (out < size) return fail(nt::STATUS_INVALID_PARAMETER);
    std::memcpy(buffer, value, size);
    return done(size);
  };
  switch (p.IoControlCode) {
    case GET_MODE: {
      if (!input && !output) break;
      const std::uint32_t mode = input ? inputMode_ : outputMode_;
      return put(&mode, 4);
    }
    case SET_MODE: {
      if ((!input && !output) || in < 4) return fail(nt::STATUS_INVALID_PARAMETER);
      std::uint32_t mode;
      std::memcpy(&mode, buffer, 4);
      if (input) {
        inputMode_ = mode;
        ApplyInputMode();
      } else {
        outputMode_ = mode;
      }
      return done();
    }
    case READ_FILE:
      if (!input) break;
      return Queue(irp, ReadKind::kBytes, out);
    case READ_CONSOLE:
      if (!input) break;
      return Queue(irp, ReadKind::kWide, out);
    case READ_CONSOLE_CONTROL:
      if (!input) break;
      return Queue(irp, ReadKind::kWideWithControl, out);
    case READ_INPUT:
      if (!input) break;
      return Queue(irp, ReadKind::kRecords, out);
    case PEEK: {
      if (!input) break;
      Poll();
      MakeRecords();
      const std::size_t n = std::min<std::size_t>(records_.size(), out / 20);
      for (std::size_t i = 0; i < n; ++i) std::memcpy(buffer + 20 * i, records_[i].data(), 20);
      return done(20 * n);
    }
    case WRITE_INPUT: {
      if (!input) break;
      for (std::uint32_t i = 0; i + 20 <= in; i += 20) {
        std::array<std::uint8_t, 20> r;
        std::memcpy(r.data(), buffer + i, 20);
        MakeRecords();
        records_.push_back(r);
      }
      Serve();
      return done();
    }
    case GET_INPUT_INFO: {
      if (!input) break;
      Poll();
      MakeRecords();
      const InputInfo info{inputCp_, outputCp_, static_cast<std::uint32_t>(records_.size())};
      return put(&info, sizeof info);
    }
    case SET_INPUT_INFO: {
      if (!input || in < 16) return fail(nt::STATUS_INVALID_PARAMETER);
      std::uint32_t mask;
      InputInfo info;
      std::memcpy(&mask, buffer, 4);
      std::memcpy(&info, buffer + 4, sizeof info);
      if (mask & kSetInputCp) inputCp_ = info.inputCp;
      if (mask & kSetOutputCp) outputCp_ = info.outputCp;
      return done();
    }
    case GET_TITLE: {
      if (!input) break;
      // struct condrv_title_params (8 bytes with its padding): the title's length, then as much of
      // the title as fits after the structure, at offset 4; the size reported counts the padding.
      if (out < 8) return fail(nt::STATUS_INVALID_PARAMETER);
      const auto length = static_cast<std::uint32_t>(title_.size());
      const std::size_t chars = std::min<std::size_t>(title_.size(), (out - 8) / 2);
      std::memcpy(buffer, &length, 4);
      std::memcpy(buffer + 4, title_.data(), chars * 2);
      return done(8 + chars * 2);
    }
    case SET_TITLE:
      if (!input) break;
      title_.assign(reinterpret_cast<const char16_t*>(buffer), in / 2);
      if (outTty_) Emit("\x1b]0;" + Utf16ToUtf8(title_) + "\a");
      return done();
    case CTRL_EVENT: {
      if (!input || in < 8) return fail(nt::STATUS_INVALID_PARAMETER);
      std::int32_t event;
      std::memcpy(&event, buffer, 4);
      if (event != 0 && event != 1) return fail(nt::STATUS_INVALID_PARAMETER);
      Raise(static_cast<std::uint32_t>(event));
      return done();
    }
    case BEEP:
      Emit("\a");
      return done();
    case FLUSH:
      if (!input) break;
      Poll();
      input_.clear();
      records_.clear();
      return done();
    case GET_WINDOW: {
      const std::uint32_t none = 0;  // no window: the console is the client's terminal
      return put(&none, 4);
    }
    case GET_PROCESS_LIST: {
      const std::uint32_t pid = nt::ps::CurrentProcess().id();
      return put(&pid, 4);
    }
    case IS_UNIX:
      return fail(nt::STATUS_NOT_SUPPORTED);
    case BIND_PID:
      return kind == FileKind::kConnection ? done() : fail(nt::STATUS_INVALID_PARAMETER);
    case WRITE_CONSOLE: {
      if (!output) break;
      Emit(Utf16ToUtf8(std::u16string_view(reinterpret_cast<const char16_t*>(buffer), in / 2)));
      return done();
    }
    case WRITE_FILE:
      if (!output) break;
      return Write(irp, buffer, in);
    case GET_OUTPUT_INFO: {
      if (!output) break;
      winsize ws{};
      if (!outTty_ || ::ioctl(out_, TIOCGWINSZ, &ws) != 0 || !ws.ws_col || !ws.ws_row) {
        ws.ws_col = 80;
        ws.ws_row = 25;
      }
      OutputInfo info{};
      info.cursorSize = 25;
      info.cursorVisible = 1;
      info.width = info.maxWidth = static_cast<std::int16_t>(ws.ws_col);
      info.height = info.maxHeight = static_cast<std::int16_t>(ws.ws_row);
      info.attr = static_cast<std::int16_t>(attr_);
      info.popupAttr = 0xF5;
      info.winRight = static_cast<std::int16_t>(ws.ws_col - 1);
      info.winBottom = static_cast<std::int16_t>(ws.ws_row - 1);
      info.fontWidth = 8;
      info.fontHeight = 16;
      info.fontWeight = 400;
      // The classic console palette (COLORREF, 0x00BBGGRR).
      constexpr std::uint32_t kPalette[16] = {0x000000, 0x800000, 0x008000, 0x808000, 0x000080, 0x800080,
                                              0x008080, 0xC0C0C0, 0x808080, 0xFF0000, 0x00FF00, 0xFFFF00,
                                              0x0000FF, 0xFF00FF, 0x00FFFF, 0xFFFFFF};
      std::memcpy(info.colorMap, kPalette, sizeof kPalette);
      return put(&info, sizeof info);
    }
    case SET_OUTPUT_INFO: {
      if (!output || in < 4 + sizeof(OutputInfo)) return fail(nt::STATUS_INVALID_PARAMETER);
      std::uint32_t mask;
      OutputInfo info;
      std::memcpy(&mask, buffer, 4);
      std::memcpy(&info, buffer + 4, sizeof info);
      if ((mask & kSetOutputAttr) && outTty_) {
        attr_ = static_cast<std::uint16_t>(info.attr);
        // Windows' colour bits are blue 1, green 2, red 4, intensity 8; ANSI's are red 1, green 2, blue 4.
        auto ansi = [](unsigned c) { return ((c & 1) << 2) | (c & 2) | ((c & 4) >> 2); };
        const unsigned fg = attr_ & 0xF, bg = (attr_ >> 4) & 0xF;
        Emit(fmt::format("\x1b[0;{};{}m", (fg & 8 ? 90 : 30) + ansi(fg), (bg & 8 ? 100 : 40) + ansi(bg)));
      } else if (mask & kSetOutputAttr) {
        attr_ = static_cast<std::uint16_t>(info.attr);
      }
      if ((mask & kSetOutputCursorPos) && outTty_) Emit(fmt::format("\x1b[{};{}H", info.cursorY + 1, info.cursorX + 1));
      return done();
    }
    case FILL_OUTPUT: {
      if (!output || in < sizeof(FillParams)) return fail(nt::STATUS_INVALID_PARAMETER);
      FillParams f;
      std::memcpy(&f, buffer, sizeof f);
      if (f.count < 0 || f.count > 1 << 20) return fail(nt::STATUS_INVALID_PARAMETER);
      if (outTty_ && f.mode != kCharInfoAttr) {
        Emit(fmt::format("\x1b[s\x1b[{};{}H", f.y + 1, f.x + 1));
        std::string text;
        const std::string ch = Utf16ToUtf8(std::u16string_view(&f.ch, 1));
        for (std::int32_t i = 0; i < f.count; ++i) text += ch;
        Emit(text + "\x1b[u");
      }
      const std::uint32_t written = static_cast<std::uint32_t>(f.count);
      if (out >= 4) return put(&written, 4);
      return done();
    }
    case WRITE_OUTPUT: {
      if (!output || in < sizeof(OutputParams)) return fail(nt::STATUS_INVALID_PARAMETER);
      OutputParams o;
      std::memcpy(&o, buffer, sizeof o);
      const std::size_t unit = o.mode == kCharInfoTextAttr ? 4 : 2;
      const std::size_t count = (in - sizeof o) / unit;
      if (outTty_ && o.mode != static_cast<std::uint32_t>(kCharInfoAttr)) {
        std::u16string text;
        for (std::size_t i = 0; i < count; ++i) {
          char16_t c;
          std::memcpy(&c, buffer + sizeof o + unit * i, 2);
          text += c;
        }
        Emit(fmt::format("\x1b[s\x1b[{};{}H{}\x1b[u", o.y + 1, o.x + 1, Utf16ToUtf8(text)));
      }
      const std::uint32_t written = static_cast<std::uint32_t>(count);
      if (o.width == 0 && out >= 4) return put(&written, 4);
      return done();
    }
    case ACTIVATE:
      return done();
    case READ_OUTPUT:
    case SCROLL:
      // A terminal's screen cannot be read back.
      return fail(nt::STATUS_NOT_SUPPORTED);
    default:
      break;
  }
  return fail(nt::STATUS_INVALID_HANDLE);
}

// The driver.
namespace {

nt::DEVICE_OBJECT* g_device = nullptr;  // \Device\ConDrv

bool NameIs(std::u16string_view name, std::u16string_view want) {
  while (!name.empty() && name.front() == u'\\') name.remove_prefix(1);
  return nt::ob::UpcaseName(name) == nt::ob::UpcaseName(want);
}

nt::FILE_OBJECT* FileOf(IRP* irp) { return irp->Tail.Overlay.CurrentStackLocation->FileObject; }

NTSTATUS NTAPI Create(nt::DEVICE_OBJECT*, IRP* irp) {
  nt::FILE_OBJECT* file = FileOf(irp);
  const std::u16string_view name(file->FileName.Buffer, file->FileName.Length / 2);
  std::shared_ptr<Console> console;
  if (file->RelatedFileObject && file->RelatedFileObject->FsContext) {
    console = *static_cast<std::shared_ptr<Console>*>(file->RelatedFileObject->FsContext);
  } else {
    console = std::static_pointer_cast<Console>(nt::ps::CurrentProcess().console);
  }
  Console::FileKind kind;
  if (NameIs(name, u"Server")) return HostDriver::Complete(irp, nt::STATUS_NOT_SUPPORTED, 0);  // no conhost here
  if (!console) return HostDriver::Complete(irp, nt::STATUS_INVALID_HANDLE, 0);
  if (NameIs(name, u"CurrentIn") || NameIs(name, u"Input") || NameIs(name, u"Reference")) {
    kind = Console::FileKind::kInput;
  } else if (NameIs(name, u"CurrentOut") || NameIs(name, u"Output") || NameIs(name, u"ScreenBuffer")) {
    kind = Console::FileKind::kOutput;
  } else if (NameIs(name, u"Connection")) {
    kind = Console::FileKind::kConnection;
  } else if (NameIs(name, u"Console") || NameIs(name, u"")) {
    // CON: input for reading, output for writing, not both.
    if (file->WriteAccess && file->ReadAccess) return HostDriver::Complete(irp, nt::STATUS_INVALID_PARAMETER, 0);
    kind = file->WriteAccess ? Console::FileKind::kOutput : Console::FileKind::kInput;
  } else {
    return HostDriver::Complete(irp, nt::STATUS_OBJECT_NAME_NOT_FOUND, 0);
  }
  file->FsContext = new std::shared_ptr<Console>(std::move(console));
  file->FsContext2 = reinterpret_cast<void*>(static_cast<std::uintptr_t>(kind));
  return HostDriver::Complete(irp, nt::STATUS_SUCCESS, 0);
}

NTSTATUS NTAPI Close(nt::DEVICE_OBJECT*, IRP* irp) {
  nt::FILE_OBJECT* file = FileOf(irp);
  delete static_cast<std::shared_ptr<Console>*>(file->FsContext);
  file->FsContext = nullptr;
  return HostDriver::Complete(irp, nt::STATUS_SUCCESS, 0);
}

NTSTATUS NTAPI Cleanup(nt::DEVICE_OBJECT*, IRP* irp) { return HostDriver::Complete(irp, nt::STATUS_SUCCESS, 0); }

Console* ConsoleOf(IRP* irp, Console::FileKind& kind) {
  nt::FILE_OBJECT* file = FileOf(irp);
  kind = static_cast<Console::FileKind>(reinterpret_cast<std::uintptr_t>(file->FsContext2));
  auto* holder = static_cast<std::shared_ptr<Console>*>(file->FsContext);
  return holder ? holder->get() : nullptr;
}

NTSTATUS NTAPI Read(nt::DEVICE_OBJECT*, IRP* irp) {
  Console::FileKind kind;
  Console* console = ConsoleOf(irp, kind);
  if (!console || kind != Console::FileKind::kInput) return HostDriver::Complete(irp, nt::STATUS_INVALID_DEVICE_REQUEST, 0);
  return console->Read(irp, irp->Tail.Overlay.CurrentStackLocation->Parameters.Read.Length);
}

NTSTATUS NTAPI Write(nt::DEVICE_OBJECT*, IRP* irp) {
  Console::FileKind kind;
  Console* console = ConsoleOf(irp, kind);
  if (!console || kind != Console::FileKind::kOutput) return HostDriver::Complete(irp, nt::STATUS_INVALID_DEVICE_REQUEST, 0);
  return console->Write(irp, static_cast<const std::uint8_t*>(irp->AssociatedIrp.SystemBuffer),
                        irp->Tail.Overlay.CurrentStackLocation->Parameters.Write.Length);
}

NTSTATUS NTAPI Control(nt::DEVICE_OBJECT*, IRP* irp) {
  Console::FileKind kind;
  Console* console = ConsoleOf(irp, kind);
  if (!console) return HostDriver::Complete(irp, nt::STATUS_INVALID_HANDLE, 0);
  return console->Control(irp, kind);
}

}  // namespace

std::shared_ptr<Console> ConsoleOfFile(void* object) {
  const nt::ob::ObjectHeader* h = nt::ob::HeaderOf(object);
  if (!h || h->type != &nt::ob::FileType() || !g_device) return nullptr;
  const auto* file = static_cast<nt::FILE_OBJECT*>(object);
  if (file->DeviceObject != g_device || !file->FsContext) return nullptr;
  return *static_cast<std::shared_ptr<Console>*>(file->FsContext);
}

ConsoleDriver::ConsoleDriver(nt::Kernel& kernel)
    : driver_(std::make_unique<nt::io::HostDriver>(kernel, u"\\Driver\\ConDrv")) {
  driver_->SetDispatch(nt::IRP_MJ_CREATE, &Create);
  driver_->SetDispatch(nt::IRP_MJ_CLOSE, &Close);
  driver_->SetDispatch(nt::IRP_MJ_CLEANUP, &Cleanup);
  driver_->SetDispatch(nt::IRP_MJ_READ, &Read);
  driver_->SetDispatch(nt::IRP_MJ_WRITE, &Write);
  driver_->SetDispatch(nt::IRP_MJ_DEVICE_CONTROL, &Control);
  nt::DEVICE_OBJECT* device = nullptr;
  if (driver_->CreateDevice(u"\\Device\\ConDrv", 0x50 /* FILE_DEVICE_CONSOLE */, nullptr, &device) == 0) {
    device->Flags |= nt::DO_BUFFERED_IO;
    g_device = device;
  }
  auto& objects = kernel.objects();
  (void)objects.CreateSymbolicLink(u"\\??\\CONIN$", u"\\Device\\ConDrv\\CurrentIn");
  (void)objects.CreateSymbolicLink(u"\\??\\CONOUT$", u"\\Device\\ConDrv\\CurrentOut");
  (void)objects.CreateSymbolicLink(u"\\??\\CON", u"\\Device\\ConDrv\\Console");
}

}  // namespace ntbox::user
