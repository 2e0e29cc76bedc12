// The stream's input side: when it reads (a posted read after a read, a
// readiness wait only when a read found nothing), reading into the I/O
// thread's buffer, and what a read brought (data, EOF, an error).
#include "runtime/io/detail/stream.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/post.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/io/detail/stream_tls.hpp"
#include "runtime/stats.hpp"

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t read_chunk = 64 * 1024;

/// The I/O thread's read buffer: every stream of the thread reads into it
/// and moves out only what arrived, so an idle stream holds none.
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buf{new char[read_chunk]};
  return buf.get();
}

} // namespace

bool stream::may_read() const {
  if (read_pending_ || (phase_ != phase::reading && phase_ != phase::lingering))
    return false;
  // Past the hard limit the client sends faster than it reads what we send
  // back: leave its bytes in the kernel (TCP flow control) until
  // apply_watermarks() finds the queue below the low watermark.
  return phase_ != phase::reading || queued_ < hard_;
}

void stream::read_later() {
  if (!may_read())
    return;
  read_pending_ = true;
  asio::post(executor(), [self = shared_from_this()] { self->deferred_read(); });
}

void stream::deferred_read() {
  read_pending_ = false;
  turn_scope turn;
  on_readable({});
}

void stream::wait_readable() {
  if (!may_read())
    return;
  read_pending_ = true;
  // A readiness wait, not async_read_some: the read buffer is the thread's,
  // lent only while we read. Asio re-arms epoll (EPOLL_CTL_MOD) for it,
  // which also re-reports data that came after a short read, so one recv
  // per message is enough (see docs/performance.md, "Runtime II"). After a
  // read that brought data, read_later() tries first: under load the next
  // message is usually there by then, and that read saves the MOD and the
  // epoll round (docs/performance.md, "Session 9", "The read after a read").
  sock_.async_wait(asio::socket_base::wait_read,
                   [self = shared_from_this()](const error_code& ec) {
                     self->read_pending_ = false;
                     // A turn of the thread's actor_thread: the CSA's message
                     // to an idle handler (and the handler's answer to the
                     // CSA) run right after the read, not through their
                     // mailboxes (the same-thread hop).
                     turn_scope turn;
                     self->on_readable(ec);
                   });
}

void stream::on_readable(const error_code& ec) {
  if (phase_ == phase::closed || ec == asio::error::operation_aborted)
    return;
  if (ec) {
    fail(ec);
    return;
  }
  if (phase_ == phase::lingering) {
    discard_input();
    return;
  }
  if (phase_ != phase::reading) // input ended while the wait was queued
    return;
  bytes data;
  error_code rec;
  auto r = read_into(data, max_read_, false, rec);
  if (data.empty() && r == read_result::would_block) {
    wait_readable(); // nothing (yet, or a spurious wake-up): epoll tells us when
    return;
  }
  on_input(std::move(data), r, rec);
}

void stream::on_input(bytes&& data, read_result r, const error_code& rec) {
  if (!data.empty()) {
    touch();
    if (!tls_handshaking())
      deadline_ = clock::time_point::max(); // met
  }
  deliver(std::move(data));    // what arrived before an error still counts
  if (phase_ == phase::closed) // a failed TLS handshake or record closed us
    return;
  if (r == read_result::eof && tls_handshaking()) {
    tls_failed(shutdown_reason::peer_closed); // gave up before the handshake's end
    return;
  }
  switch (r) {
  case read_result::would_block:
  case read_result::more: // bound hit: the next read queues behind other work
    read_later();
    break;
  case read_result::eof:
    peer_finished();
    break;
  case read_result::failed:
    fail(rec);
    break;
  }
}

stream::read_result stream::read_into(bytes& out, size_t limit, bool until_would_block,
                                      error_code& ec) {
  auto before = out.size();
  auto r = read_some_into(out, limit, until_would_block, ec);
  if (stats_ && out.size() != before) // one relaxed add per readiness event
    stats_->bytes_received.add(this_thread_shard(), out.size() - before);
  return r;
}

stream::read_result stream::read_some_into(bytes& out, size_t limit,
                                           bool until_would_block, error_code& ec) {
  auto* buf = thread_read_buffer();
  size_t total = 0;
  while (total < limit) {
    auto want = std::min(read_chunk, limit - total);
    auto n = sock_.read_some(asio::buffer(buf, want), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      return read_result::would_block;
    if (ec == asio::error::eof)
      return read_result::eof;
    if (ec == asio::error::interrupted)
      continue;
    if (ec)
      return read_result::failed;
    out.insert(out.end(), buf, buf + n); // exact size when it is one read
    total += n;
    // A short read emptied the kernel's queue: stop here instead of paying
    // for EAGAIN now; the next read (read_later) comes after the thread's
    // queued work, when more has often arrived.
    if (n < want && !until_would_block)
      return read_result::would_block;
  }
  return read_result::more;
}

void stream::discard_input() {
  // Lingering: what the peer still sends is dropped until its FIN.
  bytes data;
  error_code ec;
  auto r = read_into(data, 64 * read_chunk, true, ec);
  if (r == read_result::eof || r == read_result::failed)
    close_socket(); // the peer's FIN: it has read everything we sent
  else
    wait_readable();
}

void stream::deliver(bytes&& data) {
  if (data.empty())
    return;
  if (tls_)
    deliver_tls(std::move(data));
  else if (events_)
    events_->on_data(std::move(data));
}

void stream::peer_finished() {
  if (phase_ != phase::reading) { // TLS: close_notify came before the TCP FIN
    peer_eof_ = true;
    return;
  }
  peer_eof_ = true;
  phase_ = phase::input_over;
  if (events_)
    events_->on_eof();
}

} // namespace kam::runtime::io::detail
