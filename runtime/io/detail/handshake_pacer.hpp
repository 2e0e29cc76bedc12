#pragma once

#include <deque>
#include <memory>

#include <boost/asio/io_context.hpp>

namespace kam::runtime::io::detail {

class stream;

/// Starts the TLS handshakes of one I/O thread's new connections a few (4)
/// per reactor round, after the socket events that round reported: a client's
/// Finished and first request (cheap, and what it is waiting for) are served
/// before the next connections' ClientHellos (an ECDHE key exchange each,
/// ~0.2 ms on this VM).
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
/// Thread rule: every member function on the io_context's thread.
class handshake_pacer {
public:
  explicit handshake_pacer(boost::asio::io_context& ioc);

  handshake_pacer(const handshake_pacer&) = delete;
  handshake_pacer& operator=(const handshake_pacer&) = delete;

  /// `s`'s first read (its ClientHello) runs in a job posted now if no
  /// handshake is waiting, else after the ones queued before it, 4 per
  /// reactor round.
  void admit(std::shared_ptr<stream> s);

  /// Streams admitted and not yet started.
  size_t waiting() const { return queue_.size(); }

private:
  void next_round();
  void run_round();

  boost::asio::io_context::executor_type ex_;
  std::deque<std::weak_ptr<stream>> queue_;
  bool busy_ = false; ///< run_round() is posted
};

} // namespace kam::runtime::io::detail
