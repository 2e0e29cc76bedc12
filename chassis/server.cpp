#include "chassis/server.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "chassis/server_core.hpp"
#include "runtime/boxes.hpp"
#include "runtime/io/io_broker.hpp"

namespace kam::chassis {

struct server::state {
  std::shared_ptr<runtime::io::io_broker> broker;
  std::shared_ptr<runtime::server_stats> stats;
  caf::actor core;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopped = false;
  bool joined = false;
  std::atomic<bool> draining{false};
  std::vector<std::function<void()>> callbacks;

  void mark_stopped() {
    std::vector<std::function<void()>> fs;
    {
      std::lock_guard<std::mutex> guard{mtx};
      stopped = true;
      draining.store(true, std::memory_order_release);
      fs.swap(callbacks);
    }
    cv.notify_all();
    for (auto& f : fs)
      f();
  }
};

server::server(std::shared_ptr<state> st) : state_(std::move(st)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&&) noexcept = default;

server::~server() {
  if (!state_)
    return;
  shutdown();
  wait();
}

uint16_t server::port() const {
  return state_->broker->port();
}

std::string server::host() const {
  return state_->broker->host();
}

caf::actor server::core() const {
  return state_->core;
}

void server::shutdown() {
  caf::anon_send(state_->core, runtime::control_atom::value, runtime::server_shutdown{});
}

void server::shutdown_now() {
  caf::anon_send(state_->core, runtime::control_atom::value,
                 runtime::shutdown_microprocess{});
}

bool server::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{state_->mtx};
  if (!state_->cv.wait_for(lock, timeout, [this] { return state_->stopped; }))
    return false;
  if (!state_->joined) {
    state_->joined = true;
    lock.unlock();
    state_->broker->join();
  }
  return true;
}

void server::wait() {
  while (!wait_for(std::chrono::hours(1)))
    ; // keep waiting
}

bool server::stopped() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->stopped;
}

bool server::draining() const {
  return state_->draining.load(std::memory_order_acquire);
}

std::vector<double> server::io_thread_busy_seconds() const {
  return state_->broker->busy_seconds();
}

const runtime::server_stats& server::stats() const {
  return *state_->stats;
}

void server::on_stopped(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    if (!state_->stopped) {
      state_->callbacks.push_back(std::move(f));
      return;
    }
  }
  f();
}

caf::expected<server> more_complex_server(caf::actor_system& sys,
                                          connection_factory factory,
                                          server_options opts) {
  if (!factory)
    return caf::make_error(caf::sec::invalid_argument, "no protocol factory given");
  auto st = std::make_shared<server::state>();
  st->stats = std::make_shared<runtime::server_stats>();
  auto broker = runtime::io::io_broker::bind(sys, opts.listen, st->stats);
  if (!broker)
    return std::move(broker.error());
  st->broker = std::move(*broker);
  core_config cfg;
  cfg.factory = std::move(factory);
  cfg.broker = st->broker;
  cfg.stats = st->stats;
  cfg.drain_timeout = opts.drain_timeout;
  std::weak_ptr<server::state> weak = st;
  cfg.on_stopped = [weak] {
    if (auto s = weak.lock())
      s->mark_stopped();
  };
  cfg.on_draining = [weak] {
    if (auto s = weak.lock())
      s->draining.store(true, std::memory_order_release);
  };
  // The coordinator on CAF's scheduler, one shard per I/O thread; starts
  // the broker.
  st->core = spawn_server_core(sys, std::move(cfg));
  return server{std::move(st)};
}

caf::expected<server> simple_server(caf::actor_system& sys, protocol_factory factory,
                                    server_options opts) {
  if (!factory)
    return caf::make_error(caf::sec::invalid_argument, "no protocol factory given");
  return more_complex_server(
    sys,
    [f = std::move(factory)](caf::actor_system& s, const runtime::connection_info&) {
      return f(s);
    },
    std::move(opts));
}

} // namespace kam::chassis
