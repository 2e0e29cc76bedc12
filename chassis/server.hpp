#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "runtime/io/listen_options.hpp"
#include "runtime/ipc.hpp"
#include "runtime/stats.hpp"

namespace kam::chassis {

/// Makes the handler component for one connection. Called on the chassis
/// shard of the connection's I/O thread (so on that thread with placement
/// io; concurrently from several shards with several threads: it must be
/// thread safe), once per accepted connection; it returns a spawned actor (a
/// component, or any actor speaking the box protocol). Throwing, or
/// returning an invalid handle, closes that connection only.
using connection_factory =
  std::function<caf::actor(caf::actor_system&, const runtime::connection_info&)>;

/// simple_server's factory: no arguments but the actor system.
using protocol_factory = std::function<caf::actor(caf::actor_system&)>;

/// Everything a server needs besides its factory.
struct server_options {
  runtime::io::listen_options listen;
  /// After `server_shutdown`, how long handlers and sockets get to finish
  /// before what is left is closed.
  std::chrono::milliseconds drain_timeout{5000};
};

/// A running server: the chassis (Kamaelia's ServerCore, one shard per I/O
/// thread plus a coordinator) and its I/O broker. Returned by simple_server() /
/// more_complex_server().
///
/// Thread rule: every member function is thread safe except wait() and the
/// destructor, which block and must not run on an actor or I/O thread.
class server {
public:
  server(server&&) noexcept;
  server& operator=(server&&) noexcept;
  /// Shuts down (if not yet) and waits.
  ~server();

  /// The bound port (the real one for port 0).
  uint16_t port() const;

  /// The bound address.
  std::string host() const;

  /// The chassis's coordinator (on CAF's scheduler). Its `control` inbox
  /// takes `server_shutdown`; link its `signal` outbox to hear
  /// `producer_finished` when the whole server has stopped.
  caf::actor core() const;

  /// Sends `server_shutdown` to the chassis's `control`: graceful drain.
  void shutdown();

  /// Sends `shutdown_microprocess` to the chassis's `control`: close every
  /// connection now.
  void shutdown_now();

  /// Blocks until the chassis has stopped and the I/O threads ended.
  void wait();

  /// Waits at most `timeout`; returns whether the server has stopped.
  bool wait_for(std::chrono::milliseconds timeout);

  /// Whether the chassis has stopped.
  bool stopped() const;

  /// Whether the chassis has begun to drain (or stopped): a health check
  /// answers 503 from then on.
  bool draining() const;

  /// Per I/O thread, the CPU seconds it has used (io_broker::busy_seconds()).
  std::vector<double> io_thread_busy_seconds() const;

  /// Live counters.
  const runtime::server_stats& stats() const;

  /// Registers `f` to run (on an actor thread) once the chassis has stopped.
  /// Must be called before the server stops to be sure to run.
  void on_stopped(std::function<void()> f);

  struct state;

  explicit server(std::shared_ptr<state> st);

private:
  std::shared_ptr<state> state_;
};

/// Kamaelia's MoreComplexServer: listens, and per connection calls
/// `factory(sys, info)` with the peer's and local address and port.
caf::expected<server> more_complex_server(caf::actor_system& sys,
                                          connection_factory factory,
                                          server_options opts);

/// Kamaelia's SimpleServer: as more_complex_server, factory without arguments.
caf::expected<server> simple_server(caf::actor_system& sys, protocol_factory factory,
                                    server_options opts);

} // namespace kam::chassis
