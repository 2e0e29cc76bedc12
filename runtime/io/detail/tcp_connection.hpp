#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor.hpp>

#include "runtime/boxes.hpp"
#include "runtime/bytes.hpp"
#include "runtime/io/listen_options.hpp"
#include "runtime/ipc.hpp"

namespace kam::runtime::io::detail {

/// Counts a broker's open sockets for listen_options::max_connections.
/// Shared by the broker and its connections (which may outlive it).
///
/// Thread rule: thread safe. The broker reserves a slot before each accept;
/// a connection releases its slot once, when its socket closes.
class connection_gate {
public:
  explicit connection_gate(size_t max) : max_(max) {}

  /// Takes a slot if fewer than `max` are taken.
  bool try_reserve() {
    auto v = open_.load(std::memory_order_relaxed);
    while (v < max_)
      if (open_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel))
        return true;
    return false;
  }

  /// Gives a slot back; leaving the full state runs the room callback.
  void release() {
    if (open_.fetch_sub(1, std::memory_order_acq_rel) == max_) {
      std::lock_guard<std::mutex> guard{mtx_};
      if (on_room_)
        on_room_();
    }
  }

  size_t open() const { return open_.load(std::memory_order_relaxed); }

  /// Sets (or, with nullptr, clears) what runs when a slot frees at the limit.
  void on_room(std::function<void()> f) {
    std::lock_guard<std::mutex> guard{mtx_};
    on_room_ = std::move(f);
  }

private:
  const size_t max_;
  std::atomic<size_t> open_{0};
  std::mutex mtx_;
  std::function<void()> on_room_;
};

/// The Asio half of a ConnectedSocketAdapter: owns one accepted socket on
/// one I/O thread's io_context and moves its bytes.
///
/// Thread rule: the public member functions are thread safe (called on the
/// socket's I/O thread they run at once, from elsewhere they post to it, in
/// call order); everything private runs only on that thread. Bytes read are
/// sent straight from the I/O thread to the CSA's outbox target (sender: the
/// CSA), so a read costs one hand-off, not two.
///
/// Backpressure: `queued_` counts bytes accepted by write() and not yet taken
/// by the kernel (pending_ + wq_); write() adds on the caller's thread, the
/// I/O thread subtracts. Past the hard limit the I/O thread stops reading at
/// the next readiness event and waits for the queue to drop below the low
/// watermark. The CSA compares write()'s result with the high watermark
/// itself and calls arm_resume() to hear `io_resume` below the low one.
class tcp_connection : public std::enable_shared_from_this<tcp_connection> {
public:
  /// `gate`, if any, holds a slot for this socket; released when it closes.
  tcp_connection(boost::asio::ip::tcp::socket sock, const listen_options& opts,
                 std::shared_ptr<connection_gate> gate = nullptr);
  ~tcp_connection();

  tcp_connection(const tcp_connection&) = delete;
  tcp_connection& operator=(const tcp_connection&) = delete;

  /// Sets the CSA actor that hears this connection's events. I/O thread
  /// only, once, right after construction (before any other call).
  void attach(caf::actor csa);

  /// Starts reading; bytes go to (`reader`, `reader_in`).
  void start(caf::actor reader, box reader_in);

  /// Queues `buf` for writing after everything queued before it; returns
  /// the bytes queued now (this buffer included).
  size_t write(bytes buf);

  /// Bytes queued for the socket and not yet written.
  size_t queued() const { return queued_.load(); }

  /// Asks for one `io_resume` to the CSA when the queue falls below the low
  /// watermark. Returns true (and arms nothing) if it is already below.
  bool arm_resume();

  size_t high_watermark() const { return high_; }
  size_t hard_limit() const { return hard_; }
  /// listen_options::close_slow_consumers. Any thread.
  bool close_slow_consumers() const { return close_slow_; }

  /// Closes with `timeout` unless bytes arrive within `d` (one-shot, see
  /// set_read_deadline); zero clears it.
  void read_deadline(std::chrono::milliseconds d);

  /// Stops input, flushes queued output, sends FIN, lingers, closes.
  void close_graceful();

  /// Closes at once, dropping queued output; tells the CSA `why`.
  void close_now(shutdown_reason why);

  /// Reads what the peer already sent (until it would block), delivers it,
  /// stops input and tells the CSA (io_drained).
  void drain();

private:
  enum class read_result { would_block, more, eof, failed };

  using clock = std::chrono::steady_clock;

  void wait_readable();
  void consumed(size_t n);
  void drop_queue();
  void touch() {
    if (idle_timeout_.count() != 0)
      last_activity_.store(clock::now().time_since_epoch().count(),
                           std::memory_order_relaxed);
  }
  /// The I/O thread's queue just emptied: writers may write directly again.
  void release_output();
  /// No more direct writes (closing or closed). Any thread.
  void revoke_direct();
  void arm_idle(clock::duration d);
  void time_out();
  void on_idle_timer();
  void release_gate();
  void on_read(const boost::system::error_code& ec, size_t n);
  void finish_drain();
  /// The peer's FIN arrived: input is over.
  void peer_finished();
  /// Size of rbuf_: 64 KiB, or less when a read event is bounded lower.
  size_t rsize() const { return std::min<size_t>(64 * 1024, max_read_); }
  read_result read_into(bytes& out, size_t limit);
  void deliver(bytes&& data);
  void flush_pending();
  void do_write();
  void shutdown_output();
  void fail(const boost::system::error_code& ec);
  void close_socket();
  void release_actors();

  boost::asio::ip::tcp::socket sock_;
  boost::asio::steady_timer linger_timer_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer deadline_timer_;
  size_t max_read_;
  std::chrono::milliseconds linger_;
  size_t high_;
  size_t low_;
  size_t hard_;
  bool close_slow_;
  std::chrono::milliseconds idle_timeout_;
  std::shared_ptr<connection_gate> gate_;

  // Any thread (see the class comment).
  std::atomic<size_t> queued_{0};
  std::atomic<bool> resume_armed_{false};

  caf::actor csa_;
  caf::actor reader_;
  box reader_in_ = inbox;

  // Written by any thread under mtx_, moved to wq_ on the I/O thread.
  std::mutex mtx_;
  std::vector<bytes> pending_;
  bool flush_posted_ = false;
  // Under mtx_: the I/O thread has no output queued, nothing is pending and
  // the descriptor is open, so write() may send() directly from the caller's
  // thread (no post, no wake-up of the I/O thread). close_socket() clears it
  // under mtx_ before closing, so a direct send never meets a reused fd.
  bool direct_ok_ = true;
  int fd_ = -1;

  // I/O thread only.
  std::unique_ptr<char[]> rbuf_; // what async reads fill, allocated on first use
  size_t rbuf_size_ = 0;
  std::deque<bytes> wq_;
  size_t wq_offset_ = 0;
  std::vector<boost::asio::const_buffer> iov_;
  bool started_ = false;
  bool read_wait_ = false;
  bool write_wait_ = false;
  bool input_done_ = false;
  bool draining_ = false; // drain() ran: no new reads; input ends soon
  bool peer_eof_ = false; // read up to the peer's FIN
  bool closing_ = false;
  bool lingering_ = false;
  bool closed_ = false;
  // Past the hard limit: not waiting for input. Set on the I/O thread, read
  // by direct writers (which then post a resume check).
  std::atomic<bool> read_paused_{false};
  bool deadline_set_ = false; // a read deadline waits for input
  uint32_t deadline_gen_ = 0;
  // clock::rep of the last activity; written by direct writers too.
  std::atomic<clock::rep> last_activity_{0};
};

} // namespace kam::runtime::io::detail
