#include "machine/server/Protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ntbox::machine {
namespace {

constexpr std::uint32_t kMaxFrame = 64u << 20;

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, char* data, std::size_t size) {
  while (size) {
    const ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

bool WriteFrame(int fd, FrameKind kind, std::string_view payload) {
  char header[5];
  const auto size = static_cast<std::uint32_t>(payload.size());
  std::memcpy(header, &size, 4);
  header[4] = static_cast<char>(kind);
  std::string frame(header, 5);
  frame.append(payload);
  return WriteAll(fd, frame.data(), frame.size());
}

std::optional<Frame> ReadFrame(int fd) {
  char header[5];
  if (!ReadAll(fd, header, 5)) return std::nullopt;
  std::uint32_t size;
  std::memcpy(&size, header, 4);
  if (size > kMaxFrame) return std::nullopt;
  Frame frame{static_cast<FrameKind>(header[4]), std::string(size, '\0')};
  if (!ReadAll(fd, frame.payload.data(), size)) return std::nullopt;
  return frame;
}

namespace {

// One byte of data carrying descriptors as SCM_RIGHTS.
struct DescriptorMessage {
  char byte = 'D';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxHandedFiles * sizeof(int))] = {};
  msghdr msg{};
  explicit DescriptorMessage(std::size_t count) {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
  }
};

}  // namespace

bool SendDescriptors(int socket, const std::vector<int>& fds) {
  if (fds.empty() || fds.size() > kMaxHandedFiles) return fds.empty();
  DescriptorMessage m(fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  for (;;) {
    const ssize_t n = ::sendmsg(socket, &m.msg, MSG_NOSIGNAL);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

std::optional<std::vector<int>> ReceiveDescriptors(int socket, std::size_t count) {
  if (count == 0) return std::vector<int>{};
  if (count > kMaxHandedFiles) return std::nullopt;
  DescriptorMessage m(count);
  ssize_t n;
  do {
    n = ::recvmsg(socket, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  cmsghdr* c = n == 1 ? CMSG_FIRSTHDR(&m.msg) : nullptr;
  if (!c || c->cmsg_type != SCM_RIGHTS) return std::nullopt;
  const std::size_t got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  std::vector<int> fds(got);
  std::memcpy(fds.data(), CMSG_DATA(c), got * sizeof(int));
  if (got != count) {
    for (const int fd : fds) ::close(fd);
    return std::nullopt;
  }
  return fds;
}

bool SendDescriptors(int socket, const int (&fds)[3]) { return SendDescriptors(socket, std::vector<int>(fds, fds + 3)); }

bool ReceiveDescriptors(int socket, int (&fds)[3]) {
  const auto got = ReceiveDescriptors(socket, 3);
  if (!got) return false;
  std::copy(got->begin(), got->end(), fds);
  return true;
}

}  // namespace ntbox::machine
