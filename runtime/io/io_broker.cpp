#include "runtime/io/io_broker.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "runtime/actor_thread.hpp"
#include "runtime/boxes.hpp"
#include "runtime/io/connection_gate.hpp"
#include "runtime/io/csa.hpp"
#include "runtime/io/detail/handshake_pacer.hpp"
#include "runtime/io/detail/stream.hpp"
#include "runtime/io/detail/stream_tls.hpp"
#include "runtime/io/proxy/cidr.hpp"
#include "runtime/io/proxy/parser.hpp"
#include "runtime/io/unix_path.hpp"
#include "runtime/log.hpp"

namespace kam::runtime::io {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
/// Listeners and sockets of any family (TCP, Unix): the protocol is a value.
using gproto = asio::generic::stream_protocol;
using acceptor_type = asio::basic_socket_acceptor<gproto>;

namespace {

constexpr auto backoff = std::chrono::milliseconds(100);

struct worker {
  worker(size_t index, size_t handshakes_per_round)
    : index(index), ioc(1), guard(asio::make_work_guard(ioc)), acceptor(ioc), timer(ioc),
      pacer(ioc, handshakes_per_round) {}
  size_t index;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  acceptor_type acceptor;
  asio::steady_timer timer;
  /// Starts this thread's TLS handshakes a few per reactor round, after the
  /// round's socket events (handshake_pacer.hpp); unused if
  /// listen_options::tls_handshakes_per_round is 0.
  detail::handshake_pacer pacer;
  bool backing_off = false;
  bool limited = false; // at max_connections, not waiting to accept
  /// Runs the CSAs (and, through the chassis, the handlers) of this
  /// thread's sockets; null when listen_options::actors_on_io_threads is off.
  std::shared_ptr<actor_thread> home;
  std::thread thread;
  /// listen_options::proxy_protocol: accepted sockets whose PROXY header is
  /// still awaited (no CSA yet). Destroyed before the io_context.
  std::unordered_map<detail::stream*, std::shared_ptr<detail::stream>> pending;
  /// The thread's CPU-time clock, published once it runs (busy_seconds()).
  clockid_t cpu_clock{};
  std::atomic<int> cpu_state{0}; // 0: not started, 1: running, 2: ended
  std::atomic<double> cpu_final{0};
};

/// The address and port of a socket endpoint as connection_info names them:
/// `unix:` plus the path (`@name` for an abstract one, nothing for an
/// unbound client) and port 0 for a Unix socket.
void name_of(const gproto::endpoint& ep, std::string& addr, uint16_t& port) {
  if (ep.data()->sa_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(ep.data());
    auto off = offsetof(sockaddr_un, sun_path);
    size_t n = ep.size() > off ? ep.size() - off : 0;
    std::string path{un->sun_path, n};
    if (!path.empty() && path[0] == '\0')
      path[0] = '@';
    else
      path = path.substr(0, path.find('\0'));
    addr = "unix:" + path;
    port = 0;
    return;
  }
  tcp::endpoint t;
  if (ep.size() > t.capacity()) {
    addr.clear();
    port = 0;
    return;
  }
  std::memcpy(t.data(), ep.data(), ep.size());
  t.resize(ep.size());
  addr = t.address().to_string();
  port = t.port();
}

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

caf::error unix_error(const std::string& what, const std::string& path,
                      const error_code& ec) {
  return caf::make_error(caf::sec::cannot_open_port,
                         what + " unix:" + path + ": " + ec.message());
}

error_code last_error() {
  return error_code(errno, boost::system::system_category());
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
    if (this->opts.proxy_protocol && !this->opts.proxy_from) {
      std::string why;
      if (auto set = proxy::cidr_set::parse("127.0.0.0/8,::1", why))
        this->opts.proxy_from = std::make_shared<const proxy::cidr_set>(std::move(*set));
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
  /// The bound address and port as connection_info names them;
  /// local_is_fixed: not a wildcard (every socket has that local address).
  std::string listen_addr;
  uint16_t listen_port = 0;
  bool local_is_fixed = false;
  /// listen_options::unix_path: the socket file we made (its inode, so we
  /// unlink only ours), until unlink_socket_file().
  bool is_unix = false;
  bool unix_bound = false;
  std::atomic<bool> unix_unlinked{false};
  dev_t unix_dev = 0;
  ino_t unix_ino = 0;

  /// "HOST:PORT" or "unix:PATH", for log lines.
  std::string where() const { return is_unix ? host : host + ":" + std::to_string(port); }

  /// Removes the socket file if it is still the one we bound. Any thread; once.
  void unlink_socket_file() {
    if (!unix_bound || unix_unlinked.exchange(true))
      return;
    struct stat st {};
    if (::lstat(opts.unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == unix_dev && st.st_ino == unix_ino)
      ::unlink(opts.unix_path.c_str());
  }
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
    w.acceptor.async_wait(asio::socket_base::wait_read,
                          [this, &w](const error_code& ec) { on_acceptable(w, ec); });
  }

  /// One line through listen_options::log (rate-limited per `key` when one
  /// is given), or on stderr without a logger.
  void report(log_level level, const char* key, const std::string& what) {
    if (!opts.log) {
      std::cerr << "kam: " << what << std::endl;
      return;
    }
    if (*key != '\0')
      opts.log->limited(key, level, what);
    else
      opts.log->write(level, what);
  }

  void on_acceptable(worker& w, const error_code& ec) {
    if (ec == asio::error::operation_aborted || !w.acceptor.is_open())
      return;
    // A turn of the thread's actor_thread: the shard (idle) takes the
    // accepted connections' new_csa right after this batch of accepts, not
    // through its mailbox (the same-thread hop).
    runtime::turn_scope turn;
    if (ec) {
      report(log_level::error, "", "listener " + where() + " failed: " + ec.message());
      return;
    }
    for (int i = 0; i < opts.accept_batch; ++i) {
      if (gate && !gate->try_reserve()) {
        // At max_connections: clients wait in the backlog; the gate calls
        // resume_accepting() when a socket closes.
        w.limited = true;
        return;
      }
      error_code aec;
      detail::stream::socket_type sock{w.ioc};
      gproto::endpoint peer;
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
          report(log_level::warning, "accept-fd",
                 "accept on " + where() + ": " + aec.message() + "; backing off");
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
        if (opts.log) // a flood of these is possible: rate-limited
          opts.log->limited("accept", log_level::info,
                            "accept on " + where() + ": " + aec.message() + " (skipped)");
        continue;
      }
      report(log_level::error, "", "listener " + where() + " stopped: " + aec.message());
      return;
    }
    // Many pending: give this thread's connections a turn, then go on.
    asio::post(w.ioc, [this, &w] { on_acceptable(w, error_code{}); });
  }

  void on_accepted(worker& w, detail::stream::socket_type sock,
                   const gproto::endpoint& peer) {
    error_code ec;
    connection_info info;
    info.id = next_id.fetch_add(1, std::memory_order_relaxed);
    // The peer's address came with accept(): no getpeername. A listener
    // bound to one address accepts on exactly that address: no getsockname
    // per connection (only for a wildcard bind).
    name_of(peer, info.peer_address, info.peer_port);
    if (local_is_fixed) {
      info.local_address = listen_addr;
      info.local_port = listen_port;
    } else {
      name_of(sock.local_endpoint(ec), info.local_address, info.local_port);
    }
    if (opts.no_delay && !is_unix)
      sock.set_option(tcp::no_delay(true), ec);
    apply_options(sock.native_handle(), opts.connection_options);
    stats->accepted.add(w.index);
    if (opts.proxy_protocol && !is_unix &&
        !(opts.proxy_from && opts.proxy_from->contains(info.peer_address))) {
      // Not a proxy we trust: its header would let it claim any address.
      stats->proxy_header_rejects.fetch_add(1, std::memory_order_relaxed);
      sock.close(ec);
      if (gate)
        gate->release();
      return;
    }
    std::unique_ptr<detail::tls_layer> tls;
    if (opts.tls)
      tls = std::make_unique<detail::tls_layer>(
        *opts.tls, opts.tls_handshake_timeout, stats,
        opts.tls_handshakes_per_round > 0 ? &w.pacer : nullptr);
    auto conn = std::make_shared<detail::stream>(std::move(sock), opts, gate,
                                                 std::move(tls), stats);
    if (!opts.proxy_protocol) {
      hand_over(w, std::move(conn), std::move(info));
      return;
    }
    // The handler is made once the header names the client; until then the
    // stream is ours (w.pending), and its bytes reach nobody.
    auto* s = conn.get();
    w.pending.emplace(s, std::move(conn));
    s->read_proxy_header(opts.proxy_header_timeout, [this, &w, s, info = std::move(info)](
                                                      const proxy::header* h) mutable {
      auto node = w.pending.extract(s);
      if (h == nullptr) {
        stats->proxy_header_rejects.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (node.empty())
        return;
      info.proxy_address = info.peer_address;
      info.proxy_port = info.peer_port;
      if (!h->local) { // LOCAL (a health check), UNKNOWN: the socket's own
        info.peer_address = h->unix_socket ? "unix:" + h->src_address : h->src_address;
        info.peer_port = h->src_port;
      }
      hand_over(w, std::move(node.mapped()), std::move(info));
    });
  }

  /// Spawns the CSA and tells the shard (which makes the handler).
  void hand_over(worker& w, std::shared_ptr<detail::stream> conn, connection_info info) {
    new_csa msg;
    msg.csa = spawn_csa(sys, std::move(conn));
    msg.info = std::move(info);
    caf::anon_send(shards[w.index], socketact_atom::value, std::move(msg));
  }

  /// Closes the sockets whose PROXY header has not come (drain, stop).
  static void abandon_pending(worker& w) {
    auto pending = std::move(w.pending);
    w.pending.clear();
    for (auto& kv : pending)
      kv.second->close_now(shutdown_reason::server_shutdown);
  }

  ~impl() { unlink_socket_file(); }

  /// listen_options::unix_path: one listening socket, polled by every I/O
  /// thread through its own dup() of it (Unix sockets have no SO_REUSEPORT).
  caf::error bind_unix(size_t n) {
    auto& path = opts.unix_path;
    is_unix = true;
    host = "unix:" + path;
    listen_addr = host;
    local_is_fixed = true;
    if (auto why = prepare_unix_path(path); !why.empty())
      return caf::make_error(caf::sec::cannot_open_port, why);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size()); // length checked above
    gproto proto{AF_UNIX, 0};
    gproto::endpoint ep{&sa, offsetof(sockaddr_un, sun_path) + path.size() + 1, 0};
    error_code ec;
    for (size_t i = 0; i < n; ++i) {
      auto w = std::make_unique<worker>(i, size_t(opts.tls_handshakes_per_round));
      if (opts.actors_on_io_threads)
        w->home = std::make_shared<actor_thread>(sys, w->ioc);
      auto& acc = w->acceptor;
      if (i == 0) {
        acc.open(proto, ec);
        if (ec)
          return unix_error("cannot open a socket for", path, ec);
        apply_options(acc.native_handle(), opts.listener_options);
        acc.bind(ep, ec);
        if (ec)
          return unix_error("cannot listen on", path, ec);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
          unix_bound = true; // ours from here: unlinked when we go
          unix_dev = st.st_dev;
          unix_ino = st.st_ino;
        }
        // Before listen(): nobody can connect while it has the umask's mode.
        if (::chmod(path.c_str(), static_cast<mode_t>(opts.unix_mode)) != 0)
          return unix_error("cannot chmod", path, last_error());
        acc.listen(opts.backlog, ec);
        if (ec)
          return unix_error("cannot listen on", path, ec);
      } else {
        int fd = ::fcntl(workers[0]->acceptor.native_handle(), F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
          return unix_error("cannot dup the listener of", path, last_error());
        acc.assign(proto, fd, ec);
        if (ec) {
          ::close(fd);
          return unix_error("cannot poll the listener of", path, ec);
        }
      }
      acc.non_blocking(true, ec);
      workers.push_back(std::move(w));
    }
    return caf::none;
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
  // At 0 a listener would wake, accept nothing and wait again, for ever.
  if (opts.accept_batch < 1)
    return caf::make_error(caf::sec::invalid_argument,
                           "listen_options::accept_batch must be at least 1, not " +
                             std::to_string(opts.accept_batch));
  if (opts.tls_handshakes_per_round < 0)
    return caf::make_error(caf::sec::invalid_argument,
                           "listen_options::tls_handshakes_per_round must not be "
                           "negative, not " +
                             std::to_string(opts.tls_handshakes_per_round));
  auto n = opts.threads != 0 ? opts.threads
                             : std::max<size_t>(1, std::thread::hardware_concurrency());
  auto ptr = std::make_unique<impl>(sys, opts, std::move(stats));
  if (!ptr->opts.unix_path.empty()) {
    if (auto err = ptr->bind_unix(n))
      return err;
    return std::shared_ptr<io_broker>(new io_broker(std::move(ptr)));
  }
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
    auto w = std::make_unique<worker>(i, size_t(ptr->opts.tls_handshakes_per_round));
    if (ptr->opts.actors_on_io_threads)
      w->home = std::make_shared<actor_thread>(sys, w->ioc);
    auto& acc = w->acceptor;
    acc.open(gproto{ep.protocol()}, ec);
    if (ec)
      return bind_error("cannot open a socket for", host, port, ec);
    acc.set_option(asio::socket_base::reuse_address(true), ec);
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
        0)
      return bind_error("cannot set SO_REUSEPORT on", host, port,
                        error_code(errno, boost::system::system_category()));
    apply_options(acc.native_handle(), ptr->opts.listener_options);
    if (i > 0)
      ep.port(ptr->port); // port 0: every listener joins the first one's port
    acc.bind(gproto::endpoint{ep}, ec);
    if (ec)
      return bind_error("cannot bind", host, ep.port(), ec);
    acc.listen(ptr->opts.backlog, ec);
    if (ec)
      return bind_error("cannot listen on", host, ep.port(), ec);
    acc.non_blocking(true, ec);
    if (i == 0) {
      name_of(acc.local_endpoint(ec), ptr->listen_addr, ptr->listen_port);
      ptr->port = ptr->listen_port;
      ptr->host = ptr->listen_addr;
      ptr->local_is_fixed = !ep.address().is_unspecified();
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
    w->thread = std::thread([wp, prefix = impl_->opts.thread_name] {
      // `top -H` and `ps -L` show kam.io.N (15 characters at most).
      auto name = prefix + "." + std::to_string(wp->index);
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
  impl_->unlink_socket_file(); // new clients find no socket; queued ones are taken
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
        gproto::endpoint peer;
        wp->acceptor.accept(sock, peer, ec);
        if (ec) {
          if (ip->gate)
            ip->gate->release();
          break;
        }
        ip->on_accepted(*wp, std::move(sock), peer); // the connection owns the slot
      }
      impl::abandon_pending(*wp); // no header yet: they have reached no handler
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
  impl_->unlink_socket_file();
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
