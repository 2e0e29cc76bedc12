#include "tests/support/tcp_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

namespace kam::test {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
  auto left =
    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool wait_fd(int fd, short events, clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r > 0)
      return true;
    if (r == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

} // namespace

tcp_client::tcp_client(const std::string& host, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1)
      return;
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1)
      return;
    len = sizeof(sockaddr_in6);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
}

tcp_client::~tcp_client() {
  close();
}

tcp_client::tcp_client(tcp_client&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

bool tcp_client::send_all(std::string_view data, duration timeout) {
  auto deadline = clock::now() + timeout;
  size_t off = 0;
  while (off < data.size()) {
    if (!wait_fd(fd_, POLLOUT, deadline))
      return false;
    auto n =
      ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string tcp_client::recv_exact(size_t n, duration timeout) {
  auto deadline = clock::now() + timeout;
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    if (!wait_fd(fd_, POLLIN, deadline))
      break;
    auto want = std::min(sizeof(buf), n - out.size());
    auto r = ::recv(fd_, buf, want, MSG_DONTWAIT);
    if (r == 0)
      break;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      break;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

std::string tcp_client::recv_some(duration timeout) {
  auto deadline = clock::now() + timeout;
  std::string out;
  char buf[65536];
  if (!wait_fd(fd_, POLLIN, deadline))
    return out;
  for (;;) {
    auto r = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (r <= 0)
      break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

std::string tcp_client::recv_until_eof(bool& eof, duration timeout) {
  auto deadline = clock::now() + timeout;
  std::string out;
  char buf[65536];
  eof = false;
  for (;;) {
    if (!wait_fd(fd_, POLLIN, deadline))
      return out;
    auto r = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0) {
      eof = true;
      return out;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return out;
    }
    out.append(buf, static_cast<size_t>(r));
  }
}

void tcp_client::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void tcp_client::reset() {
  if (fd_ < 0)
    return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close();
}

void tcp_client::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool round_trip(tcp_client& c, std::string_view text, tcp_client::duration timeout) {
  return c.send_all(text, timeout) && c.recv_exact(text.size(), timeout) == text;
}

bool sees_eof(tcp_client& c, tcp_client::duration timeout) {
  bool eof = false;
  c.recv_until_eof(eof, timeout);
  return eof;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 gen{seed};
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(gen() & 0xFF);
  return s;
}

} // namespace kam::test
