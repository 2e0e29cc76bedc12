#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kam::runtime {
class logger;
} // namespace kam::runtime

namespace kam::runtime::io::tls {
class tls_context;
} // namespace kam::runtime::io::tls

namespace kam::runtime::io::proxy {
class cidr_set;
} // namespace kam::runtime::io::proxy

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
  /// Connections accepted per readiness event of a listener, at most, before
  /// the I/O thread returns to its other sockets. Large batches accept bursts
  /// fastest and keep the backlog short; what runs between the new
  /// connections' TLS handshakes is tls_handshakes_per_round's business.
  int accept_batch = 256;
  /// I/O threads, each with its own io_context and SO_REUSEPORT listener;
  /// 0 means one per core.
  size_t threads = 0;
  /// The I/O threads' names are this, a dot and the index (`kam.io.0`, ...;
  /// `top -H`, `ps -L`; Linux keeps 15 characters). The admin endpoint's
  /// server is `kam.admin`, so tools that read per-thread CPU by name
  /// (kam-bench --serial) tell it from the served one.
  std::string thread_name = "kam.io";
  /// Run each connection's CSA and handler on the I/O thread that owns its
  /// socket (they stay CAF actors; see runtime/actor_thread.hpp), so a round
  /// trip crosses no thread. Off: they run on CAF's scheduler and every
  /// message between socket and actor is a hand-off between threads.
  bool actors_on_io_threads = true;
  /// TCP_NODELAY on accepted sockets.
  bool no_delay = true;
  /// Where the listeners report what goes wrong (runtime/log.hpp): accept
  /// failures that can flood (per-connection errors, descriptor exhaustion)
  /// rate-limited, a listener that stops at error level. Null: plain lines
  /// on stderr, per-connection accept errors only counted.
  std::shared_ptr<logger> log;
  /// Extra options applied to every listening socket before bind().
  std::vector<socket_option> listener_options;
  /// Extra options applied to every accepted socket.
  std::vector<socket_option> connection_options;
  /// At most this many bytes are read per readiness event into one message.
  size_t max_read_per_event = 256 * 1024;
  /// After an orderly close sends FIN, how long to wait for the peer's FIN
  /// (discarding input) before closing, so the peer reads all we sent.
  std::chrono::milliseconds linger{2000};

  // -- robustness ------------------------------------------------------------

  /// Backpressure on output. Bytes queued for a socket (written by the
  /// handler, not yet taken by the kernel) above `write_high_watermark` make
  /// the CSA send `pause_producing` to its handler (once), and
  /// `resume_producing` when the queue falls below `write_low_watermark`.
  /// Above `write_hard_limit` the CSA also stops reading from that client
  /// (so an echo-like handler cannot be made to buffer without bound) until
  /// the queue is below `write_low_watermark` again. Need low <= high <= hard.
  size_t write_high_watermark = 1024 * 1024;
  size_t write_low_watermark = 256 * 1024;
  size_t write_hard_limit = 4 * 1024 * 1024;
  /// The pub/sub policy (Redis's `client-output-buffer-limit pubsub`): a
  /// connection whose queued output reaches `write_hard_limit` is closed at
  /// once (queued output dropped), its handler gets
  /// `socket_shutdown{slow_consumer}` and server_stats counts it, instead of
  /// the CSA only stopping to read. For handlers fed by others (a Backplane
  /// subscriber), where not reading the client holds nothing back.
  bool close_slow_consumers = false;
  /// A connection with no bytes read or written for this long is closed and
  /// its handler gets `socket_shutdown{timeout}`; 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  /// At most this many open connections; at the limit the listeners stop
  /// accepting (clients wait in the backlog) until one closes. 0 = no limit.
  size_t max_connections = 0;

  // -- transports -----------------------------------------------------------

  /// Set: every connection speaks TLS (runtime/io/tls/context.hpp); the
  /// handler sees only plaintext and gets its first bytes once the handshake
  /// is done. The write watermarks count encrypted bytes.
  std::shared_ptr<const tls::tls_context> tls;
  /// A client that has not completed the TLS handshake within this long is
  /// closed and counted (server_stats::tls_handshake_failures).
  std::chrono::milliseconds tls_handshake_timeout{10000};
  /// TLS handshakes (their ClientHello, an ECDHE key exchange each) each I/O
  /// thread starts per event-loop round, behind that round's socket events
  /// (runtime/io/detail/handshake_pacer.hpp): under a flood of new
  /// connections a client whose handshake is done is answered before the
  /// next ones' key exchanges run. 4: p99 of a request after its handshake
  /// ~2 ms instead of ~11 ms, for ~5% more CPU per resumed handshake
  /// (docs/performance.md, "Session 12"). 0: not paced, every accepted
  /// connection's handshake starts at once.
  int tls_handshakes_per_round = 4;

  /// Set: listen on this Unix stream socket (a path) instead of host:port.
  /// A stale socket file there is removed first, a live one is an error like
  /// a port in use, anything else is never touched (runtime/io/unix_path.hpp);
  /// the file gets `unix_mode` and is unlinked when the broker goes. Every I/O
  /// thread polls the one listening socket (Unix sockets have no
  /// SO_REUSEPORT); whichever wakes first accepts. Peers are named `unix:`
  /// (plus their path if they bound one), the local side `unix:PATH`.
  std::string unix_path;
  /// Permission bits of the socket file (e.g. 0660).
  unsigned unix_mode = 0660;

  /// Require a PROXY protocol header (v1 or v2, haproxy's spec) before any
  /// data, and before the TLS handshake: the handler's connection_info then
  /// names the original client as its peer and the proxy as proxy_address.
  /// A missing, malformed, truncated or late header closes the connection
  /// and counts it (server_stats::proxy_header_rejects); the handler is made
  /// only once the header is whole.
  bool proxy_protocol = false;
  /// Which TCP peers may send one (others are closed and counted); null =
  /// 127.0.0.0/8 and ::1. Unix-socket peers are always allowed (the file's
  /// permissions decide who connects).
  std::shared_ptr<const proxy::cidr_set> proxy_from;
  /// The whole header must arrive within this long of the accept.
  std::chrono::milliseconds proxy_header_timeout{3000};
};

} // namespace kam::runtime::io
