#pragma once
// One kam-load thread: its own epoll instance and its share of the connection
// slots, running the selected mode until the run's clock says stop.

#include "options.hpp"
#include "stats.hpp"
#include "tls.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace kam::bench {

/// Shared timeline of a run. Written by main() before workers start, except
/// `stop` (set by main) and `done_ns` (each worker once, when it finishes).
struct run_clock {
  uint64_t start_ns = 0;   ///< when load begins
  uint64_t measure_ns = 0; ///< warmup ends, measuring begins
  uint64_t end_ns = 0;     ///< measuring ends (idle: a bound only)
  std::atomic<bool> stop{false};
};

/// Monotonic nanoseconds.
uint64_t now_ns();

class worker {
public:
  /// `index`-th of opts.threads workers. Call run() on the thread that owns it.
  /// `tls` (this worker's own, set iff opts.tls) makes every connection TLS.
  worker(const load_options& opts, int index, run_clock& clock, thread_stats& stats,
         const tls_client* tls = nullptr);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Runs until the end of the run (or `clock.stop`), then closes every socket.
  void run();

  /// Time this worker finished its measured work (only meaningful after run()).
  uint64_t done_ns() const { return done_ns_; }

private:
  struct slot;
  enum class step { keep, closed };

  void start_connect(slot& s, uint64_t op_start);
  void on_event(slot& s, uint32_t events, uint64_t now);
  step on_connected(slot& s, uint64_t now);
  step handshake(slot& s, uint64_t now);
  void close_slot(slot& s);
  step write_pending(slot& s);
  step read_available(slot& s, uint64_t now);
  step on_message(slot& s, uint64_t now);
  void fail(slot& s, error_kind kind, uint64_t now);
  void finish(slot& s, uint64_t now);
  void sweep(uint64_t now);
  void start_open_loop(uint64_t now);
  bool measuring(uint64_t now) const;
  bool quota_reached() const;
  int wait_timeout_ms(uint64_t now) const;

  const load_options& opts_;
  int index_;
  run_clock& clock_;
  thread_stats& stats_;
  const tls_client* tls_;
  int ep_ = -1;
  std::vector<std::unique_ptr<slot>> slots_;
  std::vector<slot*> free_; ///< open loop: idle slots
  std::vector<char> rbuf_;
  uint32_t src_counter_;
  uint64_t quota_ = 0;      ///< --count share (0: none)
  uint64_t done_ops_ = 0;   ///< measured ops so far (mirrors stats_.ops)
  uint64_t next_start_ = 0; ///< open loop: next scheduled connection
  uint64_t interval_ = 0;   ///< open loop: ns between connections
  size_t idle_next_ = 0;    ///< idle: next slot to connect
  int idle_inflight_ = 0;   ///< idle: connects in progress
  uint64_t done_ns_ = 0;
};

} // namespace kam::bench
