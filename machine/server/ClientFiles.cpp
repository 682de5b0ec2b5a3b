#include "machine/server/ClientFiles.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include <nlohmann/json.hpp>

#include "machine/server/Protocol.h"
#include "nt/ke/Dispatcher.h"

namespace ntbox::machine {

ClientFiles::ClientFiles() {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) closed_ = true;
}

ClientFiles::~ClientFiles() {
  for (const int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

int ClientFiles::Open(const std::vector<std::string>& components, std::size_t* failedAt) {
  // The client may take its time: the machine is not held up meanwhile.
  auto& lock = nt::ke::TheKernelLock();
  const unsigned depth = lock.HeldByCaller() ? lock.ReleaseAll() : 0;
  int fd = -1, error = EACCES;
  std::size_t failed = 0;
  {
    std::unique_lock l(mutex_);
    changed_.wait(l, [&] { return !busy_ || closed_; });  // one request at a time
    if (!closed_) {
      busy_ = pending_ = true;
      answered_ = false;
      request_ = components;
      const char c = 'r';
      (void)!::write(wake_[1], &c, 1);
      changed_.wait(l, [&] { return answered_ || closed_; });
      if (answered_) {
        fd = fd_;
        error = error_;
        failed = failedAt_;
      }
      busy_ = pending_ = false;
      changed_.notify_all();
    }
  }
  if (depth) lock.Reacquire(depth);
  if (failedAt) *failedAt = failed;
  if (fd < 0) {
    errno = error;
    return fd;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    std::lock_guard l(mutex_);
    if (directories_.size() >= 4096) directories_.clear();
    directories_[{st.st_dev, st.st_ino}] = components;
  }
  return fd;
}

std::optional<std::vector<std::string>> ClientFiles::ComponentsOf(std::uint64_t device, std::uint64_t inode) {
  std::lock_guard l(mutex_);
  const auto it = directories_.find({device, inode});
  if (it == directories_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ClientFiles::TakeRequest() {
  char drain[16];
  while (::read(wake_[0], drain, sizeof drain) > 0) {
  }
  std::lock_guard l(mutex_);
  if (!pending_ || closed_) return std::nullopt;
  pending_ = false;  // sent; the answer comes later
  return nlohmann::json{{"components", request_}}.dump();
}

void ClientFiles::Answer(const std::string& payload, int fd) {
  std::istringstream in(payload);
  int error = EACCES;
  std::size_t failedAt = 0;
  in >> error >> failedAt;
  std::lock_guard l(mutex_);
  if (!busy_ || answered_) {
    if (fd >= 0) ::close(fd);
    return;
  }
  fd_ = error == 0 ? fd : -1;
  if (error == 0 && fd < 0) error = EIO;
  if (error != 0 && fd >= 0) ::close(fd);
  error_ = error;
  failedAt_ = failedAt;
  answered_ = true;
  changed_.notify_all();
}

void ClientFiles::Close() {
  std::lock_guard l(mutex_);
  closed_ = true;
  changed_.notify_all();
}

int SessionFiles::Open(const std::vector<std::string>& components, std::size_t* failedAt) {
  // The kernel lock stays with its holder while the client answers (at once): a debugger's stop
  // must not let the machine run meanwhile, nor wait to take the lock back from a thread it froze.
  if (failedAt) *failedAt = 0;
  if (gone_ || !WriteFrame(socket_, FrameKind::kOpenFile, nlohmann::json{{"components", components}}.dump())) {
    gone_ = true;
    errno = EACCES;
    return -1;
  }
  for (;;) {
    const auto frame = ReadFrame(socket_);
    if (!frame) {
      gone_ = true;
      errno = EACCES;
      return -1;
    }
    if (frame->kind != FrameKind::kFile) {
      if (held_.size() < 64) held_.push_back(std::move(*frame));
      continue;
    }
    std::istringstream in(frame->payload);
    int error = EACCES;
    std::size_t failed = 0;
    in >> error >> failed;
    if (failedAt) *failedAt = failed;
    std::optional<std::vector<int>> fd;
    if (error == 0) fd = ReceiveDescriptors(socket_, 1);
    if (!fd || fd->empty()) {
      errno = error ? error : EIO;
      return -1;
    }
    return (*fd)[0];
  }
}

std::optional<Frame> SessionFiles::TakeHeld() {
  if (held_.empty()) return std::nullopt;
  Frame frame = std::move(held_.front());
  held_.pop_front();
  return frame;
}

bool SessionFiles::TakeHeldInterrupt() {
  return std::erase_if(held_, [](const Frame& f) { return f.kind == FrameKind::kInterrupt; }) != 0;
}

void AnswerOpenFile(int socket, const std::string& payload) {
  std::vector<std::string> components;
  const auto json = nlohmann::json::parse(payload, nullptr, false);
  if (json.is_object() && json.contains("components") && json["components"].is_array()) {
    for (const auto& c : json["components"]) {
      if (c.is_string()) components.push_back(c.get<std::string>());
    }
  }
  // Opened with this (the user's) process's rights, read-only, never through a symbolic link.
  std::size_t failedAt = 0;
  int fd = -1;
  if (const int root = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); root >= 0) {
    fd = OpenBeneathNoCase(root, components, O_RDONLY | O_NONBLOCK, &failedAt);
    const int error = errno;
    ::close(root);
    errno = error;
  }
  const int error = fd < 0 ? errno : 0;
  // Ctrl-C's interrupt frame (sent from a signal handler) must not land inside this answer.
  sigset_t block, saved;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGQUIT);
  ::pthread_sigmask(SIG_BLOCK, &block, &saved);
  if (WriteFrame(socket, FrameKind::kFile, std::to_string(error) + " " + std::to_string(failedAt)) && fd >= 0) {
    (void)SendDescriptors(socket, std::vector<int>{fd});
  }
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (fd >= 0) ::close(fd);
}

}  // namespace ntbox::machine
