// The client–server protocol over the machine's Unix socket: length-prefixed frames. The client
// sends one request (JSON); the server answers with stdout/stderr text frames and one exit frame,
// or keeps streaming stdout frames (dbgview --follow) until the client goes away.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntbox::machine {

// kInterrupt: the client's Ctrl-C ("c") or Ctrl-Break ("break") during ntbox run, a break-in in kd.
// ntbox kd: the server asks for a command with a prompt frame (its text: "kd> "), the client
// answers with a line frame.
enum class FrameKind : char {
  kRequest = 'Q',
  kStdout = 'O',
  kStderr = 'E',
  kExit = 'X',
  kInterrupt = 'I',
  kPrompt = 'P',
  kLine = 'L',
  // ntbox run: the server asks the client to open a host file for the program (ClientFiles.h);
  // the client answers with a file frame ("errno failedAt") and, on success, the descriptor.
  kOpenFile = 'F',
  kFile = 'D',
};

struct Frame {
  FrameKind kind;
  std::string payload;
};

// Whole-frame blocking I/O; false / nullopt when the peer is gone.
bool WriteFrame(int fd, FrameKind kind, std::string_view payload);
std::optional<Frame> ReadFrame(int fd);
// ntbox run: the client hands its stdin, stdout and stderr to the server (SCM_RIGHTS), so the
// program reads and writes the caller's terminal or pipes directly.
bool SendDescriptors(int socket, const int (&fds)[3]);
bool ReceiveDescriptors(int socket, int (&fds)[3]);
// The host files a command names, opened by the client (support/HostFiles.h): after the request
// (and before ntbox run's streams), as many descriptors as the request's "files" lists.
constexpr std::size_t kMaxHandedFiles = 64;
bool SendDescriptors(int socket, const std::vector<int>& fds);
std::optional<std::vector<int>> ReceiveDescriptors(int socket, std::size_t count);

}  // namespace ntbox::machine
