// The stream's life: start, drain, the ways it closes. Its input side is in
// stream_read.cpp, its output side and the timers in stream_write.cpp.
#include "runtime/io/detail/stream.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <boost/asio/post.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/io/connection_gate.hpp"
#include "runtime/io/detail/handshake_pacer.hpp"
#include "runtime/io/detail/stream_proxy.hpp"
#include "runtime/io/detail/stream_tls.hpp"
#include "runtime/stats.hpp"

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

uint32_t clamp32(size_t x) {
  return static_cast<uint32_t>(std::min<size_t>(x, UINT32_MAX));
}

} // namespace

stream::stream(socket_type sock, const listen_options& opts,
               std::shared_ptr<connection_gate> gate, std::unique_ptr<tls_layer> tls,
               std::shared_ptr<server_stats> stats)
  : sock_(std::move(sock)), timer_(sock_.get_executor()), gate_(std::move(gate)),
    tls_(std::move(tls)),
    max_read_(clamp32(std::max<size_t>(opts.max_read_per_event, 1))),
    high_(clamp32(std::max<size_t>(opts.write_high_watermark, 1))),
    low_(std::min(clamp32(opts.write_low_watermark), high_)),
    hard_(std::max(clamp32(opts.write_hard_limit), high_)),
    linger_(static_cast<uint32_t>(opts.linger.count())),
    idle_timeout_(static_cast<uint32_t>(opts.idle_timeout.count())),
    close_slow_(opts.close_slow_consumers), stats_(std::move(stats)) {
  error_code ec;
  sock_.non_blocking(true, ec);
}

stream::stream(socket_type sock, const listen_options& opts,
               std::shared_ptr<connection_gate> gate)
  : stream(std::move(sock), opts, std::move(gate), nullptr) {}

stream::~stream() {
  if (gate_) // the I/O thread ended before the socket closed
    gate_->release();
}

void stream::assert_io_thread(const char* what) const {
  // muduo's assertInLoopThread, on in every build: one thread-local lookup.
  if (!in_io_thread()) {
    std::fprintf(stderr, "kam: stream::%s called off its I/O thread\n", what);
    std::abort();
  }
}

void stream::attach(std::shared_ptr<stream_events> events) {
  assert_io_thread("attach");
  events_ = std::move(events);
}

void stream::start() {
  assert_io_thread("start");
  if (phase_ != phase::fresh)
    return;
  phase_ = phase::reading;
  if (idle_timeout_.count() != 0)
    last_activity_ = clock::now();
  if (tls_) // the handshake's deadline: met once it completes
    deadline_ = clock::now() + tls_->handshake_timeout;
  arm_timer();
  if (proxy_) { // what followed the PROXY header first, as if just read
    asio::post(executor(), [self = shared_from_this()] { self->deliver_after_header(); });
    return;
  }
  if (tls_ && tls_->pacer) { // a ClientHello: in its turn, after other events
    read_pending_ = true;
    tls_->pacer->admit(shared_from_this());
    return;
  }
  // A client usually sends right after connect(): its first bytes are often
  // here by now, and a read finds them without a readiness wait.
  read_later();
}

void stream::drain() {
  assert_io_thread("drain");
  if (phase_ == phase::reading) {
    phase_ = phase::input_over; // a readiness wait still queued finds input over
    bytes data;
    error_code ec;
    auto r = read_result::more;
    if (proxy_) { // start()'s post has not delivered what followed the header
      data = std::move(proxy_->rest);
      if (proxy_->eof)
        r = read_result::eof;
      else if (proxy_->ec)
        r = read_result::failed, ec = proxy_->ec;
      proxy_.reset();
    }
    // Bounded: a client that never stops sending cannot hold the drain.
    if (r == read_result::more)
      r = read_into(data, 64 * size_t{max_read_}, true, ec);
    deliver(std::move(data));
    if (phase_ == phase::closed) // a failed TLS record closed us
      return;
    if (r == read_result::failed) {
      fail(ec);
      return;
    }
    peer_eof_ = r == read_result::eof;
  } else if (phase_ == phase::fresh) {
    phase_ = phase::input_over;
  }
  if (events_)
    events_->on_drained();
}

void stream::close_graceful() {
  assert_io_thread("close_graceful");
  if (phase_ >= phase::closing)
    return;
  if (tls_)
    close_notify(); // TLS's FIN, ahead of TCP's
  if (phase_ == phase::closed)
    return;
  phase_ = phase::closing;
  if (!write_pending_) // else the flush ends with shutdown_output()
    shutdown_output();
}

void stream::close_now(shutdown_reason why) {
  assert_io_thread("close_now");
  if (phase_ == phase::closed)
    return;
  notify_closed(why);
  close_socket();
}

void stream::fail(const error_code& ec) {
  if (phase_ == phase::closed)
    return;
  auto why = shutdown_reason::error;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted)
    why = shutdown_reason::reset;
  else if (ec == asio::error::timed_out)
    why = shutdown_reason::timeout;
  if (tls_handshaking()) { // a reset mid-handshake fails it, as an EOF does
    tls_failed(why);
    return;
  }
  notify_closed(why);
  close_socket();
}

void stream::notify_closed(shutdown_reason why) {
  // The last event: the owner is let go (breaks the CSA <-> stream cycle).
  if (auto events = std::move(events_))
    events->on_closed(why);
}

void stream::close_socket() {
  if (phase_ == phase::closed)
    return;
  phase_ = phase::closed;
  events_ = nullptr;
  error_code ec;
  timer_.cancel();
  sock_.close(ec);
  wq_.clear();
  wq_head_ = wq_offset_ = queued_ = 0;
  if (gate_) {
    gate_->release();
    gate_ = nullptr;
  }
}

} // namespace kam::runtime::io::detail
