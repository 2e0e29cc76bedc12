// The stream's output side (write queue, writev, watermarks, FIN, linger)
// and its one timer (idle timeout, read deadline, linger).
#include "runtime/io/detail/stream.hpp"
#include "runtime/io/detail/stream_proxy.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <vector>

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t max_iov = 64;

bool would_block(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

} // namespace

void stream::write(bytes buf) {
  assert_io_thread("write");
  if (buf.empty() || phase_ >= phase::lingering)
    return;
  if (tls_)
    write_tls(std::move(buf));
  else
    send_raw(std::move(buf));
}

void stream::send_raw(bytes buf) {
  if (buf.empty() || phase_ >= phase::lingering)
    return;
  if (!write_pending_) {
    // Nothing queued (muduo's sendInLoop): write now, queue what is refused.
    error_code ec;
    size_t n = 0;
    do
      n = sock_.write_some(asio::buffer(buf), ec);
    while (ec == asio::error::interrupted);
    if (ec && !would_block(ec)) {
      fail(ec);
      return;
    }
    if (n > 0) {
      touch();
      if (stats_)
        stats_->bytes_sent.add(this_thread_shard(), n);
    }
    if (n == buf.size())
      return;
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  queued_ += buf.size();
  wq_.push_back(std::move(buf));
  if (close_slow_ && queued_ >= hard_) {
    if (stats_)
      stats_->slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
    // The pub/sub policy (Redis's client-output-buffer-limit pubsub): this
    // client reads slower than others write to it; holding its output
    // would grow without bound, so it goes (docs/backplane.md).
    notify_closed(shutdown_reason::slow_consumer);
    close_socket();
    return;
  }
  if (!write_pending_)
    wait_writable();
  apply_watermarks();
}

void stream::wait_writable() {
  write_pending_ = true;
  sock_.async_wait(
    asio::socket_base::wait_write, [self = shared_from_this()](const error_code& ec) {
      self->write_pending_ = false;
      if (self->phase_ == phase::closed || ec == asio::error::operation_aborted)
        return;
      if (ec)
        self->fail(ec);
      else
        self->flush();
    });
}

void stream::flush() {
  // Invariant: the queue is not empty exactly while a write wait is pending
  // (or this function runs), so write() knows when it may write directly.
  thread_local std::vector<asio::const_buffer> iov; // the thread's, not ours
  while (wq_head_ < wq_.size()) {
    iov.clear();
    size_t off = wq_offset_;
    for (auto i = wq_head_; i < wq_.size() && iov.size() < max_iov; ++i, off = 0)
      iov.emplace_back(wq_[i].data() + off, wq_[i].size() - off);
    error_code ec;
    auto n = sock_.write_some(iov, ec); // one writev
    if (would_block(ec)) {
      wait_writable();
      return;
    }
    if (ec == asio::error::interrupted)
      continue;
    if (ec) {
      fail(ec);
      return;
    }
    touch();
    if (stats_)
      stats_->bytes_sent.add(this_thread_shard(), n);
    consume(n);
    if (phase_ == phase::closed) // the owner's event closed us
      return;
  }
  if (phase_ == phase::closing)
    shutdown_output();
}

void stream::consume(size_t n) {
  queued_ -= n;
  while (n > 0) {
    auto left = wq_[wq_head_].size() - wq_offset_;
    if (n < left) {
      wq_offset_ += n;
      break;
    }
    n -= left;
    ++wq_head_;
    wq_offset_ = 0;
  }
  if (wq_head_ == wq_.size()) {
    wq_head_ = 0;
    if (wq_.capacity() > 16)
      wq_ = {}; // a burst's queue is not kept by an idle connection
    else
      wq_.clear();
  }
  apply_watermarks();
}

void stream::apply_watermarks() {
  // The one place for flow control: tell the owner when the queue passes
  // the high watermark and when it falls below the low one; below the low
  // one, reading goes on if the hard limit had paused it (wait_readable()
  // is where it pauses).
  if (!above_high_ && queued_ >= high_) {
    above_high_ = true;
    if (stats_)
      stats_->backpressure_pauses.add(this_thread_shard());
    if (events_)
      events_->on_watermark(true);
  } else if (above_high_ && queued_ < low_) {
    above_high_ = false;
    if (events_)
      events_->on_watermark(false);
  }
  if (queued_ < low_)
    wait_readable(); // no-op while a wait is queued or input is over
}

void stream::shutdown_output() {
  if (phase_ >= phase::lingering)
    return;
  if (peer_eof_) {
    // The peer sent its FIN and we read up to it: nothing left to wait for.
    // close() sends what the kernel still holds for the peer, then our FIN.
    notify_closed(shutdown_reason::closed);
    close_socket();
    return;
  }
  error_code ec;
  sock_.shutdown(asio::socket_base::shutdown_send, ec);
  phase_ = phase::lingering;
  notify_closed(shutdown_reason::closed);
  if (ec) {
    close_socket();
    return;
  }
  // Wait for the peer's FIN (it has read all we sent), at most linger_.
  armed_at_ = clock::now() + linger_;
  timer_.expires_at(armed_at_);
  timer_.async_wait([self = shared_from_this()](const error_code& tec) {
    if (!tec)
      self->close_socket();
  });
  wait_readable();
}

void stream::touch() {
  if (idle_timeout_.count() != 0)
    last_activity_ = clock::now();
}

void stream::read_deadline(std::chrono::milliseconds d) {
  assert_io_thread("read_deadline");
  if (phase_ > phase::reading)
    return;
  deadline_ = d.count() > 0 ? clock::now() + d : clock::time_point::max();
  arm_timer();
}

void stream::arm_timer() {
  // Activity only records a time; the timer re-arms for what is left when
  // it fires, and is moved only when a nearer deadline comes.
  auto due = deadline_;
  if (idle_timeout_.count() != 0)
    due = std::min(due, last_activity_ + idle_timeout_);
  if (due == clock::time_point::max() || armed_at_ <= due)
    return;
  armed_at_ = due;
  timer_.expires_at(due); // a pending wait ends with operation_aborted
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec)
      self->on_timer();
  });
}

void stream::on_timer() {
  armed_at_ = clock::time_point::max();
  if (phase_ >= phase::lingering) // lingering has its own wait
    return;
  if (phase_ == phase::fresh && proxy_ && !proxy_->done)
    return; // the PROXY header is in, start() is on its way and re-arms

  auto now = clock::now();
  bool idle = idle_timeout_.count() != 0 && now >= last_activity_ + idle_timeout_;
  bool late =
    deadline_ != clock::time_point::max() && now >= deadline_ && phase_ <= phase::reading;
  if (idle || late)
    time_out();
  else
    arm_timer();
}

void stream::time_out() {
  if (proxy_ && proxy_->done) { // the PROXY header is late
    proxy_failed();
    return;
  }
  if (tls_handshaking()) {
    tls_failed(shutdown_reason::timeout);
    return;
  }
  notify_closed(shutdown_reason::timeout);
  close_socket();
}

} // namespace kam::runtime::io::detail
