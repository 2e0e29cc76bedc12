#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kam::runtime::io {

/// An integer socket option applied with setsockopt(level, name, value).
struct socket_option {
  int level;
  int name;
  int value;
};

/// Where and how the I/O broker listens, and how it treats each connection.
struct listen_options {
  /// Address to bind: an IPv4 or IPv6 literal or a resolvable name.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks a free one (read it back from the broker).
  uint16_t port = 0;
  /// listen() backlog per listener.
  int backlog = 1024;
  /// I/O threads, each with its own io_context and SO_REUSEPORT listener;
  /// 0 means one per core.
  size_t threads = 0;
  /// TCP_NODELAY on accepted sockets.
  bool no_delay = true;
  /// Extra options applied to every listening socket before bind().
  std::vector<socket_option> listener_options;
  /// Extra options applied to every accepted socket.
  std::vector<socket_option> connection_options;
  /// At most this many bytes are read per readiness event into one message.
  size_t max_read_per_event = 256 * 1024;
  /// After an orderly close sends FIN, how long to wait for the peer's FIN
  /// (discarding input) before closing, so the peer reads all we sent.
  std::chrono::milliseconds linger{2000};
};

} // namespace kam::runtime::io
