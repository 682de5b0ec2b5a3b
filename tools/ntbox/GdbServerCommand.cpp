// ntbox gdbserver: hands gdb's connection to the machine's server, where the stub runs beside the
// kernel it debugs: standard input and output (gdb's `target remote | ntbox gdbserver --stdio`),
// or one connection accepted on a loopback port or a Unix socket.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "machine/server/Client.h"
#include "tools/ntbox/Commands.h"

namespace ntbox::tools {
namespace {

// Listens, accepts one connection, and stops listening; -1 (after a message) on failure.
int AcceptOne(const GdbServerOptions& o) {
  const bool unixSocket = !o.socketPath.empty();
  const int listener = socket(unixSocket ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return -1;
  int bound = -1;
  if (unixSocket) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (o.socketPath.size() >= sizeof address.sun_path) {
      std::fprintf(stderr, "ntbox gdbserver: the socket path is too long\n");
      close(listener);
      return -1;
    }
    std::strcpy(address.sun_path, o.socketPath.c_str());
    unlink(o.socketPath.c_str());
    bound = bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    const int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(o.port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound = bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (bound != 0 || listen(listener, 1) != 0) {
    std::fprintf(stderr, "ntbox gdbserver: cannot listen: %s\n", std::strerror(errno));
    close(listener);
    return -1;
  }
  if (unixSocket) std::printf("Listening on %s (gdb: target remote %s)\n", o.socketPath.c_str(), o.socketPath.c_str());
  else std::printf("Listening on port %d (gdb: target remote localhost:%d)\n", o.port, o.port);
  std::fflush(stdout);
  const int connection = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  if (unixSocket) unlink(o.socketPath.c_str());
  if (connection < 0) std::fprintf(stderr, "ntbox gdbserver: accept failed: %s\n", std::strerror(errno));
  return connection;
}

}  // namespace

int RunGdbServer(const std::filesystem::path& root, const GdbServerOptions& options) {
  const int ways = (options.stdio ? 1 : 0) + (options.port ? 1 : 0) + (options.socketPath.empty() ? 0 : 1);
  if (ways != 1 || options.port < 0 || options.port > 65535) {
    std::fprintf(stderr, "ntbox gdbserver: give one of --stdio, --port N or --socket PATH\n");
    return kExitUsage;
  }
  machine::ClientRequest request{"gdbserver", {}};
  request.passStdio = true;
  int connection = -1;
  if (!options.stdio) {
    connection = AcceptOne(options);
    if (connection < 0) return kExitRefused;
    request.stdio[0] = connection;
    request.stdio[1] = connection;
  }
  const int status = machine::Call(root, request);
  if (connection >= 0) close(connection);
  return status;
}

}  // namespace ntbox::tools
