#pragma once

#include <atomic>
#include <cstdint>

namespace kam::runtime {

/// Counters of one server, shared by its I/O broker (accepts) and its
/// chassis actor (connections, failures). Every member is thread safe.
struct server_stats {
  std::atomic<uint64_t> accepted{0};         ///< Sockets accepted.
  std::atomic<uint64_t> accept_errors{0};    ///< Transient accept failures skipped.
  std::atomic<uint64_t> fd_exhaustion{0};    ///< EMFILE/ENFILE back-offs.
  std::atomic<uint64_t> active{0};           ///< Connections wired and not yet ended.
  std::atomic<uint64_t> closed{0};           ///< Connections fully ended (both actors).
  std::atomic<uint64_t> handler_failures{0}; ///< Handlers that ended with an error.
  std::atomic<uint64_t> factory_failures{0}; ///< Factory threw or made no actor.
  std::atomic<uint64_t> forced_closes{0};    ///< Closed at the drain deadline.
  /// TLS clients closed before their handshake completed: plain text,
  /// garbage, an old protocol version, a bad certificate, or too slow.
  std::atomic<uint64_t> tls_handshake_failures{0};
  /// Closed because output queued past the write hard limit with
  /// listen_options::close_slow_consumers on (the pub/sub policy).
  std::atomic<uint64_t> slow_consumer_disconnects{0};
};

} // namespace kam::runtime
