#include "debug/GdbServer.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>

#include "debug/Session.h"
#include "nt/kd/Debugger.h"
#include "nt/support/HostSymbols.h"

namespace ntbox::debug {
namespace {

using nt::kd::Debugger;
using nt::kd::Resume;
using nt::kd::StopReason;

std::string Hex(const std::uint8_t* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

template <class T>
std::string HexLE(T value) {
  return Hex(reinterpret_cast<const std::uint8_t*>(&value), sizeof value);
}

std::vector<std::uint8_t> Unhex(std::string_view text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::strtoul(std::string(text.substr(i, 2)).c_str(), nullptr, 16)));
  }
  return out;
}

// gdb's amd64 register numbering: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 (8 bytes), rip, then
// eflags and the six segment registers (4 bytes). The x87 and SSE registers are left unavailable.
constexpr int kRegisterCount = 24;

class GdbSession {
 public:
  GdbSession(int in, int out) : in_(in), out_(out), session_([](std::string_view) {}, nullptr) {}

  void Run() {
    session_.symbols().Refresh();
    Debugger::Get().SetStopOnLoad(true);
    // gdb expects a stopped target: break in as kd -b does.
    Debugger::Get().BreakIn();
    std::string packet;
    while (!done_ && ReadPacket(packet)) {
      const std::string reply = Handle(packet);
      if (!replied_) Send(reply);
      replied_ = false;
    }
    Debugger::Get().Detach();
  }

 private:
  // Reads bytes until one whole packet ($...#cs); a lone 0x03 while the machine runs breaks in.
  bool ReadPacket(std::string& packet) {
    for (;;) {
      const auto start = buffer_.find('$');
      if (start != std::string::npos) {
        const auto hash = buffer_.find('#', start);
        if (hash != std::string::npos && hash + 2 < buffer_.size()) {
          packet = buffer_.substr(start + 1, hash - start - 1);
          buffer_.erase(0, hash + 3);
          if (!noAck_) Write("+");
          return true;
        }
      } else {
        buffer_.clear();  // acks and noise
      }
      if (!Fill(-1)) return false;
    }
  }

  // More bytes from gdb; false at the end of the connection. A 0x03 anywhere is an interrupt.
  bool Fill(int timeoutMs) {
    pollfd p{in_, POLLIN, 0};
    const int n = poll(&p, 1, timeoutMs);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return n == 0;
    char chunk[4096];
    const ssize_t got = read(in_, chunk, sizeof chunk);
    if (got <= 0) {
      done_ = true;
      return false;
    }
    for (ssize_t i = 0; i < got; ++i) {
      if (chunk[i] == '\x03') interrupt_ = true;
      else buffer_ += chunk[i];
    }
    return true;
  }

  void Write(std::string_view text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(out_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        done_ = true;
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }

  void Send(std::string_view payload) {
    unsigned sum = 0;
    for (const char c : payload) sum += static_cast<unsigned char>(c);
    Write(fmt::format("${}#{:02x}", payload, sum & 0xFF));
  }

  nt::kd::Stop* Stop() { return Debugger::Get().current(); }

  // While the machine runs: until a stop waits (true), or gdb went away.
  bool WaitForStop() {
    const int events = Debugger::Get().eventFd();
    for (;;) {
      if (Stop()) return true;
      if (interrupt_) {
        interrupt_ = false;
        Debugger::Get().BreakIn();
        continue;
      }
      pollfd p[2] = {{events, POLLIN, 0}, {in_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      if ((p[1].revents & (POLLIN | POLLHUP)) && !Fill(0)) return false;
    }
  }

  std::string StopReply() {
    nt::kd::Stop* s = Stop();
    if (!s) return "S05";
    if (s->reason == StopReason::kModuleLoad) return "T05thread:01;library:;";
    const char* signal = s->reason == StopReason::kBugCheck ? "0b" : "05";
    std::string reply = fmt::format("T{}thread:01;", signal);
    if (s->reason == StopReason::kBreakpoint) reply += "swbreak:;";
    if (s->reason == StopReason::kDataBreakpoint) {
      const auto it = watches_.find(s->address);
      reply += fmt::format("{}:{:x};", it == watches_.end() ? "watch" : it->second, s->address);
    }
    return reply;
  }

  // c / s: the machine runs (or steps) until its next stop, reported as gdb expects.
  std::string Go(Resume how) {
    nt::kd::Stop* s = Stop();
    if (s && how == Resume::kStep && (!s->hasContext || !s->thread)) return StopReply();
    if (s) Debugger::Get().Resume(how);
    if (!WaitForStop()) {
      done_ = true;
      return "X09";
    }
    // A new driver: gdb hears of it with the stop (library:), reads the list and goes on itself.
    session_.symbols().Refresh();
    return StopReply();
  }

  std::uint64_t* Register(nt::CONTEXT& c, int n) {
    switch (n) {
      case 0: return &c.Rax;
      case 1: return &c.Rbx;
      case 2: return &c.Rcx;
      case 3: return &c.Rdx;
      case 4: return &c.Rsi;
      case 5: return &c.Rdi;
      case 6: return &c.Rbp;
      case 7: return &c.Rsp;
      case 16: return &c.Rip;
      default: return n >= 8 && n <= 15 ? &c.R8 + (n - 8) : nullptr;
    }
  }

  std::string ReadRegisters() {
    nt::kd::Stop* s = Stop();
    nt::CONTEXT c{};
    if (s && s->hasContext) c = s->context;
    std::string out;
    for (int n = 0; n <= 16; ++n) out += HexLE(*Register(c, n));
    out += HexLE(static_cast<std::uint32_t>(c.EFlags));
    for (const std::uint32_t segment : {0x10u, 0x18u, 0x2Bu, 0x2Bu, 0x53u, 0x2Bu}) out += HexLE(segment);
    return out;
  }

  std::string WriteRegister(int n, std::string_view hex) {
    nt::kd::Stop* s = Stop();
    if (!s || !s->hasContext) return "E01";
    const auto bytes = Unhex(hex);
    if (std::uint64_t* r = Register(s->context, n); r && bytes.size() == 8) {
      std::memcpy(r, bytes.data(), 8);
      return "OK";
    }
    if (n == 17 && bytes.size() == 4) {
      std::memcpy(&s->context.EFlags, bytes.data(), 4);
      return "OK";
    }
    return n < kRegisterCount ? "OK" : "E01";  // segments: not the debugger's to change
  }

  std::string ReadMemory(std::string_view args) {
    const auto comma = args.find(',');
    if (comma == std::string_view::npos) return "E01";
    const std::uint64_t address = std::strtoull(std::string(args.substr(0, comma)).c_str(), nullptr, 16);
    const std::size_t length = std::min<std::size_t>(std::strtoull(std::string(args.substr(comma + 1)).c_str(), nullptr, 16), 0x4000);
    std::vector<std::uint8_t> bytes(length);
    const std::size_t got = session_.Read(address, bytes);
    if (got == 0 && length > 0) return "E14";
    return Hex(bytes.data(), got);
  }

  std::string WriteMemory(std::string_view args) {
    const auto comma = args.find(',');
    const auto colon = args.find(':');
    if (comma == std::string_view::npos || colon == std::string_view::npos) return "E01";
    const std::uint64_t address = std::strtoull(std::string(args.substr(0, comma)).c_str(), nullptr, 16);
    const auto bytes = Unhex(args.substr(colon + 1));
    return session_.Write(address, bytes) ? "OK" : "E14";
  }

  std::string Breakpoint(bool insert, std::string_view args) {
    // Z0 (software) and Z1 (hardware, served by a software one): "type,address,kind"; Z2 (write),
    // Z3 (read) and Z4 (access) watchpoints: "type,address,length".
    if (args.size() < 2 || args[0] < '0' || args[0] > '4') return "";
    const std::uint64_t address = std::strtoull(std::string(args.substr(2)).c_str(), nullptr, 16);
    if (args[0] >= '2') {
      const auto comma = args.find(',', 2);
      const auto length = comma == std::string_view::npos ? 0 : std::strtoul(std::string(args.substr(comma + 1)).c_str(), nullptr, 16);
      if (!insert) {
        Debugger::Get().Unwatch(address);
        watches_.erase(address);
        return "OK";
      }
      const auto access = args[0] == '2' ? nt::kd::Access::kWrite : nt::kd::Access::kReadWrite;
      if (!Debugger::Get().Watch(address, static_cast<std::uint32_t>(length), access)) return "E01";
      watches_[address] = args[0] == '2' ? "watch" : args[0] == '3' ? "rwatch" : "awatch";
      return "OK";
    }
    if (!insert) {
      Debugger::Get().Remove(address);
      return "OK";
    }
    return Debugger::Get().Insert(address) ? "OK" : "E01";
  }

  // The loaded drivers as gdb's target library list: each image's path (gdb reads its DWARF)
  // and the address its first section is loaded at.
  std::string Libraries() {
    session_.symbols().Refresh();
    std::string xml = "<library-list>";
    for (const auto& m : session_.symbols().modules()) {
      if (m->kernelCode || m->user) continue;
      std::uint32_t peOffset = 0, firstSection = 0;
      std::uint16_t sections = 0, optionalSize = 0;
      std::uint64_t lowest = ~0ull;
      auto read = [&](std::uint64_t at, auto& value) {
        return session_.Read(at, std::span(reinterpret_cast<std::uint8_t*>(&value), sizeof value)) == sizeof value;
      };
      if (read(m->base + 0x3C, peOffset) && read(m->base + peOffset + 6, sections) &&
          read(m->base + peOffset + 20, optionalSize)) {
        const std::uint64_t table = m->base + peOffset + 24 + optionalSize;
        for (std::uint16_t i = 0; i < std::min<std::uint16_t>(sections, 96); ++i) {
          if (read(table + 40u * i + 12, firstSection) && firstSection) lowest = std::min<std::uint64_t>(lowest, firstSection);
        }
      }
      if (lowest == ~0ull) lowest = 0x1000;
      xml += fmt::format("<library name=\"{}\"><segment address=\"0x{:x}\"/></library>", m->path, m->base + lowest);
    }
    // The kernel's own code, ntbox's executable: gdb unwinds the frames between a driver's and
    // reads their names from its symbols.
    if (const auto [base, end] = nt::HostImageRange(); base) {
      std::error_code ec;
      const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (!ec) xml += fmt::format("<library name=\"{}\"><segment address=\"0x{:x}\"/></library>", self.string(), base);
    }
    return xml + "</library-list>";
  }

  std::string Transfer(std::string_view args) {
    // qXfer:features:read:target.xml:OFFSET,LENGTH: the architecture (gdb's default amd64 registers).
    if (args.starts_with("features:read:target.xml:")) {
      static const std::string kTarget =
          "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target>"
          "<architecture>i386:x86-64</architecture><osabi>none</osabi></target>";
      args.remove_prefix(25);
      const auto comma = args.find(',');
      const std::size_t offset = std::strtoull(std::string(args.substr(0, comma)).c_str(), nullptr, 16);
      if (offset >= kTarget.size()) return "l";
      return "l" + kTarget.substr(offset);
    }
    // qXfer:libraries:read::OFFSET,LENGTH
    if (!args.starts_with("libraries:read::")) return "";
    args.remove_prefix(16);
    const auto comma = args.find(',');
    const std::size_t offset = std::strtoull(std::string(args.substr(0, comma)).c_str(), nullptr, 16);
    const std::size_t length = std::strtoull(std::string(args.substr(comma + 1)).c_str(), nullptr, 16);
    if (offset == 0) libraries_ = Libraries();
    if (offset >= libraries_.size()) return "l";
    const std::string part = libraries_.substr(offset, length);
    return (offset + part.size() >= libraries_.size() ? "l" : "m") + part;
  }

  std::string Handle(const std::string& p) {
    if (p.empty()) return "";
    switch (p[0]) {
      case '?': {
        // The first stop names the libraries loaded already, so gdb reads their symbols now.
        std::string reply = StopReply();
        if (!initialReported_ && reply.starts_with("T") && reply.find("library:") == std::string::npos) reply += "library:;";
        initialReported_ = true;
        return reply;
      }
      case 'g': return ReadRegisters();
      case 'G': {
        for (int n = 0; n < 17 && static_cast<std::size_t>(n * 16 + 16) < p.size(); ++n) {
          WriteRegister(n, std::string_view(p).substr(1 + n * 16, 16));
        }
        return "OK";
      }
      case 'p': {
        const int n = static_cast<int>(std::strtol(p.c_str() + 1, nullptr, 16));
        const std::string all = ReadRegisters();
        if (n <= 16) return all.substr(static_cast<std::size_t>(n) * 16, 16);
        if (n < kRegisterCount) return all.substr(17 * 16 + static_cast<std::size_t>(n - 17) * 8, 8);
        return "E45";  // unavailable: x87 and SSE
      }
      case 'P': {
        const auto eq = p.find('=');
        if (eq == std::string::npos) return "E01";
        return WriteRegister(static_cast<int>(std::strtol(p.c_str() + 1, nullptr, 16)), std::string_view(p).substr(eq + 1));
      }
      case 'm': return ReadMemory(std::string_view(p).substr(1));
      case 'M': return WriteMemory(std::string_view(p).substr(1));
      case 'Z': return Breakpoint(true, std::string_view(p).substr(1));
      case 'z': return Breakpoint(false, std::string_view(p).substr(1));
      case 'c': return Go(Resume::kGo);
      case 's': return Go(Resume::kStep);
      case 'H': return "OK";
      case 'T': return "OK";
      case 'D':
        Send("OK");
        replied_ = true;
        done_ = true;
        return "";
      case 'k':
        done_ = true;
        replied_ = true;
        return "";
      case 'v':
        if (p == "vCont?") return "vCont;c;C;s;S;t";
        if (p.starts_with("vCont;")) {
          // The first action names the whole machine's: a step of the stopped thread, or go.
          const char action = p[6];
          return Go(action == 's' || action == 'S' ? Resume::kStep : Resume::kGo);
        }
        if (p.starts_with("vKill")) {
          done_ = true;
          return "OK";
        }
        return "";
      case 'q':
        if (p.starts_with("qSupported")) {
          return "PacketSize=4000;QStartNoAckMode+;qXfer:libraries:read+;qXfer:features:read+;swbreak+;hwbreak+;"
                 "vContSupported+";
        }
        if (p == "qAttached") return "1";
        if (p == "qC") return "QC01";
        if (p == "qfThreadInfo") return "m01";
        if (p == "qsThreadInfo") return "l";
        if (p.starts_with("qXfer:")) return Transfer(std::string_view(p).substr(6));
        if (p == "qSymbol::") return "OK";
        if (p.starts_with("qThreadExtraInfo")) return Hex(reinterpret_cast<const std::uint8_t*>("processor 0"), 11);
        return "";
      case 'Q':
        if (p == "QStartNoAckMode") {
          Send("OK");
          replied_ = true;
          noAck_ = true;
          return "";
        }
        return "";
      default: return "";
    }
  }

  int in_, out_;
  Session session_;
  std::string buffer_;
  std::string libraries_;
  std::map<std::uint64_t, std::string> watches_;  // address → how gdb named it (watch, rwatch, awatch)
  bool interrupt_ = false;
  bool initialReported_ = false;
  bool noAck_ = false;
  bool done_ = false;
  bool replied_ = false;
};

}  // namespace

void ServeGdb(int in, int out) { GdbSession(in, out).Run(); }

}  // namespace ntbox::debug
