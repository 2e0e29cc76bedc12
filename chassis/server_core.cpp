#include "chassis/server_core.hpp"

#include <algorithm>
#include <unordered_map>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/component.hpp"
#include "runtime/io/csa.hpp"
#include "runtime/io/io_broker.hpp"
#include "runtime/memory.hpp"

namespace kam::chassis {

using namespace runtime;

namespace {

using drain_deadline_atom = caf::atom_constant<caf::atom("kam_ddl")>;

/// One connection: its CSA and its handler, alive or not.
struct connection {
  caf::actor csa;
  caf::actor handler;
  bool csa_up = true;
  bool handler_up = true;
};

struct core_state {
  core_config cfg;
  std::unordered_map<caf::actor_id, std::shared_ptr<connection>> by_actor;
  size_t live = 0;
  /// Most connections live at once since memory was last given back.
  size_t peak = 0;
  /// Listeners not yet confirmed closed; a `new_csa` may still be on its way.
  size_t listeners_open = 0;
  bool draining = false;
  bool forced = false;
  bool stopped = false;
};

class core_logic {
public:
  core_logic(component* self, core_config cfg) : self_(self) { st_.cfg = std::move(cfg); }

  void on_new_csa(new_csa& m) {
    auto csa = std::move(m.csa);
    caf::actor handler;
    try {
      // The handler (and whatever the factory spawns) lives where its CSA
      // does: on the socket's I/O thread, when the broker runs actors there.
      runtime::actor_thread_scope scope{runtime::home_of(csa)};
      handler = st_.cfg.factory(self_->system(), m.info);
    } catch (const std::exception& e) {
      caf::aout(self_) << "kam: protocol factory threw: " << e.what() << std::endl;
    } catch (...) {
      caf::aout(self_) << "kam: protocol factory threw" << std::endl;
    }
    if (handler && st_.forced) {
      // Arrived after the drain deadline: close it like the rest.
      self_->send_exit(handler, caf::exit_reason::kill);
      handler = nullptr;
    }
    if (!handler) {
      st_.cfg.stats->factory_failures.fetch_add(1, std::memory_order_relaxed);
      self_->send(csa, control_atom::value, shutdown_microprocess{});
      return;
    }
    // Wire everything before the CSA reads a byte (DESIGN.md, step 2).
    link(self_, handler, outbox, csa, inbox);
    link(self_, handler, signal, csa, control);
    link(self_, handler, serversig, caf::actor_cast<caf::actor>(self_), control);
    // The CSA's own links (outbox -> handler inbox, ctrlout -> handler
    // control, signal -> our _socketact) come with `start` (see csa.hpp).
    self_->monitor(handler);
    self_->monitor(csa);
    auto c = std::make_shared<connection>();
    c->csa = csa;
    c->handler = handler;
    st_.by_actor.emplace(csa.id(), c);
    st_.by_actor.emplace(handler.id(), c);
    st_.peak = std::max(st_.peak, ++st_.live);
    st_.cfg.stats->active.fetch_add(1, std::memory_order_relaxed);
    self_->send(csa, start_atom::value, handler);
    if (st_.draining) // accepted just before the listeners closed: drain too
      self_->send(csa, drain_atom::value);
  }

  void on_shutdown_csa(const shutdown_csa& m) {
    if (m.reason == shutdown_reason::slow_consumer)
      st_.cfg.stats->slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
    auto i = st_.by_actor.find(m.csa.id());
    if (i == st_.by_actor.end() || !i->second->handler_up)
      return;
    // The CSA already told its handler (socket_shutdown, or producer_finished
    // when draining) on its ctrlout: one hop instead of two. Nothing to do
    // here until the down messages arrive.
  }

  void on_down(const caf::down_msg& dm) {
    auto i = st_.by_actor.find(dm.source.id());
    if (i == st_.by_actor.end())
      return;
    auto c = i->second;
    st_.by_actor.erase(i);
    if (dm.source == c->csa.address()) {
      c->csa_up = false;
      if (c->handler_up) {
        // Its socket is gone: unwire the handler and stop it.
        unlink(c->handler, outbox);
        unlink(c->handler, signal);
        self_->send(c->handler, control_atom::value, shutdown_microprocess{});
      }
    } else {
      c->handler_up = false;
      if (dm.reason)
        st_.cfg.stats->handler_failures.fetch_add(1, std::memory_order_relaxed);
    }
    if (!c->csa_up && !c->handler_up) {
      --st_.live;
      maybe_release_memory();
      st_.cfg.stats->active.fetch_sub(1, std::memory_order_relaxed);
      st_.cfg.stats->closed.fetch_add(1, std::memory_order_relaxed);
      if (st_.draining && idle())
        stop();
    }
  }

  void begin_drain(bool now) {
    if (!st_.draining) {
      st_.draining = true;
      st_.listeners_open = st_.cfg.broker->threads();
      st_.cfg.broker->close_listeners();
      for (auto& kv : st_.by_actor)
        if (kv.first == kv.second->csa.id() && kv.second->csa_up)
          self_->send(kv.second->csa, drain_atom::value);
      self_->delayed_send(self_, st_.cfg.drain_timeout, drain_deadline_atom::value);
    }
    if (now)
      force();
    else if (idle())
      stop();
  }

  void on_listener_closed() {
    if (st_.listeners_open > 0 && --st_.listeners_open == 0 && st_.draining && idle())
      stop();
  }

  /// glibc's malloc keeps what a wave of connections freed (7-8 KB each) in
  /// its arenas: after 10,000 idle connections closed, kam-serve held 74 MiB
  /// more than before (scripts/soak.sh). Each time at least 1024
  /// connections and half of the peak have ended, give it back (a wave of
  /// 10,000 trims four times, the last with a few hundred left). A few ms
  /// on this thread each time.
  void maybe_release_memory() {
    if (st_.peak - st_.live < 1024 || st_.live > st_.peak / 2)
      return;
    runtime::release_free_memory();
    st_.peak = st_.live;
  }

  /// No connection left and none on its way.
  bool idle() const { return st_.live == 0 && st_.listeners_open == 0; }

  void force() {
    if (st_.stopped)
      return;
    st_.forced = true;
    // A kill cannot be ignored; a CSA's on_exit closes its socket. Entries
    // exist only for actors still up.
    for (auto& kv : st_.by_actor) {
      auto& c = *kv.second;
      bool is_csa = kv.first == c.csa.id();
      if (is_csa || !c.csa_up)
        st_.cfg.stats->forced_closes.fetch_add(1, std::memory_order_relaxed);
      self_->send_exit(is_csa ? c.csa : c.handler, caf::exit_reason::kill);
    }
    if (idle())
      stop();
  }

  void stop() {
    if (st_.stopped)
      return;
    st_.stopped = true;
    st_.cfg.broker->stop();
    self_->send_on(signal, producer_finished{});
    if (st_.cfg.on_stopped)
      st_.cfg.on_stopped();
    self_->quit();
  }

private:
  component* self_;
  core_state st_;
};

caf::behavior server_core(component* self, core_config cfg) {
  auto logic = std::make_shared<core_logic>(self, std::move(cfg));
  self->set_down_handler([logic](caf::down_msg& dm) { logic->on_down(dm); });
  return {
    [logic](socketact_atom, new_csa& m) { logic->on_new_csa(m); },
    [logic](socketact_atom, const shutdown_csa& m) { logic->on_shutdown_csa(m); },
    [logic](socketact_atom, listener_closed_atom) { logic->on_listener_closed(); },
    [logic](control_atom, server_shutdown) { logic->begin_drain(false); },
    [logic](control_atom, shutdown_microprocess) { logic->begin_drain(true); },
    [logic](drain_deadline_atom) { logic->force(); },
  };
}

} // namespace

caf::actor spawn_server_core(caf::actor_system& sys, core_config cfg) {
  return sys.spawn(server_core, std::move(cfg));
}

} // namespace kam::chassis
