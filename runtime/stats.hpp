#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kam::runtime {

namespace detail {
inline thread_local size_t this_thread_shard = 0;
} // namespace detail

/// The cell index this thread counts into: an I/O thread's index (the I/O
/// broker sets it when the thread starts), 0 for every other thread. Lets
/// code that runs on an I/O thread but knows no index (the stream) count
/// into its own thread's cell. Any thread; one thread-local read.
inline size_t this_thread_shard() {
  return detail::this_thread_shard;
}

/// Sets this thread's index (the I/O broker, at the start of thread k).
inline void set_this_thread_shard(size_t k) {
  detail::this_thread_shard = k;
}

/// A counter split into one cache line per I/O thread: each thread adds to
/// its own cell (no cache line shared by every connection of every thread),
/// a reader sums them. Cells past `cells` are shared modulo `cells`.
///
/// Thread rule: add() and load() are thread safe; a reader may see the
/// cells at slightly different moments (the sum is not a snapshot).
class sharded_counter {
public:
  static constexpr size_t cells = 64;

  /// Adds `n` to the cell of thread `shard` (an I/O thread's index; 0 for
  /// anything off the I/O threads).
  void add(size_t shard, uint64_t n = 1) {
    cells_[shard % cells].value.fetch_add(n, std::memory_order_relaxed);
  }

  /// Subtracts `n` (wraps per cell; the sum is right).
  void sub(size_t shard, uint64_t n = 1) {
    cells_[shard % cells].value.fetch_sub(n, std::memory_order_relaxed);
  }

  /// One cell: what thread `shard` counted (exact while shard < cells).
  uint64_t load(size_t shard) const {
    return cells_[shard % cells].value.load(std::memory_order_relaxed);
  }

  /// The sum over every cell.
  uint64_t load() const {
    uint64_t sum = 0;
    for (auto& c : cells_)
      sum += c.value.load(std::memory_order_relaxed);
    return sum;
  }

private:
  struct alignas(64) cell {
    std::atomic<uint64_t> value{0};
  };
  std::array<cell, cells> cells_;
};

/// Counters of one server, shared by its I/O broker (accepts) and its
/// chassis shards (connections, failures); each writer adds to its own
/// thread's cell. Every member is thread safe.
struct server_stats {
  sharded_counter accepted;         ///< Sockets accepted.
  sharded_counter accept_errors;    ///< Transient accept failures skipped.
  sharded_counter fd_exhaustion;    ///< EMFILE/ENFILE back-offs.
  sharded_counter active;           ///< Connections wired and not yet ended.
  sharded_counter closed;           ///< Connections fully ended (both actors).
  sharded_counter handler_failures; ///< Handlers that ended with an error.
  sharded_counter factory_failures; ///< Factory threw or made no actor.
  sharded_counter forced_closes;    ///< Closed at the drain deadline.
  /// Bytes read from / written to client sockets (on the wire: TLS records
  /// included), counted by the stream on its I/O thread.
  sharded_counter bytes_received;
  sharded_counter bytes_sent;
  /// Times a connection's write queue passed the high watermark (the
  /// handler was told pause_producing), counted by the stream.
  sharded_counter backpressure_pauses;
  /// Rare events, plain atomics (counted where no thread index is known):
  /// TLS clients closed before their handshake completed (plain text,
  /// garbage, an old protocol version, a bad certificate, or too slow).
  std::atomic<uint64_t> tls_handshake_failures{0};
  /// Closed because output queued up to the write hard limit with
  /// listen_options::close_slow_consumers on (the pub/sub policy).
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  /// With listen_options::proxy_protocol: connections closed for a missing,
  /// malformed, truncated or late PROXY header, or from a peer outside
  /// proxy_from (kam_proxy_header_rejects_total).
  std::atomic<uint64_t> proxy_header_rejects{0};
};

} // namespace kam::runtime
