#include "runtime/io/detail/handshake_pacer.hpp"

#include <boost/asio/post.hpp>

#include "runtime/io/detail/stream.hpp"

namespace kam::runtime::io::detail {

namespace asio = boost::asio;

namespace {

/// Handshakes started per round. 1 cost 5-7% of the handshake rate against
/// no pacing (two epoll polls per connection; the code paths of a ClientHello
/// and of a request alternate); 4 costs 1-2% and keeps the p99 of a request
/// after a handshake at ~2 ms (8: 2.9 ms, unpaced: 11 ms). docs/performance.md,
/// "Session 12".
constexpr size_t per_round = 4;

} // namespace

handshake_pacer::handshake_pacer(asio::io_context& ioc) : ex_(ioc.get_executor()) {}

void handshake_pacer::admit(std::shared_ptr<stream> s) {
  queue_.push_back(s);
  if (busy_)
    return;
  busy_ = true;
  // Posted, not run here: admit() comes from stream::start(), inside the
  // owner's code; the read after the work queued now is what start() did.
  asio::post(ex_, [this] { run_round(); });
}

void handshake_pacer::run_round() {
  size_t started = 0;
  while (!queue_.empty() && started < per_round) {
    auto s = queue_.front().lock();
    queue_.pop_front();
    if (s) {
      s->paced_read();
      ++started;
    }
  }
  if (queue_.empty())
    busy_ = false;
  else
    next_round();
}

void handshake_pacer::next_round() {
  // Two posts, no timer: a job posted from a job queues behind the marker
  // Asio's scheduler keeps for its reactor, so it runs right after the next
  // epoll_wait (a poll: work is queued), ahead of the events that poll
  // reported; posted again from there, it runs behind them.
  asio::post(ex_, [this] { asio::post(ex_, [this] { run_round(); }); });
}

} // namespace kam::runtime::io::detail
