#include "runtime/backplane.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/component.hpp"

namespace kam::runtime {

namespace {

/// A thread hub to itself: its round's publications go out now.
using flush_atom = caf::atom_constant<caf::atom("kam_bpfls")>;
/// `(bp_ack_atom, n)`: a thread hub to the root: n relayed publications
/// handed out (the root's relay_limit counts what is not).
using bp_ack_atom = caf::atom_constant<caf::atom("kam_bpack")>;
/// `(bp_route_atom, dests, boxes)`: a subscriber to its hub: the inboxes its
/// outbox is linked to now (empty: send through me). `(bp_route_atom)`: the
/// hub's marker back to it; the subscriber answers `(bp_routed_atom)` once
/// it has passed on everything the hub sent it before (see switch_route()).
using bp_route_atom = caf::atom_constant<caf::atom("kam_bprte")>;
using bp_routed_atom = caf::atom_constant<caf::atom("kam_bprtd")>;

// CAF 0.17's registry has no put-if-absent: this makes "look up, then put"
// one step, so two backplanes racing for one name cannot both win. Held
// only for the registry calls, never while an actor runs.
std::mutex registry_mtx;

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 10 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == ' ';
         });
}

caf::error bad_name(const std::string& name) {
  return caf::make_error(caf::sec::invalid_argument,
                         "backplane name '" + name +
                           "' is not 1..10 characters of [A-Za-z0-9_ ]");
}

/// What a root hub shares with the hubs and callers of every thread:
/// counts that decide whether a thread's hub must forward its publications
/// at all. Set by the caller that adds a subscriber or a thread hub *before*
/// it returns, so a publication that happens after sees them.
struct bp_shared {
  std::atomic<int> relays{0};         ///< thread hubs attached to the root
  std::atomic<int> direct{0};         ///< subscribers attached to the root itself
  std::atomic<bool> federated{false}; ///< the root has a node (peers may listen)
  /// Publications the root did not relay to a lagging thread hub.
  std::atomic<uint64_t> relay_dropped{0};
  size_t relay_limit = 65536; ///< set before the root is spawned; then read only
};

/// The hub. The registered one (the root) lives on CAF's scheduler; each
/// I/O thread that has publishers or subscribers gets a hub of its own (a
/// *thread hub*, made on first use, not registered), so fan-out to the
/// connections of that thread never leaves it (the same-thread hop, see
/// actor_thread). A thread hub delivers what its publishers send to its
/// subscribers, then forwards it once to the root, which delivers it to its
/// own subscribers and once to every other thread hub; what a thread hub gets
/// from the root it delivers locally only. One-hop relaying: no loops, no
/// duplicates, and per-publisher order holds (each leg is one sender to one
/// receiver). A class (not only a behavior) so a lookup can tell a backplane
/// from another actor registered under the same atom.
class backplane_actor : public component {
public:
  /// The root.
  backplane_actor(caf::actor_config& cfg, caf::atom_value key, size_t relay_limit)
    : component(cfg), key_(key), shared_(std::make_shared<bp_shared>()) {
    shared_->relay_limit = relay_limit;
    init();
  }

  /// A thread hub of `root` (whose shared counts it gets).
  backplane_actor(caf::actor_config& cfg, caf::atom_value key, caf::actor root,
                  std::shared_ptr<bp_shared> shared)
    : component(cfg), key_(key), root_(std::move(root)), shared_(std::move(shared)) {
    init();
  }

  const char* name() const override { return "kam.backplane"; }

  /// Immutable after construction: any thread may read it.
  const std::shared_ptr<bp_shared>& shared() const { return shared_; }

  caf::behavior make_behavior() override {
    if (root_)
      monitor(root_);
    return {
      [this](bp_sub_atom, const caf::actor& who, caf::actor_id skip) {
        if (!who)
          return;
        // What was published before it subscribed is not its.
        flush();
        monitor(who);
        sub x;
        x.who = who;
        x.skip = skip;
        subs_.push_back(std::move(x));
        report();
      },
      [this](bp_pub_atom, caf::actor_id origin, caf::message& payload) {
        // From a publisher attached here.
        if (!root_) {
          deliver(origin, payload);
          to_relays(origin, payload, nullptr);
          to_node(payload);
          return;
        }
        // A thread hub collects the publications of its thread's round and
        // hands each subscriber one message for all of them (flush_atom).
        if (round_origins_.empty())
          send_self_later(caf::make_message(flush_atom::value));
        round_origins_.push_back(origin);
        round_.xs.push_back(std::move(payload));
      },
      [this](flush_atom) { flush(); },
      [this](bp_route_atom, std::vector<caf::actor>& dests, std::vector<box>& boxes) {
        if (auto* x = sub_of(current_sender()))
          switch_route(*x, std::move(dests), std::move(boxes));
      },
      [this](bp_routed_atom) {
        if (auto* x = sub_of(current_sender()))
          if (x->markers > 0 && --x->markers == 0)
            switched(*x);
      },
      [this](bp_fwd_atom, const std::vector<caf::actor_id>& origins,
             const caf::message& batch) {
        // Root: a thread hub's round, delivered on its thread already.
        deliver_round(origins, batch);
        to_relays(origins, batch, current_sender(), origins.size());
        for (auto& x : batch.get_as<message_batch>(0).xs)
          to_node(x);
      },
      [this](bp_down_atom, const std::vector<caf::actor_id>& origins,
             const caf::message& batch) {
        // Thread hub: another thread's round, from the root; local only.
        deliver_round(origins, batch);
        send(root_, bp_ack_atom::value, origins.size());
      },
      [this](bp_remote_atom, const caf::message& payload) {
        // Root: from this node's federation node, published on a peer node.
        // Local delivery only: never back to the node (one hop between nodes).
        deliver(bp_remote_origin, payload);
        to_relays(bp_remote_origin, payload, nullptr);
      },
      [this](bp_node_atom, const caf::actor& node) {
        // Root: federate through `node` (one node; a second replaces it).
        if (root_ || !node)
          return;
        if (node_)
          demonitor(node_);
        node_ = node;
        monitor(node_);
        shared_->federated.store(true, std::memory_order_release);
        send(node_, bp_node_atom::value, key_, caf::actor_cast<caf::actor>(this));
      },
      [this](bp_down_atom, caf::actor_id origin, const caf::message& payload) {
        // Thread hub: from the root; local delivery only.
        deliver(origin, payload);
        send(root_, bp_ack_atom::value, size_t{1});
      },
      [this](bp_ack_atom, size_t n) {
        // Root: a thread hub has handed out n of what it was relayed.
        for (auto& r : relays_)
          if (r.hub.address() == current_sender())
            r.in_flight -= std::min(n, r.in_flight);
      },
      [this](bp_relay_atom, const caf::actor& hub) {
        monitor(hub);
        relays_.push_back(relay{hub, 0, 0});
      },
      [this](bp_relay_atom, size_t n) {
        for (auto& r : relays_)
          if (r.hub.address() == current_sender())
            r.subs = n;
      },
      [this](bp_count_atom) {
        size_t n = subs_.size();
        for (auto& r : relays_)
          n += r.subs;
        return n;
      },
    };
  }

  void on_exit() override {
    flush(); // nothing published here is lost when the hub ends
    if (!root_) {
      std::lock_guard<std::mutex> guard{registry_mtx};
      auto& reg = home_system().registry();
      if (reg.get(key_) == caf::actor_cast<caf::strong_actor_ptr>(this))
        reg.erase(key_);
    }
    subs_.clear();
    relays_.clear();
    root_ = nullptr;
    node_ = nullptr;
    component::on_exit();
  }

private:
  struct sub {
    caf::actor who;
    caf::actor_id skip;
    /// Where the subscriber's outbox leads (bp_route_atom): the hub sends
    /// there itself, a hop less per round. Empty: through the subscriber.
    std::vector<caf::actor> dests;
    std::vector<box> boxes;
    /// A route change under way: markers not yet answered, the route to
    /// take then, and what is held for it meanwhile (payloads, in order).
    size_t markers = 0;
    std::vector<caf::actor> next_dests;
    std::vector<box> next_boxes;
    std::vector<caf::message> held;
  };

  sub* sub_of(const caf::strong_actor_ptr& who) {
    for (auto& x : subs_)
      if (caf::actor_cast<caf::strong_actor_ptr>(x.who) == who)
        return &x;
    return nullptr;
  }

  /// A subscriber's links changed. What the hub sent through it before may
  /// still be in its mailbox: sending straight to the new route at once
  /// could overtake it. So the hub sends a marker through the subscriber and
  /// holds what is for it until the subscriber answers (by then it has
  /// passed everything before the marker on), then takes the new route.
  void switch_route(sub& s, std::vector<caf::actor> dests, std::vector<box> boxes) {
    s.next_dests = std::move(dests);
    s.next_boxes = std::move(boxes);
    ++s.markers;
    send(s.who, bp_route_atom::value);
  }

  void switched(sub& s) {
    s.dests = std::move(s.next_dests);
    s.boxes = std::move(s.next_boxes);
    auto held = std::exchange(s.held, {});
    for (auto& payload : held)
      send_one(s, payload);
  }

  /// `payload` (a publication or a message_batch of them) to `s`, as its
  /// outbox would send it.
  void send_one(sub& s, const caf::message& payload) {
    if (s.markers > 0) {
      s.held.push_back(payload);
      return;
    }
    if (s.dests.empty()) {
      send(s.who, bp_msg_atom::value, payload);
      return;
    }
    for (size_t i = 0; i < s.dests.size(); ++i)
      send(s.dests[i], caf::make_message(s.boxes[i]) + payload);
  }

  struct relay {
    caf::actor hub;
    size_t subs;      ///< its live subscribers, as it last reported
    size_t in_flight; ///< publications relayed to it, not yet acknowledged
  };

  void init() {
    set_down_handler([this](caf::down_msg& dm) {
      if (root_ && dm.source == root_.address()) {
        quit(caf::make_error(caf::sec::runtime_error, "backplane ended"));
        return;
      }
      if (node_ && dm.source == node_.address()) {
        // The node ended: this backplane serves its own node only again.
        node_ = nullptr;
        shared_->federated.store(false, std::memory_order_release);
        return;
      }
      auto s = std::remove_if(subs_.begin(), subs_.end(),
                              [&](const sub& x) { return x.who == dm.source; });
      if (s != subs_.end()) {
        if (!root_)
          shared_->direct.fetch_sub(static_cast<int>(subs_.end() - s),
                                    std::memory_order_acq_rel);
        subs_.erase(s, subs_.end());
        report();
        return;
      }
      auto r = std::remove_if(relays_.begin(), relays_.end(),
                              [&](const relay& x) { return x.hub == dm.source; });
      if (r != relays_.end()) {
        shared_->relays.fetch_sub(static_cast<int>(relays_.end() - r),
                                  std::memory_order_acq_rel);
        relays_.erase(r, relays_.end());
      }
    });
  }

  /// One message for every subscriber here but the origin's: they share the
  /// payload.
  void deliver(caf::actor_id origin, const caf::message& payload) {
    if (subs_.empty())
      return;
    auto msg = caf::make_message(bp_msg_atom::value, payload);
    for (auto& s : subs_) {
      if (s.skip == origin)
        continue;
      if (s.dests.empty() && s.markers == 0)
        send(s.who, msg); // shared
      else
        send_one(s, payload);
    }
  }

  /// Root: once to every thread hub but `except` (the one it came from),
  /// `n` publications; a hub with relay_limit of them unacknowledged lags
  /// too far behind (its thread is busy or stalled): it misses these (at most
  /// once, counted) rather than its mailbox growing without bound.
  template <class Origin>
  void to_relays(const Origin& origin, const caf::message& payload,
                 const caf::strong_actor_ptr& except, size_t n = 1) {
    for (auto& r : relays_) {
      if (caf::actor_cast<caf::strong_actor_ptr>(r.hub) == except)
        continue;
      if (r.in_flight + n > shared_->relay_limit) {
        shared_->relay_dropped.fetch_add(n, std::memory_order_relaxed);
        continue;
      }
      r.in_flight += n;
      send(r.hub, bp_down_atom::value, origin, payload);
    }
  }

  /// Thread hub: the round so far to its subscribers, and once to the root
  /// if anyone beyond this thread listens.
  void flush() {
    if (round_origins_.empty())
      return;
    auto origins = std::move(round_origins_);
    round_origins_.clear();
    auto batch = caf::make_message(std::move(round_));
    round_.xs.clear();
    deliver_round(origins, batch);
    if (shared_->relays.load(std::memory_order_acquire) > 1 ||
        shared_->direct.load(std::memory_order_acquire) > 0 ||
        shared_->federated.load(std::memory_order_acquire))
      send(root_, bp_fwd_atom::value, std::move(origins), std::move(batch));
  }

  /// A round (`batch` holds a message_batch, publication i from
  /// `origins[i]`) to every subscriber here: one message each, the shared
  /// batch for those whose publications are not in it, a copy without them
  /// for the others, the bare publication when one is left.
  void deliver_round(const std::vector<caf::actor_id>& origins,
                     const caf::message& batch) {
    if (subs_.empty())
      return;
    auto& xs = batch.get_as<message_batch>(0).xs;
    if (xs.size() == 1) {
      deliver(origins.front(), xs.front());
      return;
    }
    auto all = caf::make_message(bp_msg_atom::value, batch);
    caf::message all_inbox; // (inbox, the batch), made for the first direct sub
    for (auto& s : subs_) {
      if (s.skip == 0 ||
          std::find(origins.begin(), origins.end(), s.skip) == origins.end()) {
        if (s.markers > 0 || s.dests.empty() || s.dests.size() > 1 ||
            s.boxes[0] != inbox) {
          if (s.markers == 0 && s.dests.empty())
            send(s.who, all);
          else
            send_one(s, batch);
          continue;
        }
        if (all_inbox.empty())
          all_inbox = caf::make_message(inbox, batch.get_as<message_batch>(0));
        send(s.dests[0], all_inbox);
        continue;
      }
      message_batch mine;
      mine.xs.reserve(xs.size() - 1);
      for (size_t i = 0; i < xs.size(); ++i)
        if (origins[i] != s.skip)
          mine.xs.push_back(xs[i]);
      if (mine.xs.empty())
        continue;
      if (mine.xs.size() == 1)
        send_one(s, mine.xs.front()); // the bare publication
      else if (s.markers == 0 && s.dests.size() == 1)
        send(s.dests[0], s.boxes[0], std::move(mine)); // the usual case: flat, no copy
      else
        send_one(s, caf::make_message(std::move(mine)));
    }
  }

  /// Root: once to the federation node, if any (it sends to every peer).
  void to_node(const caf::message& payload) {
    if (node_)
      send(node_, bp_out_atom::value, key_, payload);
  }

  /// Thread hub: tells the root how many subscribers it has (bp_count).
  void report() {
    if (root_)
      send(root_, bp_relay_atom::value, subs_.size());
  }

  caf::atom_value key_;
  caf::actor root_; // null: this is the root
  caf::actor node_; // root only: the federation node (runtime/node.hpp), or null
  std::shared_ptr<bp_shared> shared_;
  std::vector<sub> subs_;
  std::vector<relay> relays_;
  /// Thread hub: this round's publications (flush() hands them out), and
  /// who published each.
  message_batch round_;
  std::vector<caf::actor_id> round_origins_;
};

/// This thread's hubs (thread hubs of roots), found by system, root and
/// actor_thread. Weak: a hub ends with its root.
struct thread_hub_entry {
  caf::actor_system* sys;
  caf::actor_addr root;
  std::weak_ptr<actor_thread> home;
  caf::actor_addr hub;
};
thread_local std::vector<thread_hub_entry> thread_hubs;

/// The hub a publisher or subscriber made on this thread attaches to: on an
/// actor_thread, that thread's hub of `root` (made on first use and
/// announced to the root before this returns); elsewhere the root.
caf::actor hub_for(caf::actor_system& sys, const caf::actor& root) {
  auto home = current_actor_thread();
  if (!home)
    return root;
  auto* r = static_cast<backplane_actor*>(caf::actor_cast<caf::abstract_actor*>(root));
  thread_hub_entry* slot = nullptr;
  for (auto& e : thread_hubs) {
    if (e.sys == &sys && e.home.lock() == home) {
      if (e.root == root.address())
        if (auto hub = caf::actor_cast<caf::actor>(e.hub))
          return hub;
      if (slot == nullptr)
        slot = &e;
    }
  }
  // Counted before the root hears of it, and before this returns.
  r->shared()->relays.fetch_add(1, std::memory_order_acq_rel);
  auto hub = sys.spawn<backplane_actor>(caf::atom_from_string(""), root, r->shared());
  caf::anon_send(root, bp_relay_atom::value, hub);
  thread_hub_entry e{&sys, root.address(), home, hub.address()};
  if (slot != nullptr)
    *slot = std::move(e);
  else
    thread_hubs.push_back(std::move(e));
  return hub;
}

/// The registered backplane `name`, or an error saying why not.
caf::expected<caf::actor> find_backplane(caf::actor_system& sys,
                                         const std::string& name) {
  if (!valid_name(name))
    return bad_name(name);
  caf::strong_actor_ptr ptr;
  {
    std::lock_guard<std::mutex> guard{registry_mtx};
    ptr = sys.registry().get(caf::atom_from_string(name));
  }
  if (ptr == nullptr || dynamic_cast<backplane_actor*>(ptr->get()) == nullptr)
    return caf::make_error(caf::sec::runtime_error,
                           "no backplane '" + name + "' (not made, or ended)");
  return caf::actor_cast<caf::actor>(ptr);
}

/// Fails a publisher or subscriber when its backplane ends.
void watch(component* self, const caf::actor& bp, const std::string& name) {
  self->monitor(bp);
  self->set_down_handler([self, addr = bp.address(), name](caf::down_msg& dm) {
    if (dm.source == addr)
      self->quit(
        caf::make_error(caf::sec::runtime_error, "backplane '" + name + "' ended"));
  });
}

class publisher_actor : public component {
public:
  publisher_actor(caf::actor_config& cfg, caf::actor bp, std::string name)
    : component(cfg), bp_(std::move(bp)), name_(std::move(name)) {
    // Anything on `inbox` is published; the rest (links, control) is the
    // component's.
    set_default_handler([](caf::scheduled_actor* ptr, caf::message_view& x) {
      auto self = static_cast<publisher_actor*>(ptr);
      if (x.content().size() >= 1 && x.content().match_element<box>(0) &&
          x.content().get_as<box>(0) == inbox) {
        auto msg = x.move_content_to_message();
        self->send(self->bp_, bp_pub_atom::value, self->id(), msg.drop(1));
        return caf::result<caf::message>{caf::message{}};
      }
      return self->on_unmatched(x);
    });
  }

  const char* name() const override { return "kam.publish_to"; }

  caf::behavior make_behavior() override {
    watch(this, bp_, name_);
    // The behavior takes nothing of its own: the default handler publishes.
    return {[](bp_count_atom) {}};
  }

  void on_exit() override {
    bp_ = nullptr;
    component::on_exit();
  }

private:
  caf::actor bp_;
  std::string name_;
};

/// A subscriber. The hub sends what the subscriber's outbox would send
/// straight to the inboxes it is linked to (it tells the hub whenever its
/// links change): a round costs no hop through this actor. Until it has
/// told, and for links that see copies (watch), messages go through it.
class subscriber_actor : public component {
public:
  subscriber_actor(caf::actor_config& cfg, caf::actor bp, std::string name)
    : component(cfg), bp_(std::move(bp)), name_(std::move(name)) {
    // nop
  }

  const char* name() const override { return "kam.subscribe_to"; }

  caf::behavior make_behavior() override {
    watch(this, bp_, name_);
    return {
      [this](bp_msg_atom, const caf::message& payload) {
        send_message_on(outbox, payload);
      },
      [this](bp_route_atom) {
        // Everything the hub sent before this is passed on: it may now send
        // straight to the links (or, if they hold a watch, through here).
        send(bp_, bp_routed_atom::value);
      },
    };
  }

  void on_exit() override {
    bp_ = nullptr;
    component::on_exit();
  }

protected:
  void links_changed(box out) override {
    if (out != outbox || !bp_)
      return;
    bool watched = false;
    auto xs = targets(outbox, watched);
    std::vector<caf::actor> dests;
    std::vector<box> boxes;
    if (!watched)
      for (auto& [dest, in] : xs) {
        dests.push_back(std::move(dest));
        boxes.push_back(in);
      }
    // An outbox with no links: through me again, where messages are dropped.
    send(bp_, bp_route_atom::value, std::move(dests), std::move(boxes));
  }

private:
  caf::actor bp_;
  std::string name_;
};

} // namespace

caf::expected<caf::actor> backplane(caf::actor_system& sys, const std::string& name,
                                    const backplane_options& opts) {
  if (!valid_name(name))
    return bad_name(name);
  if (opts.relay_limit < 1)
    return caf::make_error(caf::sec::invalid_argument,
                           "backplane relay limit must be at least 1");
  auto key = caf::atom_from_string(name);
  std::lock_guard<std::mutex> guard{registry_mtx};
  if (sys.registry().get(key) != nullptr)
    return caf::make_error(caf::sec::invalid_argument,
                           "backplane '" + name + "' exists already");
  auto bp = sys.spawn<backplane_actor>(key, opts.relay_limit);
  sys.registry().put(key, bp);
  return bp;
}

caf::expected<caf::actor> publish_to(caf::actor_system& sys, const std::string& name) {
  auto bp = find_backplane(sys, name);
  if (!bp)
    return bp.error();
  return sys.spawn<publisher_actor>(hub_for(sys, *bp), name);
}

caf::expected<caf::actor> subscribe_to(caf::actor_system& sys, const std::string& name,
                                       caf::actor_id skip_origin) {
  auto bp = find_backplane(sys, name);
  if (!bp)
    return bp.error();
  auto hub = hub_for(sys, *bp);
  if (hub == *bp) // counted before this returns (see bp_shared)
    static_cast<backplane_actor*>(caf::actor_cast<caf::abstract_actor*>(hub))
      ->shared()
      ->direct.fetch_add(1, std::memory_order_acq_rel);
  auto sub = sys.spawn<subscriber_actor>(hub, name);
  caf::anon_send(hub, bp_sub_atom::value, sub, skip_origin);
  return sub;
}

uint64_t backplane_relay_dropped(const caf::actor& bp) {
  if (!bp)
    return 0;
  auto* a = dynamic_cast<backplane_actor*>(caf::actor_cast<caf::abstract_actor*>(bp));
  return a ? a->shared()->relay_dropped.load(std::memory_order_relaxed) : 0;
}

} // namespace kam::runtime
