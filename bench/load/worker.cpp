#include "worker.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kam::bench {

namespace {

constexpr size_t read_buffer_size = 64 * 1024;
constexpr size_t pattern_period = 251; // prime: never aligns with payload sizes
constexpr uint64_t ms = 1000000;
constexpr uint64_t sweep_interval = 20 * ms;
constexpr int idle_connects_in_flight = 128; // per thread, keeps SYN queues short

/// The byte stream every connection sends: byte k is pattern()[(seed + k) % 251],
/// so any contiguous range up to `max_chunk` bytes is one pointer into it.
const char* pattern(size_t max_chunk) {
  static const std::vector<char> p = [max_chunk] {
    std::vector<char> v(pattern_period + max_chunk);
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<char>((i % pattern_period) * 7 + 1);
    return v;
  }();
  return p.data();
}

} // namespace

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

struct worker::slot {
  enum class state { idle, connecting, handshaking, active, established, backoff };
  int fd = -1;
  ssl_st* ssl = nullptr; ///< --tls: the session on fd
  state st = state::idle;
  uint32_t seed = 0;
  uint64_t op_start = 0; ///< conn: cycle start (open loop: the scheduled time)
  uint64_t deadline = 0; ///< times out if still waiting on the server after this
  uint64_t retry_at = 0;
  uint64_t sent = 0, target = 0, received = 0; ///< stream offsets
  uint64_t queued = 0, completed = 0;          ///< echo: messages
  std::vector<uint64_t> stamps;                ///< echo: queue time per in-flight message
};

worker::worker(const load_options& opts, int index, run_clock& clock, thread_stats& stats,
               const tls_client* tls)
  : opts_(opts), index_(index), clock_(clock), stats_(stats), tls_(tls),
    rbuf_(read_buffer_size), src_counter_(static_cast<uint32_t>(index) * 61u) {
  auto share = [&](uint64_t total) {
    auto t = static_cast<uint64_t>(opts.threads);
    auto i = static_cast<uint64_t>(index);
    return total / t + (i < total % t ? 1 : 0);
  };
  auto total = opts.mode == load_mode::conn ? opts.concurrency : opts.connections;
  auto n = share(static_cast<uint64_t>(total));
  for (uint64_t i = 0; i < n; ++i) {
    auto s = std::make_unique<slot>();
    auto id = i * static_cast<uint64_t>(opts.threads) + static_cast<uint64_t>(index);
    s->seed = static_cast<uint32_t>((id * 97) % pattern_period);
    if (opts.mode == load_mode::echo)
      s->stamps.resize(static_cast<size_t>(opts.pipeline));
    slots_.push_back(std::move(s));
  }
  if (opts.count > 0)
    quota_ = share(opts.count);
  if (opts.rate > 0) {
    interval_ = static_cast<uint64_t>(1e9 * opts.threads / opts.rate);
    // Stagger threads so their starts interleave instead of coinciding.
    next_start_ = clock.start_ns + interval_ * static_cast<uint64_t>(index) /
                                     static_cast<uint64_t>(opts.threads);
    for (auto& s : slots_)
      free_.push_back(s.get());
  }
  pattern(std::max(opts.payload, read_buffer_size));
  ep_ = epoll_create1(EPOLL_CLOEXEC);
}

worker::~worker() {
  for (auto& s : slots_)
    close_slot(*s);
  if (ep_ >= 0)
    ::close(ep_);
}

bool worker::measuring(uint64_t now) const {
  return now >= clock_.measure_ns && now < clock_.end_ns;
}

bool worker::quota_reached() const {
  return quota_ > 0 && done_ops_ >= quota_;
}

void worker::run() {
  std::vector<epoll_event> events(512);
  uint64_t last_sweep = now_ns();
  uint64_t now = last_sweep;
  if (opts_.mode == load_mode::echo || (opts_.mode == load_mode::conn && interval_ == 0))
    for (auto& s : slots_)
      start_connect(*s, now);
  for (;;) {
    now = now_ns();
    if (clock_.stop.load(std::memory_order_relaxed) || quota_reached() ||
        (opts_.mode != load_mode::idle && now >= clock_.end_ns))
      break;
    if (interval_ > 0)
      start_open_loop(now);
    if (opts_.mode == load_mode::idle) {
      while (idle_inflight_ < idle_connects_in_flight && idle_next_ < slots_.size()) {
        ++idle_inflight_;
        start_connect(*slots_[idle_next_++], now);
      }
    }
    auto wait = static_cast<int64_t>(sweep_interval);
    if (interval_ > 0)
      wait =
        std::min(wait, static_cast<int64_t>(next_start_) - static_cast<int64_t>(now));
    if (opts_.mode != load_mode::idle)
      wait = std::min(wait, static_cast<int64_t>(clock_.end_ns - now));
    timespec ts{0, wait > 0 ? static_cast<long>(wait) : 0};
    // wait <= sweep_interval, so tv_nsec stays below one second.
    int n =
      epoll_pwait2(ep_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
    if (n < 0 && errno == ENOSYS) // kernel < 5.11: millisecond timeouts, rounded up
      n = epoll_wait(
        ep_, events.data(), static_cast<int>(events.size()),
        wait > 0 ? static_cast<int>((static_cast<uint64_t>(wait) + ms - 1) / ms) : 0);
    for (int i = 0; i < n; ++i)
      on_event(*static_cast<slot*>(events[static_cast<size_t>(i)].data.ptr),
               events[static_cast<size_t>(i)].events, now_ns());
    now = now_ns();
    if (now - last_sweep >= sweep_interval) {
      sweep(now);
      last_sweep = now;
    }
  }
  done_ns_ = std::min(now, clock_.end_ns);
  for (auto& s : slots_)
    close_slot(*s);
}

void worker::close_slot(slot& s) {
  tls_close(s.ssl); // close_notify first, if the handshake got that far
  s.ssl = nullptr;
  if (s.fd >= 0)
    ::close(s.fd);
  s.fd = -1;
}

void worker::start_open_loop(uint64_t now) {
  while (next_start_ <= now && next_start_ < clock_.end_ns) {
    if (free_.empty()) {
      // More in flight than --concurrency allows: the client can't keep the
      // schedule. Count it; never silently slip the schedule.
      if (measuring(next_start_))
        thread_stats::bump(stats_.errors[static_cast<size_t>(error_kind::dropped)]);
    } else {
      auto* s = free_.back();
      free_.pop_back();
      if (measuring(next_start_))
        thread_stats::bump(stats_.started);
      start_connect(*s, next_start_);
    }
    next_start_ += interval_;
  }
}

void worker::start_connect(slot& s, uint64_t op_start) {
  auto now = now_ns();
  s.op_start = op_start;
  s.deadline = now + static_cast<uint64_t>(opts_.timeout * 1e9);
  s.sent = s.target = s.received = s.queued = s.completed = 0;
  s.st = slot::state::connecting;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(s, classify_errno(errno), now);
  s.fd = fd;
  int one = 1;
  if (opts_.rotate_source) {
    // Spread TIME_WAIT over 253 source addresses; the port is chosen at
    // connect() (IP_BIND_ADDRESS_NO_PORT), so bind() doesn't reserve one.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | (2u + src_counter_++ % 253u));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0)
      return fail(s, classify_errno(errno), now);
  }
  // TLS writes several small records per connection (Finished, then the
  // payload, close_notify): without NODELAY Nagle holds the second behind
  // the server's delayed ACK.
  if (opts_.mode == load_mode::echo || tls_ != nullptr)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(opts_.port);
  inet_pton(AF_INET, opts_.host.c_str(), &dst.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0 &&
      errno != EINPROGRESS)
    return fail(s, classify_errno(errno), now);
  // Edge-triggered, registered once: no epoll_ctl(MOD) per state change.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &s;
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return fail(s, classify_errno(errno), now);
}

void worker::on_event(slot& s, uint32_t events, uint64_t now) {
  if (s.fd < 0)
    return;
  if (s.st == slot::state::connecting) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      return fail(s, classify_errno(err != 0 ? err : ECONNREFUSED), now);
    }
    if (!(events & EPOLLOUT))
      return;
    if (tls_ != nullptr) {
      s.ssl = tls_->make(s.fd);
      if (s.ssl == nullptr)
        return fail(s, error_kind::tls, now);
      s.st = slot::state::handshaking;
      // The ServerHello is a round trip away: nothing to read yet.
      handshake(s, now);
      return;
    }
    if (on_connected(s, now) == step::closed)
      return;
  } else if (s.st == slot::state::handshaking) {
    // Every edge (readable or writable) may move the handshake on.
    if (handshake(s, now) == step::closed || s.st == slot::state::handshaking)
      return;
  } else if ((events & EPOLLOUT) && s.sent < s.target) {
    if (write_pending(s) == step::closed)
      return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    read_available(s, now);
}

worker::step worker::handshake(slot& s, uint64_t now) {
  auto r = tls_handshake(s.ssl);
  if (r.status == tls_status::again)
    return step::keep;
  if (r.status != tls_status::ok) {
    fail(s, r.error, now);
    return step::closed;
  }
  return on_connected(s, now);
}

worker::step worker::on_connected(slot& s, uint64_t now) {
  s.st = slot::state::active;
  s.deadline = now + static_cast<uint64_t>(opts_.timeout * 1e9);
  if (opts_.mode == load_mode::echo) {
    for (int i = 0; i < opts_.pipeline; ++i) {
      s.stamps[s.queued++ % s.stamps.size()] = now;
      s.target += opts_.payload;
    }
  } else if (opts_.mode == load_mode::idle && opts_.payload == 0) {
    s.st = slot::state::established;
    --idle_inflight_;
    thread_stats::bump(stats_.established);
    return step::keep;
  } else {
    s.target = opts_.payload;
  }
  return write_pending(s);
}

worker::step worker::write_pending(slot& s) {
  const char* p = pattern(0);
  auto max_chunk = std::max(opts_.payload, read_buffer_size);
  while (s.sent < s.target) {
    auto n = std::min<uint64_t>(s.target - s.sent, max_chunk);
    const char* from = p + (s.seed + s.sent) % pattern_period;
    if (s.ssl != nullptr) {
      auto r = tls_write(s.ssl, from, n);
      if (r.status == tls_status::again)
        return step::keep; // retried with the same pointer, n only grows
      if (r.status != tls_status::ok) {
        fail(s, r.error, now_ns());
        return step::closed;
      }
      s.sent += r.n;
      continue;
    }
    auto w = ::write(s.fd, from, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        return step::keep; // the edge-triggered EPOLLOUT resumes us
      fail(s, classify_errno(errno), now_ns());
      return step::closed;
    }
    s.sent += static_cast<uint64_t>(w);
  }
  return step::keep;
}

worker::step worker::read_available(slot& s, uint64_t now) {
  const char* p = pattern(0);
  // TLS: a read returns one record at most, and OpenSSL may hold more it
  // read ahead, so read until it would block (edge-triggered: the next
  // edge comes only for new bytes).
  for (int round = 0; s.ssl != nullptr || round < 16; ++round) {
    ssize_t n = 0;
    if (s.ssl != nullptr) {
      auto r = tls_read(s.ssl, rbuf_.data(), rbuf_.size());
      if (r.status == tls_status::again)
        return step::keep;
      if (r.status == tls_status::failed) {
        fail(s, r.error, now);
        return step::closed;
      }
      n = static_cast<ssize_t>(r.n); // closed: 0, as an EOF
    } else {
      n = ::read(s.fd, rbuf_.data(), rbuf_.size());
    }
    if (n == 0) {
      // The server closed while we expected (or could still expect) bytes.
      fail(s, error_kind::short_read, now);
      return step::closed;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        return step::keep;
      fail(s, classify_errno(errno), now);
      return step::closed;
    }
    auto got = static_cast<uint64_t>(n);
    if (s.received + got > s.sent ||
        std::memcmp(rbuf_.data(), p + (s.seed + s.received) % pattern_period, got) != 0) {
      fail(s, error_kind::mismatch, now);
      return step::closed;
    }
    s.received += got;
    s.deadline = now + static_cast<uint64_t>(opts_.timeout * 1e9);
    if (on_message(s, now) == step::closed)
      return step::closed;
    if (got < rbuf_.size() && s.ssl == nullptr)
      return step::keep; // short read: drained until the next edge
  }
  return step::keep;
}

worker::step worker::on_message(slot& s, uint64_t now) {
  switch (opts_.mode) {
  case load_mode::chat: // run by run_chat(), never by a worker
  case load_mode::conn:
    if (s.received == opts_.payload) {
      finish(s, now);
      return step::closed;
    }
    return step::keep;
  case load_mode::idle:
    if (s.received == opts_.payload && s.st == slot::state::active) {
      s.st = slot::state::established;
      --idle_inflight_;
      thread_stats::bump(stats_.established);
      if (measuring(now))
        stats_.latency.add(now - s.op_start);
    }
    return step::keep;
  case load_mode::echo:
    break;
  }
  bool more = now < clock_.end_ns && !clock_.stop.load(std::memory_order_relaxed);
  while (s.received >= (s.completed + 1) * opts_.payload) {
    auto t0 = s.stamps[s.completed++ % s.stamps.size()];
    if (measuring(now) && !quota_reached()) {
      stats_.latency.add(now - t0);
      thread_stats::bump(stats_.ops);
      thread_stats::bump(stats_.bytes, opts_.payload);
      ++done_ops_;
    }
    if (more && !quota_reached()) {
      s.stamps[s.queued++ % s.stamps.size()] = now;
      s.target += opts_.payload;
    }
  }
  return write_pending(s);
}

void worker::finish(slot& s, uint64_t now) {
  if (measuring(now) && !quota_reached()) {
    stats_.latency.add(now - s.op_start);
    thread_stats::bump(stats_.ops);
    thread_stats::bump(stats_.bytes, opts_.payload);
    ++done_ops_;
  }
  close_slot(s); // we close first: TIME_WAIT lands on our rotating source addresses
  s.st = slot::state::idle;
  if (interval_ > 0)
    free_.push_back(&s);
  else if (now < clock_.end_ns && !quota_reached())
    start_connect(s, now);
}

void worker::fail(slot& s, error_kind kind, uint64_t now) {
  if (measuring(now) || opts_.mode == load_mode::idle)
    thread_stats::bump(stats_.errors[static_cast<size_t>(kind)]);
  else
    thread_stats::bump(stats_.warmup_errors);
  close_slot(s);
  if (opts_.mode == load_mode::idle) {
    if (s.st == slot::state::established)
      stats_.established.fetch_sub(1, std::memory_order_relaxed);
    else
      --idle_inflight_;
  }
  if (interval_ > 0) {
    s.st = slot::state::idle;
    free_.push_back(&s);
    return;
  }
  // Back off a little so a dead server doesn't turn into a busy loop.
  s.st = slot::state::backoff;
  s.retry_at = now + (opts_.mode == load_mode::conn ? 1 : 10) * ms;
}

void worker::sweep(uint64_t now) {
  for (auto& sp : slots_) {
    auto& s = *sp;
    bool waiting = s.st == slot::state::connecting || s.st == slot::state::handshaking ||
                   (s.st == slot::state::active && s.received < s.target);
    if (waiting && now > s.deadline) {
      fail(s, error_kind::timeout, now);
    } else if (s.st == slot::state::backoff && now >= s.retry_at) {
      if (opts_.mode == load_mode::idle) {
        if (idle_inflight_ >= idle_connects_in_flight)
          continue;
        ++idle_inflight_;
      }
      start_connect(s, now);
    }
  }
}

} // namespace kam::bench
