#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kam::test {

/// A blocking loopback TCP client for tests (POSIX sockets; every wait is
/// bounded by a timeout). One thread at a time.
class tcp_client {
public:
  using duration = std::chrono::milliseconds;

  /// Connects to host:port; check ok() afterwards.
  tcp_client(const std::string& host, uint16_t port);
  ~tcp_client();
  tcp_client(tcp_client&& other) noexcept;
  tcp_client(const tcp_client&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  /// Sends all of `data`; false on error or timeout.
  bool send_all(std::string_view data, duration timeout = duration{5000});

  /// Receives exactly `n` bytes (fewer on EOF, error or timeout).
  std::string recv_exact(size_t n, duration timeout = duration{5000});

  /// Receives what is there, waiting up to `timeout` for the first byte.
  std::string recv_some(duration timeout = duration{5000});

  /// Reads until EOF; `eof` tells whether EOF was seen before the timeout.
  std::string recv_until_eof(bool& eof, duration timeout = duration{5000});

  /// shutdown(SHUT_WR): half-close.
  void shutdown_write();

  /// Closes with RST (SO_LINGER 0).
  void reset();

  void close();

private:
  int fd_ = -1;
};

/// Sends `text` and returns whether exactly it comes back (an echo round trip).
bool round_trip(tcp_client& c, std::string_view text,
                tcp_client::duration timeout = tcp_client::duration{5000});

/// Reads (and drops) until EOF; returns whether the server closed in time.
bool sees_eof(tcp_client& c, tcp_client::duration timeout = tcp_client::duration{5000});

/// A string of `n` pseudo-random bytes from `seed`.
std::string random_bytes(size_t n, uint32_t seed);

} // namespace kam::test
