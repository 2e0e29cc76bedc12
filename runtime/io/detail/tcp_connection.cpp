#include "runtime/io/detail/tcp_connection.hpp"

#include <algorithm>

#include <sys/socket.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include "runtime/io/detail/io_events.hpp"

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t read_chunk = 64 * 1024;
constexpr size_t max_iov = 64;

shutdown_reason classify(const error_code& ec) {
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted)
    return shutdown_reason::reset;
  if (ec == asio::error::timed_out)
    return shutdown_reason::timeout;
  return shutdown_reason::error;
}

} // namespace

tcp_connection::tcp_connection(asio::ip::tcp::socket sock, const listen_options& opts,
                               std::shared_ptr<connection_gate> gate)
  : sock_(std::move(sock)), linger_timer_(sock_.get_executor()),
    idle_timer_(sock_.get_executor()), deadline_timer_(sock_.get_executor()),
    max_read_(std::max<size_t>(opts.max_read_per_event, 1)), linger_(opts.linger),
    high_(std::max<size_t>(opts.write_high_watermark, 1)),
    low_(std::min(opts.write_low_watermark, high_)),
    hard_(std::max(opts.write_hard_limit, high_)), close_slow_(opts.close_slow_consumers),
    idle_timeout_(opts.idle_timeout), gate_(std::move(gate)) {
  error_code ec;
  sock_.non_blocking(true, ec);
  fd_ = sock_.native_handle();
}

tcp_connection::~tcp_connection() {
  release_gate(); // if the I/O thread ended before the socket closed
}

void tcp_connection::attach(caf::actor csa) {
  csa_ = std::move(csa);
}

void tcp_connection::start(caf::actor reader, box reader_in) {
  asio::dispatch(sock_.get_executor(), [self = shared_from_this(),
                                        reader = std::move(reader), reader_in]() mutable {
    if (self->closed_ || self->started_ || self->input_done_)
      return;
    self->started_ = true;
    self->reader_ = std::move(reader);
    self->reader_in_ = reader_in;
    if (self->idle_timeout_.count() != 0) {
      self->last_activity_.store(clock::now().time_since_epoch().count());
      self->arm_idle(self->idle_timeout_);
    }
    self->wait_readable();
  });
}

size_t tcp_connection::write(bytes buf) {
  if (buf.empty())
    return queued_.load();
  // Counted before the I/O thread can see the bytes, so its subtraction
  // never goes below zero.
  auto n = buf.size();
  auto q = queued_.fetch_add(n) + n;
  bool post = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (direct_ok_) {
      // Fast path: nothing queued before us, so order holds if we write
      // now, on this (CAF) thread; only what the kernel refuses is queued.
      auto r = ::send(fd_, buf.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r > 0) {
        touch();
        auto left = queued_.fetch_sub(static_cast<size_t>(r)) - static_cast<size_t>(r);
        if (left < low_ && (read_paused_.load() || resume_armed_.load()))
          // Only the I/O thread resumes reading and tells the CSA.
          asio::post(sock_.get_executor(),
                     [self = shared_from_this()] { self->consumed(0); });
        if (static_cast<size_t>(r) == n)
          return q - n;
        buf.erase(buf.begin(), buf.begin() + r);
      }
      // Partial, EAGAIN or an error: the I/O thread takes over (and
      // reports errors); no direct write until its queue is empty again.
      direct_ok_ = false;
    }
    pending_.push_back(std::move(buf));
    post = !flush_posted_;
    flush_posted_ = true;
  }
  if (post)
    asio::dispatch(sock_.get_executor(),
                   [self = shared_from_this()] { self->flush_pending(); });
  return q;
}

bool tcp_connection::arm_resume() {
  // Pairs with consumed(): either it sees the flag, or we see its count
  // (both sequentially consistent); exchange() makes exactly one side act.
  resume_armed_.store(true);
  return queued_.load() < low_ && resume_armed_.exchange(false);
}

void tcp_connection::consumed(size_t n) {
  auto q = queued_.fetch_sub(n) - n;
  if (q >= low_)
    return;
  if (read_paused_) {
    read_paused_ = false;
    wait_readable();
  }
  if (resume_armed_.load() && resume_armed_.exchange(false) && csa_)
    caf::anon_send(csa_, io_resume_atom::value);
}

void tcp_connection::drop_queue() {
  size_t n = 0;
  for (auto& b : wq_)
    n += b.size();
  n -= wq_offset_;
  wq_.clear();
  wq_offset_ = 0;
  if (n != 0)
    queued_.fetch_sub(n);
}

void tcp_connection::arm_idle(clock::duration d) {
  idle_timer_.expires_after(d);
  idle_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec)
      self->on_idle_timer();
  });
}

void tcp_connection::on_idle_timer() {
  if (closed_ || lingering_)
    return;
  // Activity only records a time; the one timer re-arms for what is left.
  auto due = clock::time_point(clock::duration(last_activity_.load())) + idle_timeout_;
  auto now = clock::now();
  if (now < due) {
    arm_idle(due - now);
    return;
  }
  time_out();
}

void tcp_connection::time_out() {
  if (csa_)
    caf::anon_send(csa_, io_closed_atom::value, shutdown_reason::timeout);
  close_socket();
}

void tcp_connection::read_deadline(std::chrono::milliseconds d) {
  asio::dispatch(sock_.get_executor(), [self = shared_from_this(), d] {
    if (self->closed_ || self->input_done_)
      return;
    // A generation tells a stale expiry from the current one, so a read
    // meeting the deadline only clears a flag (no timer call per read).
    auto gen = ++self->deadline_gen_;
    self->deadline_set_ = d.count() > 0;
    if (!self->deadline_set_) {
      self->deadline_timer_.cancel();
      return;
    }
    self->deadline_timer_.expires_after(d);
    self->deadline_timer_.async_wait([self, gen](const error_code& ec) {
      if (ec || gen != self->deadline_gen_ || !self->deadline_set_ || self->closed_ ||
          self->input_done_)
        return;
      self->time_out();
    });
  });
}

void tcp_connection::release_gate() {
  if (gate_) {
    gate_->release();
    gate_ = nullptr;
  }
}

void tcp_connection::close_graceful() {
  asio::dispatch(sock_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->closing_)
      return;
    self->closing_ = true;
    self->input_done_ = true;
    self->flush_pending();
    if (!self->write_wait_ && self->wq_.empty())
      self->shutdown_output();
  });
}

void tcp_connection::close_now(shutdown_reason why) {
  asio::dispatch(sock_.get_executor(), [self = shared_from_this(), why] {
    if (self->closed_)
      return;
    if (self->csa_)
      caf::anon_send(self->csa_, io_closed_atom::value, why);
    self->close_socket();
  });
}

void tcp_connection::drain() {
  asio::dispatch(sock_.get_executor(), [self = shared_from_this()] {
    if (self->draining_)
      return;
    self->draining_ = true; // no new reads from here
    if (self->read_wait_)
      // A read Asio tried at once may have bytes whose completion is queued
      // ahead of us: let it deliver them first.
      asio::post(self->sock_.get_executor(), [self] { self->finish_drain(); });
    else
      self->finish_drain();
  });
}

void tcp_connection::finish_drain() {
  if (!closed_ && !input_done_ && started_) {
    bytes data;
    // Bounded: a client that never stops sending cannot hold the drain.
    auto r = read_into(data, 64 * max_read_);
    deliver(std::move(data));
    if (r == read_result::failed)
      return; // fail() closed the socket and told the CSA
    peer_eof_ = r == read_result::eof;
  }
  input_done_ = true;
  if (csa_)
    caf::anon_send(csa_, io_drained_atom::value);
}

void tcp_connection::wait_readable() {
  if (closed_ || read_wait_ || ((input_done_ || draining_) && !lingering_))
    return;
  if (!lingering_ && queued_.load(std::memory_order_relaxed) >= hard_) {
    // The client sends faster than it reads what we send back: leave its
    // bytes in the kernel until consumed() finds the queue low again.
    read_paused_.store(true);
    // Pairs with write()'s direct path: either it sees the flag, or we see
    // the queue it already drained.
    if (queued_.load() >= hard_)
      return;
    read_paused_.store(false);
  }
  if (read_paused_)
    return;
  if (!rbuf_) // small until a read fills it: idle sockets cost little memory
    rbuf_.reset(new char[rbuf_size_ = std::min<size_t>(2048, rsize())]);
  read_wait_ = true;
  // A read, not a readiness wait: Asio tries it at once only when the last
  // read filled its buffer, and otherwise queues it without re-arming epoll
  // (a wait re-arms with epoll_ctl each time). So a message costs one recv.
  sock_.async_read_some(asio::buffer(rbuf_.get(), rbuf_size_),
                        [self = shared_from_this()](const error_code& ec, size_t n) {
                          self->read_wait_ = false;
                          self->on_read(ec, n);
                        });
}

void tcp_connection::on_read(const error_code& ec, size_t n) {
  if (closed_ || ec == asio::error::operation_aborted)
    return;
  if (ec == asio::error::eof) {
    if (lingering_)
      close_socket(); // the peer's FIN: it has read everything we sent
    else
      peer_finished();
    return;
  }
  if (ec) {
    fail(ec);
    return;
  }
  if (lingering_) { // discard what the peer still sends until its FIN
    wait_readable();
    return;
  }
  if (input_done_) // drained meanwhile: input is over
    return;
  bytes data(rbuf_.get(), rbuf_.get() + n);
  auto r = read_result::would_block;
  if (n == rbuf_size_) {
    if (rbuf_size_ < rsize()) // a busy socket: read in large chunks from now on
      rbuf_.reset(new char[rbuf_size_ = rsize()]);
    if (max_read_ > n) // more may be waiting: one message per event
      r = read_into(data, max_read_ - n);
  }
  if (!data.empty()) {
    touch();
    deadline_set_ = false; // met
  }
  deliver(std::move(data));
  switch (r) {
  case read_result::would_block:
  case read_result::more: // bound hit: the next read queues behind other work
    wait_readable();
    break;
  case read_result::eof:
    peer_finished();
    break;
  case read_result::failed:
    break; // fail() already ran
  }
}

void tcp_connection::peer_finished() {
  peer_eof_ = true;
  if (input_done_) // drained before: the CSA heard io_drained
    return;
  input_done_ = true;
  if (csa_)
    caf::anon_send(csa_, io_eof_atom::value);
}

tcp_connection::read_result tcp_connection::read_into(bytes& out, size_t limit) {
  thread_local char buf[read_chunk];
  size_t total = 0;
  while (total < limit) {
    error_code ec;
    auto n = sock_.read_some(asio::buffer(buf, std::min(read_chunk, limit - total)), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      return read_result::would_block;
    if (ec == asio::error::eof)
      return read_result::eof;
    if (ec == asio::error::interrupted)
      continue;
    if (ec) {
      if (!lingering_)
        deliver(std::move(out)); // what arrived before the error still counts
      out.clear();
      fail(ec);
      return read_result::failed;
    }
    out.insert(out.end(), buf, buf + n);
    total += n;
  }
  return read_result::more;
}

void tcp_connection::deliver(bytes&& data) {
  if (data.empty() || !reader_)
    return;
  caf::send_as(csa_, reader_, reader_in_, std::move(data));
}

void tcp_connection::release_output() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (pending_.empty() && !flush_posted_ && !closing_ && !lingering_ && !closed_)
    direct_ok_ = true;
}

void tcp_connection::revoke_direct() {
  std::lock_guard<std::mutex> guard{mtx_};
  direct_ok_ = false;
}

void tcp_connection::flush_pending() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    flush_posted_ = false;
    direct_ok_ = false;
    for (auto& b : pending_)
      wq_.push_back(std::move(b));
    pending_.clear();
  }
  if (closed_ || lingering_) {
    drop_queue();
    return;
  }
  if (!write_wait_)
    do_write();
}

void tcp_connection::do_write() {
  while (!wq_.empty()) {
    iov_.clear();
    size_t off = wq_offset_;
    for (auto& b : wq_) {
      iov_.emplace_back(b.data() + off, b.size() - off);
      off = 0;
      if (iov_.size() == max_iov)
        break;
    }
    error_code ec;
    auto n = sock_.write_some(iov_, ec); // one writev of what is queued
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      write_wait_ = true;
      sock_.async_wait(asio::ip::tcp::socket::wait_write,
                       [self = shared_from_this()](const error_code& ec) {
                         self->write_wait_ = false;
                         if (self->closed_ || ec == asio::error::operation_aborted)
                           return;
                         if (ec) {
                           self->fail(ec);
                           return;
                         }
                         self->do_write();
                       });
      return;
    }
    if (ec == asio::error::interrupted)
      continue;
    if (ec) {
      fail(ec);
      return;
    }
    // Consume what the kernel took.
    touch();
    consumed(n);
    while (n > 0) {
      auto left = wq_.front().size() - wq_offset_;
      if (n >= left) {
        n -= left;
        wq_.pop_front();
        wq_offset_ = 0;
      } else {
        wq_offset_ += n;
        n = 0;
      }
    }
  }
  if (closing_ && !lingering_)
    shutdown_output();
  else
    release_output();
}

void tcp_connection::shutdown_output() {
  if (closed_ || lingering_)
    return;
  revoke_direct();
  if (peer_eof_) {
    // The peer sent its FIN and we read up to it: nothing left to wait for.
    // close() sends what the kernel still holds for the peer, then our FIN.
    if (csa_)
      caf::anon_send(csa_, io_closed_atom::value, shutdown_reason::closed);
    close_socket();
    return;
  }
  error_code ec;
  sock_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  lingering_ = true;
  idle_timer_.cancel();
  if (csa_)
    caf::anon_send(csa_, io_closed_atom::value, shutdown_reason::closed);
  release_actors();
  if (ec) {
    close_socket();
    return;
  }
  read_paused_ = false; // lingering discards input, whatever is queued
  linger_timer_.expires_after(linger_);
  linger_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec)
      self->close_socket();
  });
  wait_readable();
}

void tcp_connection::fail(const error_code& ec) {
  if (closed_)
    return;
  if (csa_)
    caf::anon_send(csa_, io_closed_atom::value, classify(ec));
  close_socket();
}

void tcp_connection::close_socket() {
  if (closed_)
    return;
  closed_ = true;
  input_done_ = true;
  revoke_direct(); // before the descriptor can be closed and reused
  error_code ec;
  linger_timer_.cancel();
  idle_timer_.cancel();
  deadline_timer_.cancel();
  sock_.close(ec);
  drop_queue();
  release_gate();
  release_actors();
}

void tcp_connection::release_actors() {
  // Breaks the CSA <-> connection reference cycle.
  csa_ = nullptr;
  reader_ = nullptr;
}

} // namespace kam::runtime::io::detail
