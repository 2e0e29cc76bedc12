#include "runtime/io/io_broker.hpp"

#include <atomic>
#include <cerrno>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "runtime/actor_thread.hpp"
#include "runtime/boxes.hpp"
#include "runtime/io/connection_gate.hpp"
#include "runtime/io/csa.hpp"
#include "runtime/io/detail/stream.hpp"
#include "runtime/io/detail/stream_tls.hpp"

namespace kam::runtime::io {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto backoff = std::chrono::milliseconds(100);
constexpr int max_accepts_per_event = 256;

struct worker {
  explicit worker(size_t index)
    : index(index), ioc(1), guard(asio::make_work_guard(ioc)), acceptor(ioc), timer(ioc) {
  }
  size_t index;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  tcp::acceptor acceptor;
  asio::steady_timer timer;
  bool backing_off = false;
  bool limited = false; // at max_connections, not waiting to accept
  /// Runs the CSAs (and, through the chassis, the handlers) of this
  /// thread's sockets; null when listen_options::actors_on_io_threads is off.
  std::shared_ptr<actor_thread> home;
  std::thread thread;
  /// The thread's CPU-time clock, published once it runs (busy_seconds()).
  clockid_t cpu_clock{};
  std::atomic<int> cpu_state{0}; // 0: not started, 1: running, 2: ended
  std::atomic<double> cpu_final{0};
};

double cpu_seconds(clockid_t c) {
  timespec ts{};
  if (::clock_gettime(c, &ts) != 0)
    return -1;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool is_fd_exhaustion(const error_code& ec) {
  auto v = ec.value();
  return ec.category() == boost::system::system_category() &&
         (v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM);
}

bool is_per_connection(const error_code& ec) {
  if (ec.category() != boost::system::system_category())
    return false;
  switch (ec.value()) {
  case ECONNABORTED:
  case EPROTO:
  case EPERM:
  case ETIMEDOUT:
  case EHOSTUNREACH:
  case ENETUNREACH:
  case ENETDOWN:
  case ENONET:
  case EHOSTDOWN:
  case EOPNOTSUPP:
  case ENOPROTOOPT:
  case EINTR:
    return true;
  default:
    return false;
  }
}

caf::error bind_error(const std::string& what, const std::string& host, uint16_t port,
                      const error_code& ec) {
  return caf::make_error(caf::sec::cannot_open_port, what + " " + host + ":" +
                                                       std::to_string(port) + ": " +
                                                       ec.message());
}

void apply_options(int fd, const std::vector<socket_option>& opts) {
  for (auto& o : opts)
    ::setsockopt(fd, o.level, o.name, &o.value, sizeof(o.value));
}

} // namespace

struct io_broker::impl {
  impl(caf::actor_system& sys, listen_options opts, std::shared_ptr<server_stats> stats)
    : sys(sys), opts(std::move(opts)), stats(std::move(stats)) {
    if (this->opts.max_connections != 0) {
      gate = std::make_shared<connection_gate>(this->opts.max_connections);
      gate->on_room([this] { resume_accepting(); });
    }
  }

  caf::actor_system& sys;
  listen_options opts;
  std::shared_ptr<server_stats> stats;
  std::vector<std::unique_ptr<worker>> workers;
  /// The chassis shard of each I/O thread (same index as workers).
  std::vector<caf::actor> shards;
  std::string host;
  uint16_t port = 0;
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> stopped{false};
  /// The bound address (port included); local_is_fixed: not a wildcard.
  asio::ip::tcp::endpoint listen_ep;
  bool local_is_fixed = false;
  /// Open sockets, when max_connections is set (else null).
  std::shared_ptr<connection_gate> gate;

  // A socket closed while at max_connections: every limited listener goes on.
  // Any thread (runs under the gate's lock).
  void resume_accepting() {
    for (auto& w : workers) {
      auto* wp = w.get();
      asio::post(w->ioc, [this, wp] {
        if (!wp->limited)
          return;
        wp->limited = false;
        if (wp->acceptor.is_open())
          on_acceptable(*wp, error_code{});
      });
    }
  }

  void wait_accept(worker& w) {
    w.acceptor.async_wait(tcp::acceptor::wait_read,
                          [this, &w](const error_code& ec) { on_acceptable(w, ec); });
  }

  void on_acceptable(worker& w, const error_code& ec) {
    if (ec == asio::error::operation_aborted || !w.acceptor.is_open())
      return;
    if (ec) {
      std::cerr << "kam: listener " << host << ":" << port << " failed: " << ec.message()
                << std::endl;
      return;
    }
    for (int i = 0; i < max_accepts_per_event; ++i) {
      if (gate && !gate->try_reserve()) {
        // At max_connections: clients wait in the backlog; the gate calls
        // resume_accepting() when a socket closes.
        w.limited = true;
        return;
      }
      error_code aec;
      detail::stream::socket_type sock{w.ioc};
      tcp::endpoint peer;
      w.acceptor.accept(sock, peer, aec);
      if (!aec) {
        w.backing_off = false;
        on_accepted(w, std::move(sock), peer); // the connection owns the slot
        continue;
      }
      if (gate)
        gate->release();
      if (aec == asio::error::would_block || aec == asio::error::try_again) {
        wait_accept(w);
        return;
      }
      if (is_fd_exhaustion(aec)) {
        // Out of descriptors: accepting again at once would spin. Wait for
        // connections to close; clients wait in the backlog meanwhile.
        stats->fd_exhaustion.add(w.index);
        if (!w.backing_off)
          std::cerr << "kam: accept on " << host << ":" << port << ": " << aec.message()
                    << "; backing off" << std::endl;
        w.backing_off = true;
        w.timer.expires_after(backoff);
        w.timer.async_wait([this, &w](const error_code& tec) {
          if (!tec && w.acceptor.is_open())
            on_acceptable(w, error_code{});
        });
        return;
      }
      if (is_per_connection(aec)) {
        stats->accept_errors.add(w.index);
        continue;
      }
      std::cerr << "kam: listener " << host << ":" << port
                << " stopped: " << aec.message() << std::endl;
      return;
    }
    // Many pending: give this thread's connections a turn, then go on.
    asio::post(w.ioc, [this, &w] { on_acceptable(w, error_code{}); });
  }

  void on_accepted(worker& w, detail::stream::socket_type sock,
                   const tcp::endpoint& peer) {
    error_code ec;
    // A listener bound to one address accepts on exactly that address: no
    // getsockname per connection (only for a wildcard bind). The peer's
    // address came with accept(): no getpeername either.
    auto local = local_is_fixed ? listen_ep : sock.local_endpoint(ec);
    if (opts.no_delay)
      sock.set_option(tcp::no_delay(true), ec);
    apply_options(sock.native_handle(), opts.connection_options);
    stats->accepted.add(w.index);
    std::unique_ptr<detail::tls_layer> tls;
    if (opts.tls)
      tls =
        std::make_unique<detail::tls_layer>(*opts.tls, opts.tls_handshake_timeout, stats);
    auto conn = std::make_shared<detail::stream>(std::move(sock), opts, gate,
                                                 std::move(tls), stats);
    new_csa msg;
    msg.csa = spawn_csa(sys, std::move(conn));
    msg.info.id = next_id.fetch_add(1, std::memory_order_relaxed);
    msg.info.peer_address = peer.address().to_string();
    msg.info.peer_port = peer.port();
    msg.info.local_address = local.address().to_string();
    msg.info.local_port = local.port();
    caf::anon_send(shards[w.index], socketact_atom::value, std::move(msg));
  }
};

io_broker::io_broker(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

io_broker::~io_broker() {
  if (impl_->gate) // connections may outlive us
    impl_->gate->on_room(nullptr);
  stop();
  join();
  for (auto& w : impl_->workers)
    if (w->home) // never ran, or ran on a thread we could not join
      w->home->close();
}

caf::expected<std::shared_ptr<io_broker>>
io_broker::bind(caf::actor_system& sys, listen_options opts,
                std::shared_ptr<server_stats> stats) {
  auto n = opts.threads != 0 ? opts.threads
                             : std::max<size_t>(1, std::thread::hardware_concurrency());
  auto ptr = std::make_unique<impl>(sys, opts, std::move(stats));
  auto& host = ptr->opts.host;
  auto port = ptr->opts.port;
  // Resolve the host (a literal, or a name such as "localhost").
  error_code ec;
  tcp::endpoint ep;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, port);
  } else {
    asio::io_context tmp;
    tcp::resolver res{tmp};
    auto results =
      res.resolve(host, std::to_string(port),
                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty())
      return bind_error("cannot resolve", host, port, ec);
    ep = results.begin()->endpoint();
  }
  if (port != 0) {
    // SO_REUSEPORT would let us silently share a port another process
    // (same user) listens on; a plain bind first tells "port in use".
    asio::io_context tmp;
    tcp::acceptor probe{tmp};
    probe.open(ep.protocol(), ec);
    if (!ec)
      probe.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      probe.bind(ep, ec);
    if (ec)
      return bind_error("cannot bind", host, port, ec);
  }
  for (size_t i = 0; i < n; ++i) {
    auto w = std::make_unique<worker>(i);
    if (ptr->opts.actors_on_io_threads)
      w->home = std::make_shared<actor_thread>(sys, w->ioc);
    auto& acc = w->acceptor;
    acc.open(ep.protocol(), ec);
    if (ec)
      return bind_error("cannot open a socket for", host, port, ec);
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
        0)
      return bind_error("cannot set SO_REUSEPORT on", host, port,
                        error_code(errno, boost::system::system_category()));
    apply_options(acc.native_handle(), ptr->opts.listener_options);
    if (i > 0)
      ep.port(ptr->port); // port 0: every listener joins the first one's port
    acc.bind(ep, ec);
    if (ec)
      return bind_error("cannot bind", host, ep.port(), ec);
    acc.listen(ptr->opts.backlog, ec);
    if (ec)
      return bind_error("cannot listen on", host, ep.port(), ec);
    acc.non_blocking(true, ec);
    if (i == 0) {
      auto local = acc.local_endpoint(ec);
      ptr->port = local.port();
      ptr->host = local.address().to_string();
      ptr->listen_ep = local;
      ptr->local_is_fixed = !local.address().is_unspecified();
    }
    ptr->workers.push_back(std::move(w));
  }
  return std::shared_ptr<io_broker>(new io_broker(std::move(ptr)));
}

void io_broker::run(std::vector<caf::actor> shards) {
  if (shards.size() != impl_->workers.size())
    throw std::invalid_argument("io_broker::run: one shard per I/O thread");
  impl_->shards = std::move(shards);
  for (auto& w : impl_->workers) {
    impl_->wait_accept(*w);
    auto* wp = w.get();
    w->thread = std::thread([wp] {
      // `top -H` and `ps -L` show kam.io.N (15 characters at most).
      auto name = "kam.io." + std::to_string(wp->index);
      ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
      set_this_thread_shard(wp->index); // the stream counts into cell k
      if (::pthread_getcpuclockid(::pthread_self(), &wp->cpu_clock) == 0)
        wp->cpu_state.store(1, std::memory_order_release);
      {
        actor_thread_scope scope{wp->home}; // the CSAs spawned here live here
        wp->ioc.run();
      }
      if (wp->home)
        wp->home->close();
      if (wp->cpu_state.load(std::memory_order_relaxed) == 1) {
        wp->cpu_final.store(cpu_seconds(wp->cpu_clock), std::memory_order_relaxed);
        wp->cpu_state.store(2, std::memory_order_release);
      }
    });
  }
}

std::vector<double> io_broker::busy_seconds() const {
  std::vector<double> out;
  for (auto& w : impl_->workers) {
    double v = 0;
    if (w->cpu_state.load(std::memory_order_acquire) == 1) {
      v = cpu_seconds(w->cpu_clock);
      // The thread may have ended meanwhile (its clock is then gone).
      if (v < 0 || w->cpu_state.load(std::memory_order_acquire) == 2)
        v = w->cpu_final.load(std::memory_order_relaxed);
    } else if (w->cpu_state.load(std::memory_order_acquire) == 2) {
      v = w->cpu_final.load(std::memory_order_relaxed);
    }
    out.push_back(std::max(v, 0.0));
  }
  return out;
}

uint16_t io_broker::port() const {
  return impl_->port;
}

std::string io_broker::host() const {
  return impl_->host;
}

size_t io_broker::threads() const {
  return impl_->workers.size();
}

std::shared_ptr<actor_thread> io_broker::home(size_t i) const {
  return impl_->workers.at(i)->home;
}

void io_broker::close_listeners() {
  for (auto& w : impl_->workers) {
    auto* wp = w.get();
    auto* ip = impl_.get();
    asio::post(w->ioc, [wp, ip] {
      // Connections the kernel already completed (connect() returned in the
      // client) were accepted from the client's view: take them, so they
      // are drained like the rest, then close the listener.
      error_code ec;
      // Past max_connections the rest stay in the backlog and are refused.
      while (wp->acceptor.is_open()) {
        if (ip->gate && !ip->gate->try_reserve())
          break;
        detail::stream::socket_type sock{wp->ioc};
        tcp::endpoint peer;
        wp->acceptor.accept(sock, peer, ec);
        if (ec) {
          if (ip->gate)
            ip->gate->release();
          break;
        }
        ip->on_accepted(*wp, std::move(sock), peer); // the connection owns the slot
      }
      wp->timer.cancel();
      wp->acceptor.close(ec);
      caf::anon_send(ip->shards[wp->index], socketact_atom::value,
                     listener_closed_atom::value);
    });
  }
}

void io_broker::stop() {
  if (impl_->stopped.exchange(true))
    return;
  for (auto& w : impl_->workers) {
    auto* wp = w.get();
    asio::post(w->ioc, [wp] {
      error_code ec;
      wp->timer.cancel();
      wp->acceptor.close(ec);
      wp->guard.reset();
      wp->ioc.stop();
    });
  }
}

void io_broker::join() {
  for (auto& w : impl_->workers)
    if (w->thread.joinable() && w->thread.get_id() != std::this_thread::get_id())
      w->thread.join();
}

} // namespace kam::runtime::io
