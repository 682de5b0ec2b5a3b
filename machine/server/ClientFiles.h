// The client of an `ntbox run` as its programs' opener of host files (support/HostFiles.h): a
// program thread's request waits, without the kernel lock, while the connection's thread (which
// owns the socket) asks the client with an open-file frame and hands the descriptor back. When
// the run ends or the client goes, every request fails: a program's access to host files lasts
// as long as its `ntbox run`.
#pragma once
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "machine/server/Protocol.h"
#include "support/HostFiles.h"

namespace ntbox::machine {

class ClientFiles : public HostFileOpener {
 public:
  ClientFiles();
  ~ClientFiles() override;
  ClientFiles(const ClientFiles&) = delete;
  ClientFiles& operator=(const ClientFiles&) = delete;

  int Open(const std::vector<std::string>& components, std::size_t* failedAt) override;
  std::optional<std::vector<std::string>> ComponentsOf(std::uint64_t device, std::uint64_t inode) override;

  // The connection's side. wakeFd becomes readable when a request waits to be sent.
  int wakeFd() const { return wake_[0]; }
  // The waiting request, once (the frame to send the client), after draining the wake-up.
  std::optional<std::string> TakeRequest();
  // The client's answer frame (errno and failing component), and its descriptor when errno is 0.
  void Answer(const std::string& payload, int fd);
  // No more answers: waiting and later requests fail.
  void Close();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int wake_[2] = {-1, -1};
  bool closed_ = false, busy_ = false, pending_ = false, answered_ = false;
  std::vector<std::string> request_;
  int fd_ = -1, error_ = 0;
  std::size_t failedAt_ = 0;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::string>> directories_;  // bounded
};

// The client of a command or a debugger session as the opener of the host files its code reads
// beyond those handed with the request (a driver's ZwLoadDriver of a service beside it; images in
// the symbol path, PDBs, sources): the command's own thread owns the socket and the client
// answers at once, so a request is asked and answered there, in line. A client that is gone fails
// every request.
class SessionFiles : public HostFileOpener {
 public:
  explicit SessionFiles(int socket) : socket_(socket) {}
  int Open(const std::vector<std::string>& components, std::size_t* failedAt) override;
  std::optional<std::vector<std::string>> ComponentsOf(std::uint64_t, std::uint64_t) override { return std::nullopt; }
  // A frame the client sent while a request waited for its answer (a command line typed ahead, a
  // Ctrl-C), oldest first: the session reads these before the socket.
  std::optional<Frame> TakeHeld();
  // Whether a Ctrl-C was among them (taken; the rest stay).
  bool TakeHeldInterrupt();

 private:
  int socket_;
  bool gone_ = false;
  std::deque<Frame> held_;
};

// The client's side: answers an open-file frame's payload on socket (the descriptor with it).
void AnswerOpenFile(int socket, const std::string& payload);

}  // namespace ntbox::machine
