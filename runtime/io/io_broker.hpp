#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "runtime/io/listen_options.hpp"
#include "runtime/stats.hpp"

namespace kam::runtime {
class actor_thread;
} // namespace kam::runtime

namespace kam::runtime::io {

/// Kamaelia's TCPServer: Boost.Asio listeners and I/O threads.
///
/// One io_context and one thread per `threads`, each with its own
/// SO_REUSEPORT listener on the same address, so the kernel spreads accepts.
/// The threads are named `kam.io.0`, `kam.io.1`, ... (pthread_setname_np;
/// listen_options::thread_name; the admin endpoint's is `kam.admin.0`).
/// Thread k accepts until EAGAIN, spawns a CSA actor per socket and sends
/// `new_csa` to the `_socketact` inbox of chassis shard k (and, once its
/// listener closed, `listener_closed`): nothing per connection crosses
/// threads. Accept errors are
/// classified: EMFILE/ENFILE/ENOBUFS/ENOMEM back off 100 ms (one log line per
/// episode); ECONNABORTED and other per-connection failures are skipped; only
/// a failure of the listening socket itself stops that listener. With
/// `max_connections` set it counts open sockets (a slot is taken before each
/// accept, given back when the socket closes) and stops accepting at the
/// limit; clients wait in the backlog until a socket closes.
///
/// With listen_options::unix_path it listens on a Unix stream socket instead
/// (one socket, every thread polling a dup() of it; host() is `unix:PATH`,
/// port() 0; the file is unlinked when the listeners close). With
/// listen_options::proxy_protocol a connection's `new_csa` is sent only once
/// its PROXY header is whole (detail::stream::read_proxy_header); refusals
/// are closed and counted in server_stats::proxy_header_rejects.
///
/// Thread rule: every member function is thread safe except join(), which
/// must not be called from an I/O thread or an actor.
class io_broker {
public:
  /// Binds and listens on every thread's socket; errors (bad host, port in
  /// use, permission) come back with a message naming address and port.
  static caf::expected<std::shared_ptr<io_broker>>
  bind(caf::actor_system& sys, listen_options opts, std::shared_ptr<server_stats> stats);

  ~io_broker();

  /// Starts the I/O threads; thread k's new connections go to `shards[k]`
  /// (one per thread; throws std::invalid_argument otherwise).
  void run(std::vector<caf::actor> shards);

  /// The bound port (the real one when asked for port 0).
  uint16_t port() const;

  /// The bound address as text.
  std::string host() const;

  /// Number of I/O threads.
  size_t threads() const;

  /// The actor_thread of I/O thread `i` (< threads()), or null when
  /// listen_options::actors_on_io_threads is off.
  std::shared_ptr<actor_thread> home(size_t i) const;

  /// Per I/O thread, the CPU time it has used so far, in seconds (user and
  /// system: time in handlers and syscalls, not time blocked in epoll).
  /// Read from each thread's CPU-time clock: costs the I/O threads nothing.
  std::vector<double> busy_seconds() const;

  /// Closes the listeners: new connects are refused; open sockets go on.
  /// Thread k then sends `(socketact, listener_closed)` to shard k, after
  /// its last `new_csa`.
  void close_listeners();

  /// Stops the I/O threads (sockets still open are closed when they end).
  void stop();

  /// Waits for the I/O threads to end.
  void join();

  struct impl;

private:
  explicit io_broker(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace kam::runtime::io
