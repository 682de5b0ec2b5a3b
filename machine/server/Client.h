// The client side: sends one command to the machine's server, starting the server first when
// none runs (as adb does), and relays its output. A server that dies mid-request is reported,
// never waited on forever: its socket closes with it.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/Result.h"

namespace ntbox::machine {

struct ClientRequest {
  std::string command;  // sc, reg, bcdedit, verifier, ioctl, run, lm, status, dbgview, shutdown
  std::vector<std::string> args;
  bool follow = false;
  bool filtered = false;
  bool json = false;
  bool passStdio = false;  // ntbox run: the server gets this process's stdin/stdout/stderr
  int stdio[3] = {0, 1, 2};  // which descriptors passStdio hands over
  bool echo = false;       // kd: the server prints each command after its prompt (no terminal here)
  bool breakIn = false;    // kd -b: break in at once
};

// Exit status when the server went away without answering.
constexpr int kExitServerLost = 5;

// The pid of the server running the machine in root, or nullopt.
std::optional<int> RunningServer(const std::filesystem::path& root);
// Boots a server for root in the background; returns its pid (or the running one's).
Result<int> StartServer(const std::filesystem::path& root);
// Sends the request, writes the answer to stdout/stderr, returns the command's exit status.
int Call(const std::filesystem::path& root, const ClientRequest& request, bool autostart = true);
// Connects (starting the server when autostart and none runs) and sends the request: the socket,
// for a client that speaks the conversation itself (kd). The error is the message to print.
Result<int> Open(const std::filesystem::path& root, const ClientRequest& request, bool autostart = true);
// Asks the server to shut down and waits until its process is gone.
Result<bool> ShutdownServer(const std::filesystem::path& root);

}  // namespace ntbox::machine
