// The machine server: owns one booted Machine and serves ntbox clients over the Unix socket in
// the machine directory, one thread per connection. A file lock makes it the only server of
// that machine. A bugcheck ends the server: it answers the client that caused it, tells every
// dbgview client, and exits; the next command boots the machine again.
#pragma once
#include <filesystem>

namespace ntbox::machine {

struct ServerOptions {
  std::filesystem::path root;
  int readyFd = -1;         // written "ok <pid>\n" or "error: ...\n" once booted, then closed
  bool foreground = false;  // report boot and shutdown on stderr
};

// Runs until shutdown (request, SIGTERM or SIGINT) or a bugcheck; returns the exit status.
int RunServer(const ServerOptions& options);

}  // namespace ntbox::machine
