#pragma once

#include <deque>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace kam::runtime::io::detail {

class stream;

/// Starts the TLS handshakes of one I/O thread's new connections a few
/// (listen_options::tls_handshakes_per_round, default 4) per reactor round,
/// after the socket events that round reported: a client's Finished and
/// first request (cheap, and what it is waiting for) are served before the
/// next connections' ClientHellos (an ECDHE key exchange each, ~0.2 ms on
/// this VM). The price, ~5% more CPU per resumed handshake, is cache: a
/// connection's state goes cold between its accept and its ClientHello.
///
/// Without it, a batch of accepts started every ClientHello of the batch at
/// once, and a request that became readable meanwhile waited behind all of
/// them: under a handshake flood kam's p99 was 2.2-3.7x nginx's, at the same
/// rate (docs/performance.md, "Session 12"). nginx gets the interleaving from
/// accepting one connection per epoll round; the accept batch stays (it is
/// cheap, and keeps the backlog short) and only the expensive step is paced.
///
/// How "after the round's socket events": two posts (next_round()), two
/// epoll_wait polls (zero timeout) per round. An expired timer would do it
/// in one, but each arm was a timerfd_settime and a timer interrupt, +40 us
/// of kernel time per connection on this VM.
///
/// Owned by the I/O thread (io_broker's worker), destroyed before its
/// io_context (the jobs it posted are then dropped unrun). Its queue holds
/// weak references: a stream gone while queued is skipped; one closed or
/// drained while queued (drain, its handshake deadline, which runs from
/// accept) is still alive and its read finds it so (stream::on_readable).
///
/// A template over the stream type only so that tests can drive it with a
/// stand-in (tests/runtime/io/handshake_pacer_test.cpp); kam uses
/// handshake_pacer, instantiated once in handshake_pacer.cpp. `Stream` has
/// `deferred_read()`, the read its start() deferred.
///
/// Thread rule: every member function on the io_context's thread.
template <class Stream>
class basic_handshake_pacer {
public:
  /// Starts `per_round` (>= 1) handshakes per round.
  basic_handshake_pacer(boost::asio::io_context& ioc, size_t per_round)
    : ex_(ioc.get_executor()), per_round_(per_round < 1 ? 1 : per_round) {}

  basic_handshake_pacer(const basic_handshake_pacer&) = delete;
  basic_handshake_pacer& operator=(const basic_handshake_pacer&) = delete;

  /// `s`'s first read (its ClientHello) runs in a job posted now if no
  /// handshake is waiting, else after the ones queued before it, per_round
  /// per reactor round.
  void admit(const std::shared_ptr<Stream>& s) {
    queue_.push_back(s);
    if (busy_)
      return;
    busy_ = true;
    // Posted, not run here: admit() comes from stream::start(), inside the
    // owner's code; the read after the work queued now is what start() did.
    boost::asio::post(ex_, [this] { run_round(); });
  }

  /// Streams admitted and not yet started.
  size_t waiting() const { return queue_.size(); }

private:
  void run_round() {
    size_t started = 0;
    while (!queue_.empty() && started < per_round_) {
      auto s = queue_.front().lock();
      queue_.pop_front();
      if (s) {
        s->deferred_read();
        ++started;
      }
    }
    if (queue_.empty())
      busy_ = false;
    else
      next_round();
  }

  void next_round() {
    // Two posts, no timer: a job posted from a job queues behind the marker
    // Asio's scheduler keeps for its reactor, so it runs right after the
    // next epoll_wait (a poll: work is queued), ahead of the events that
    // poll reported; posted again from there, it runs behind them.
    boost::asio::post(ex_, [this] { boost::asio::post(ex_, [this] { run_round(); }); });
  }

  boost::asio::io_context::executor_type ex_;
  size_t per_round_;
  std::deque<std::weak_ptr<Stream>> queue_;
  bool busy_ = false; ///< run_round() is posted
};

using handshake_pacer = basic_handshake_pacer<stream>;
extern template class basic_handshake_pacer<stream>;

} // namespace kam::runtime::io::detail
