// ntbox kd: the kernel debugger's front end. The engine runs in the machine's server; this client
// shows its output and hands it commands: from -c, then from the terminal (libedit: line editing
// and history) or, without a terminal, from standard input, as WinDbg's kd does for scripts.
#include <sys/socket.h>
#include <unistd.h>

#include <editline/readline.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "machine/server/Client.h"
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
  bool scriptPending = !options.commands.empty();
  bool inputDone = false;
  for (;;) {
    const auto frame = machine::ReadFrame(fd);
    if (!frame) {
      std::fflush(stdout);
      std::fprintf(stderr, "ntbox kd: the machine server went away (see %s)\n", (root / "server.log").c_str());
      return machine::kExitServerLost;
    }
    switch (frame->kind) {
      case machine::FrameKind::kStdout:
        std::fwrite(frame->payload.data(), 1, frame->payload.size(), stdout);
        std::fflush(stdout);
        break;
      case machine::FrameKind::kStderr:
        std::fflush(stdout);
        std::fwrite(frame->payload.data(), 1, frame->payload.size(), stderr);
        break;
      case machine::FrameKind::kExit:
        ::close(fd);
        return std::atoi(frame->payload.c_str());
      case machine::FrameKind::kPrompt: {
        std::string line;
        bool have = false;
        if (scriptPending) {
          line = options.commands;
          scriptPending = false;
          have = true;
        } else if (!inputDone && terminal) {
          char* typed = readline(frame->payload.c_str());
          if (typed) {
            line = typed;
            if (!line.empty()) add_history(typed);
            std::free(typed);
            have = true;
          }
        } else if (!inputDone && options.commands.empty()) {
          have = static_cast<bool>(std::getline(std::cin, line));
        }
        if (!have) {
          // Ctrl-D, the end of the script or of standard input: detach.
          inputDone = true;
          ::shutdown(fd, SHUT_WR);
          break;
        }
        if (!machine::WriteFrame(fd, machine::FrameKind::kLine, line)) inputDone = true;
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace ntbox::tools
