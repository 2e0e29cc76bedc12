#include "chassis/server_core.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/component.hpp"
#include "runtime/introspect.hpp"
#include "runtime/io/csa.hpp"
#include "runtime/io/io_broker.hpp"
#include "runtime/memory.hpp"

namespace kam::chassis {

using namespace runtime;

namespace {

using drain_deadline_atom = caf::atom_constant<caf::atom("kam_ddl")>;
/// Coordinator -> shard: the drain deadline passed, close what is left.
using force_atom = caf::atom_constant<caf::atom("kam_force")>;

// -- shard ---------------------------------------------------------------------

/// One I/O thread's part of the chassis. Runs on that thread (placement io)
/// or on CAF's scheduler; only its own actor touches it.
class shard {
public:
  shard(component* self, std::shared_ptr<const core_config> cfg, size_t index,
        caf::actor coordinator)
    : self_(self), cfg_(std::move(cfg)), index_(index),
      coordinator_(std::move(coordinator)) {}

  /// Phase 1: serve connections until the coordinator says drain.
  caf::behavior accepting() {
    self_->set_down_handler([this](caf::down_msg& dm) { forget(dm); });
    return {
      [this](socketact_atom, new_csa& m) { wire(m); },
      [this](drain_atom) { enter_draining(); },
      [this](force_atom) { // shutdown_microprocess: drain and force at once
        enter_draining();
        enter_forced();
      },
      [this](connections_atom) { return connections(); },
    };
  }

  /// For the Introspector: every live connection (a lingering CSA whose
  /// handler ended is listed without it).
  std::vector<connection_entry> connections() const {
    std::vector<connection_entry> out;
    out.reserve(csas_.size());
    for (auto& kv : csas_) {
      auto& c = kv.second;
      caf::actor h = handlers_.count(c.handler.id()) != 0 ? c.handler : caf::actor{};
      out.push_back(connection_entry{c.id, c.peer, c.port, c.csa, std::move(h)});
    }
    return out;
  }

private:
  /// Phase 2: every CSA drains; a connection the listener accepted just
  /// before it closed drains too. Ends when nothing is left.
  void enter_draining() {
    for (auto& kv : csas_)
      self_->send(kv.second.csa, drain_atom::value);
    self_->set_down_handler([this](caf::down_msg& dm) {
      forget(dm);
      end_if_idle();
    });
    self_->become(draining());
  }

  caf::behavior draining() {
    return {
      [this](socketact_atom, new_csa& m) {
        if (auto csa = wire(m))
          self_->send(csa, drain_atom::value);
      },
      [this](socketact_atom, listener_closed_atom) {
        listener_closed_ = true;
        end_if_idle();
      },
      [](drain_atom) {},
      [this](force_atom) { enter_forced(); },
      [this](connections_atom) { return connections(); },
    };
  }

  /// Phase 3: past the drain deadline, what is left is killed (a kill cannot
  /// be ignored; a CSA's on_exit closes its socket), and a late connection
  /// is closed unserved.
  void enter_forced() {
    for (auto& kv : csas_) {
      cfg_->stats->forced_closes.add(index_);
      self_->send_exit(kv.second.csa, caf::exit_reason::kill);
    }
    for (auto& kv : handlers_) {
      if (csas_.count(kv.second.csa.id()) == 0) // its CSA already gone
        cfg_->stats->forced_closes.add(index_);
      self_->send_exit(kv.second.handler, caf::exit_reason::kill);
    }
    self_->become(forced());
    end_if_idle(); // the down messages of the killed ones are on their way
  }

  caf::behavior forced() {
    return {
      [this](socketact_atom, new_csa& m) {
        cfg_->stats->forced_closes.add(index_);
        self_->send(m.csa, control_atom::value, shutdown_microprocess{});
      },
      [this](socketact_atom, listener_closed_atom) {
        listener_closed_ = true;
        end_if_idle();
      },
      [](drain_atom) {},
      [](force_atom) {},
      [this](connections_atom) { return connections(); },
    };
  }

  /// Makes the handler and wires it to the CSA; returns the CSA, or null
  /// when the factory failed (the CSA is then told to close).
  caf::actor wire(new_csa& m) {
    auto csa = std::move(m.csa);
    caf::actor handler;
    try {
      // The handler (and whatever the factory spawns) lives where its CSA
      // does; with placement io that is this shard's thread already.
      runtime::actor_thread_scope scope{runtime::home_of(csa)};
      handler = cfg_->factory(self_->system(), m.info);
    } catch (const std::exception& e) {
      caf::aout(self_) << "kam: protocol factory threw: " << e.what() << std::endl;
    } catch (...) {
      caf::aout(self_) << "kam: protocol factory threw" << std::endl;
    }
    if (!handler) {
      cfg_->stats->factory_failures.add(index_);
      self_->send(csa, control_atom::value, shutdown_microprocess{});
      return nullptr;
    }
    // Wire everything before the CSA reads a byte (DESIGN.md, step 2).
    link(self_, handler, outbox, csa, inbox);
    link(self_, handler, signal, csa, control);
    link(self_, handler, serversig, coordinator_, control);
    self_->monitor(handler);
    self_->monitor(csa);
    csas_.emplace(csa.id(), conn{csa, handler, m.info.id, std::move(m.info.peer_address),
                                 m.info.peer_port});
    handlers_.emplace(handler.id(), pair{csa, handler});
    peak_ = std::max(peak_, live_actors());
    cfg_->stats->active.add(index_);
    // Sent without a sender: the CSA links its outbox and ctrlout to the
    // handler and leaves `signal` unlinked, so its `shutdown_csa` (which
    // told a chassis nothing the down message does not) costs no message.
    caf::anon_send(csa, start_atom::value, handler);
    return csa;
  }

  /// A CSA or a handler ended; the connection is gone once both have.
  void forget(const caf::down_msg& dm) {
    auto id = dm.source.id();
    if (auto i = csas_.find(id); i != csas_.end()) {
      auto handler = std::move(i->second.handler);
      csas_.erase(i);
      if (handlers_.count(handler.id()) == 0)
        return closed();
      // Its socket is gone (the CSA told it socket_shutdown, or a failed CSA
      // failed it through their CAF link): a handler still up stops now.
      self_->send(handler, control_atom::value, shutdown_microprocess{});
      return;
    }
    if (auto i = handlers_.find(id); i != handlers_.end()) {
      auto csa_id = i->second.csa.id();
      handlers_.erase(i);
      if (dm.reason)
        cfg_->stats->handler_failures.add(index_);
      if (csas_.count(csa_id) == 0)
        closed();
    }
  }

  void closed() {
    cfg_->stats->active.sub(index_);
    cfg_->stats->closed.add(index_);
    maybe_release_memory();
  }

  size_t live_actors() const { return csas_.size() + handlers_.size(); }

  /// Draining, the listener confirmed closed (no `new_csa` on its way) and
  /// no connection left: the shard's work is done. Its end is its report.
  void end_if_idle() {
    if (listener_closed_ && live_actors() == 0)
      self_->quit();
  }

  /// glibc's malloc keeps what a wave of connections freed (7-8 KB each) in
  /// its arenas: after 10,000 idle connections closed, kam-serve held 74 MiB
  /// more than before (scripts/soak.sh). Each time at least 1024 of this
  /// shard's connections (2048 actors) and half of its peak have ended, give
  /// it back. A few ms on this thread each time.
  void maybe_release_memory() {
    auto live = live_actors();
    if (peak_ - live < 2048 || live > peak_ / 2)
      return;
    runtime::release_free_memory();
    peak_ = live;
  }

  /// One connection, looked up by either of its actors.
  struct pair {
    caf::actor csa;
    caf::actor handler;
  };
  /// By its CSA, with what the Introspector shows (moved out of new_csa).
  struct conn : pair {
    conn(caf::actor c, caf::actor h, uint64_t i, std::string p, uint16_t pt)
      : pair{std::move(c), std::move(h)}, id(i), peer(std::move(p)), port(pt) {}
    uint64_t id;
    std::string peer;
    uint16_t port;
  };

  component* self_;
  std::shared_ptr<const core_config> cfg_;
  size_t index_;
  caf::actor coordinator_;
  /// Live CSAs and live handlers, each with its connection: an actor is a
  /// key exactly while it is up, so "up" is membership, not a flag.
  std::unordered_map<caf::actor_id, conn> csas_;
  std::unordered_map<caf::actor_id, pair> handlers_;
  /// Most actors live at once since memory was last given back.
  size_t peak_ = 0;
  /// Draining: the I/O thread's listener has closed, so its last `new_csa`
  /// is in our mailbox (the broker sends `listener_closed` after it).
  bool listener_closed_ = false;
};

caf::behavior shard_actor(component* self, std::shared_ptr<const core_config> cfg,
                          size_t index, caf::actor coordinator) {
  auto s = std::make_shared<shard>(self, std::move(cfg), index, std::move(coordinator));
  self->attach_functor([s] {}); // keeps the shard alive as long as its actor
  return s->accepting();
}

// -- coordinator -----------------------------------------------------------------

/// What acts on the whole server: shutdown, drain deadline, stop. Off the
/// hot path: it hears from a shard only when that shard ends.
class coordinator {
public:
  coordinator(component* self, std::shared_ptr<const core_config> cfg)
    : self_(self), cfg_(std::move(cfg)) {}

  /// Phase 1: serving. The first message is `(start_atom, shards)` from
  /// spawn_server_core (before anything else can reach us).
  caf::behavior accepting() {
    self_->set_down_handler([this](caf::down_msg& dm) {
      ++turns_;
      if (shard_ended(dm))
        caf::aout(self_) << "kam: a chassis shard ended while accepting" << std::endl;
    });
    return {
      [this](control_atom, server_shutdown) {
        ++turns_;
        enter_draining(false);
      },
      [this](control_atom, shutdown_microprocess) {
        ++turns_;
        enter_draining(true);
      },
      [this](connections_atom) { return shards_; },
      [this](start_atom, std::vector<caf::actor>& shards) {
        shards_ = std::move(shards);
        for (auto& s : shards_)
          self_->monitor(s);
      },
      [this](turns_atom) { return turns_++; },
    };
  }

private:
  /// Phase 2: every shard drains (told before the listeners close, so a
  /// shard hears `drain` before its `listener_closed`); at the deadline what
  /// is left is forced; when the last shard has ended, stop.
  void enter_draining(bool now) {
    if (cfg_->on_draining)
      cfg_->on_draining();
    for (auto& s : shards_)
      if (now)
        self_->send(s, force_atom::value);
      else
        self_->send(s, drain_atom::value);
    cfg_->broker->close_listeners();
    self_->delayed_send(self_, cfg_->drain_timeout, drain_deadline_atom::value);
    self_->set_down_handler([this](caf::down_msg& dm) {
      ++turns_;
      shard_ended(dm);
      if (shards_.empty())
        stop();
    });
    self_->become(draining());
    if (shards_.empty()) // every shard had already ended
      stop();
  }

  caf::behavior draining() {
    return {
      [this](control_atom, server_shutdown) { ++turns_; },
      [this](control_atom, shutdown_microprocess) {
        ++turns_;
        force();
      },
      [this](drain_deadline_atom) {
        ++turns_;
        force();
      },
      [this](connections_atom) { return shards_; },
      [this](turns_atom) { return turns_++; },
    };
  }

  void force() {
    for (auto& s : shards_)
      self_->send(s, force_atom::value);
  }

  /// Forgets the shard that ended; returns whether it was one.
  bool shard_ended(const caf::down_msg& dm) {
    auto i = std::find_if(shards_.begin(), shards_.end(),
                          [&](const caf::actor& s) { return s.address() == dm.source; });
    if (i == shards_.end())
      return false;
    shards_.erase(i);
    return true;
  }

  /// Phase 3: everything closed. Stop the I/O threads, report, end.
  void stop() {
    cfg_->broker->stop();
    self_->send_on(signal, producer_finished{});
    if (cfg_->on_stopped)
      cfg_->on_stopped();
    self_->quit();
  }

  component* self_;
  std::shared_ptr<const core_config> cfg_;
  /// Shards still up.
  std::vector<caf::actor> shards_;
  /// Messages handled (see turns_atom).
  uint64_t turns_ = 0;
};

caf::behavior coordinator_actor(component* self, std::shared_ptr<const core_config> cfg) {
  auto c = std::make_shared<coordinator>(self, std::move(cfg));
  self->attach_functor([c] {});
  return c->accepting();
}

} // namespace

caf::actor spawn_server_core(caf::actor_system& sys, core_config cfg) {
  auto shared = std::make_shared<const core_config>(std::move(cfg));
  caf::actor coord;
  {
    runtime::actor_thread_scope scope{nullptr}; // CAF's scheduler
    coord = sys.spawn(coordinator_actor, shared);
  }
  std::vector<caf::actor> shards;
  for (size_t i = 0; i < shared->broker->threads(); ++i) {
    // Homed on I/O thread i (null with placement scheduler: CAF's workers).
    runtime::actor_thread_scope scope{shared->broker->home(i)};
    shards.push_back(sys.spawn(shard_actor, shared, i, coord));
  }
  caf::anon_send(coord, start_atom::value, shards);
  shared->broker->run(std::move(shards));
  return coord;
}

} // namespace kam::chassis
