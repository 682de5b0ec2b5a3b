// ntbox kd: the kernel debugger's front end. The engine runs in the machine's server; this client
// shows its output and hands it commands: from -c, then from the terminal (libedit: line editing
// and history) or, without a terminal, from standard input, as WinDbg's kd does for scripts.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <editline/readline.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <optional>
#include <string>

#include "machine/server/Client.h"
#include "machine/server/ClientFiles.h"
#include "machine/server/Protocol.h"
#include "tools/ntbox/Commands.h"

namespace ntbox::tools {
namespace {

int g_socket = -1;

// Ctrl-C breaks in: an interrupt frame, sent from the handler (send is async-signal-safe).
void OnInterrupt(int) {
  if (g_socket < 0) return;
  const char frame[] = {'\x01', 0, 0, 0, static_cast<char>(machine::FrameKind::kInterrupt), 'c'};
  (void)!::send(g_socket, frame, sizeof frame, MSG_NOSIGNAL);
}

}  // namespace

// On a terminal: libedit's callback interface, so what the machine says (a breakpoint hit while the
// user types) shows at once, the line being typed drawn again below it.
class Terminal {
 public:
  explicit Terminal(int fd) : fd_(fd) { current_ = this; }
  ~Terminal() {
    if (editing_) rl_callback_handler_remove();
    current_ = nullptr;
  }

  // The server wants a line: edit one with its prompt (with what was typed before output came).
  void Prompt(const std::string& prompt) {
    rl_callback_handler_install(prompt.c_str(), &Terminal::OnLine);
    editing_ = true;
    if (!typed_.empty()) {
      rl_insert_text(typed_.c_str());
      rl_redisplay();
      typed_.clear();
    }
  }

  // Output while a line is edited (a stop while the machine ran): the line goes until the prompt
  // that follows the output brings it back.
  void Show(std::string_view text, FILE* stream) {
    if (editing_) {
      typed_ = rl_line_buffer ? rl_line_buffer : "";
      rl_callback_handler_remove();
      editing_ = false;
      std::fputs("\r\33[K", stdout);
      std::fflush(stdout);
    }
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fflush(stream);
  }

  // Characters typed: libedit reads them; a finished line goes to the server.
  void Read() { rl_callback_read_char(); }
  bool editing() const { return editing_; }
  bool ended() const { return ended_; }

 private:
  static void OnLine(char* line) {
    Terminal* self = current_;
    rl_callback_handler_remove();
    self->editing_ = false;
    if (!line) {  // Ctrl-D: detach
      std::fputs("\n", stdout);
      self->ended_ = true;
      ::shutdown(self->fd_, SHUT_WR);
      return;
    }
    if (*line) add_history(line);
    if (!machine::WriteFrame(self->fd_, machine::FrameKind::kLine, line)) self->ended_ = true;
    std::free(line);
  }

  static inline Terminal* current_ = nullptr;
  int fd_;
  std::string typed_;
  bool editing_ = false;
  bool ended_ = false;
};

// Standard input read a line at a time without stdio's buffer, so that poll says truly whether a
// line may come: while the debugger waits for one, a command's file requests are answered too.
class InputLines {
 public:
  // A whole line when one is buffered (the rest at the end of input).
  std::optional<std::string> Take() {
    const auto end = buffered_.find('\n');
    if (end == std::string::npos && !(ended_ && !buffered_.empty())) return std::nullopt;
    std::string line = buffered_.substr(0, end);
    buffered_.erase(0, end == std::string::npos ? buffered_.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  // Reads what is there (blocking once); false at the end of input.
  bool Fill() {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ended_ = true;
        return false;
      }
      buffered_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }
  bool ended() const { return ended_ && buffered_.empty(); }

 private:
  std::string buffered_;
  bool ended_ = false;
};

int RunKd(const std::filesystem::path& root, const KdOptions& options) {
  const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  machine::ClientRequest request{"kd", {}};
  request.echo = !terminal;
  request.breakIn = options.breakIn;
  auto opened = machine::Open(root, request);
  if (!opened) {
    std::fprintf(stderr, "ntbox kd: %s\n", opened.error().message.c_str());
    return kExitRefused;
  }
  const int fd = *opened;
  g_socket = fd;
  struct sigaction sa {};
  sa.sa_handler = &OnInterrupt;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  std::optional<Terminal> term;
  if (terminal) term.emplace(fd);
  bool scriptPending = !options.commands.empty();
  bool inputDone = false;
  bool wantLine = false;  // at a prompt, reading standard input (not a terminal)
  InputLines input;
  for (;;) {
    if (wantLine) {
      std::optional<std::string> line = input.Take();
      if (!line && !input.ended()) {
        pollfd p[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) continue;
        if (p[1].revents & (POLLIN | POLLHUP)) {
          input.Fill();
          continue;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      } else {
        wantLine = false;
        if (!line) {
          // The end of standard input: detach.
          inputDone = true;
          ::shutdown(fd, SHUT_WR);
        } else if (!machine::WriteFrame(fd, machine::FrameKind::kLine, *line)) {
          inputDone = true;
        }
        continue;
      }
    }
    // On a terminal, keystrokes and the server's frames are both awaited.
    if (term && term->editing()) {
      pollfd p[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;  // EINTR: Ctrl-C already sent its frame
      if (p[1].revents & (POLLIN | POLLHUP)) {
        term->Read();
        continue;
      }
      if (!(p[0].revents & (POLLIN | POLLHUP))) continue;
    }
    const auto frame = machine::ReadFrame(fd);
    if (!frame) {
      if (term) term.reset();
      std::fflush(stdout);
      std::fprintf(stderr, "ntbox kd: the machine server went away (see %s)\n", (root / "server.log").c_str());
      return machine::kExitServerLost;
    }
    switch (frame->kind) {
      case machine::FrameKind::kStdout:
        if (term) term->Show(frame->payload, stdout);
        else std::fwrite(frame->payload.data(), 1, frame->payload.size(), stdout), std::fflush(stdout);
        break;
      case machine::FrameKind::kStderr:
        std::fflush(stdout);
        if (term) term->Show(frame->payload, stderr);
        else std::fwrite(frame->payload.data(), 1, frame->payload.size(), stderr);
        break;
      case machine::FrameKind::kOpenFile:
        // A command reads a symbol file: this process opens it, with the user's rights.
        machine::AnswerOpenFile(fd, frame->payload);
        break;
      case machine::FrameKind::kExit:
        term.reset();
        ::close(fd);
        return std::atoi(frame->payload.c_str());
      case machine::FrameKind::kPrompt: {
        if (scriptPending) {
          scriptPending = false;
          if (!machine::WriteFrame(fd, machine::FrameKind::kLine, options.commands)) inputDone = true;
          break;
        }
        if (term) {
          if (!term->ended()) term->Prompt(frame->payload);
          break;
        }
        if (inputDone || !options.commands.empty()) {
          // The end of the script: detach.
          inputDone = true;
          ::shutdown(fd, SHUT_WR);
          break;
        }
        wantLine = true;
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace ntbox::tools
