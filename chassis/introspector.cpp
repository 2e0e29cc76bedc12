#include "chassis/introspector.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include <caf/all.hpp>

#include "runtime/introspect.hpp"

namespace kam::chassis {

using namespace runtime;

namespace {

using clock = std::chrono::steady_clock;

/// One collection in flight; shared by every response handler of it.
struct walk : std::enable_shared_from_this<walk> {
  caf::event_based_actor* self;
  clock::time_point deadline;
  std::function<void(component_graph&)> done;
  size_t max_connections;
  component_graph g;
  /// actor id -> index in g.components
  std::unordered_map<caf::actor_id, size_t> seen;
  size_t pending = 0;
  bool finished = false;

  /// What is left of the time, at least 1 ms (so every request ends).
  std::chrono::milliseconds left() const {
    auto d =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return std::max(d, std::chrono::milliseconds{1});
  }

  bool out_of_time() const { return clock::now() >= deadline; }

  void settle() {
    if (--pending == 0)
      finish();
  }

  void finish() {
    if (finished)
      return;
    finished = true;
    // Boxes named only by the links pointing at a component are its too.
    auto add = [](std::vector<std::string>& v, const std::string& b) {
      if (std::find(v.begin(), v.end(), b) == v.end())
        v.push_back(b);
    };
    for (auto& l : g.links) {
      if (auto i = seen.find(l.to); i != seen.end())
        add(l.passthrough && l.to == l.from ? g.components[i->second].outboxes
                                            : g.components[i->second].inboxes,
            l.to_box);
      if (auto i = seen.find(l.from); i != seen.end())
        add(l.passthrough ? g.components[i->second].inboxes
                          : g.components[i->second].outboxes,
            l.from_box);
    }
    done(g);
  }

  /// Adds `who` (once) and asks it to describe itself.
  void visit(const caf::actor& who, bool in_conn, uint64_t conn, std::string kind) {
    if (!who || seen.count(who.id()) != 0)
      return;
    component_graph::component c;
    c.id = who.id();
    c.kind = std::move(kind);
    c.in_connection = in_conn;
    c.connection = conn;
    seen.emplace(c.id, g.components.size());
    g.components.push_back(std::move(c));
    if (out_of_time()) {
      g.complete = false;
      return;
    }
    ++pending;
    auto self_ptr = shared_from_this();
    auto id = who.id();
    self->request(who, left(), introspect_atom::value)
      .then(
        [self_ptr, id, in_conn, conn](component_report& r) {
          self_ptr->on_report(id, in_conn, conn, r);
          self_ptr->settle();
        },
        [self_ptr, id](caf::error& err) {
          auto& c = self_ptr->g.components[self_ptr->seen[id]];
          if (c.kind.empty())
            c.kind = "actor";
          if (err == caf::sec::request_timeout)
            self_ptr->g.complete = false;
          self_ptr->settle();
        });
  }

  void on_report(caf::actor_id id, bool in_conn, uint64_t conn, component_report& r) {
    {
      auto& c = g.components[seen[id]];
      c.name = r.name;
      if (c.kind.empty())
        c.kind = r.name.rfind("kam.", 0) == 0 ? r.name.substr(4) : r.name;
      for (auto b : r.inboxes)
        c.inboxes.push_back(to_string(b));
      for (auto b : r.outboxes)
        c.outboxes.push_back(to_string(b));
    } // `c` may move: visit() below grows g.components
    for (auto& l : r.links) {
      if (!l.dest)
        continue;
      g.links.push_back({id, to_string(l.from), l.dest.id(), to_string(l.to), false});
      visit(l.dest, in_conn, conn, {});
    }
    for (auto& l : r.passthrough) {
      auto to = l.dest ? l.dest.id() : id; // empty: to its own outbox
      g.links.push_back({id, to_string(l.from), to, to_string(l.to), true});
      visit(l.dest, in_conn, conn, {});
    }
    for (auto& child : r.children)
      visit(child, in_conn, conn, {});
  }

  void on_connections(std::vector<connection_entry>& conns) {
    for (auto& e : conns) {
      if (g.connections.size() >= max_connections) {
        g.truncated = true;
        break;
      }
      g.connections.push_back({e.id, e.peer_address, e.peer_port, e.csa.id(),
                               e.handler ? e.handler.id() : caf::actor_id{0}});
      visit(e.csa, true, e.id, "csa");
      visit(e.handler, true, e.id, "handler");
    }
  }

  void on_shards(std::vector<caf::actor>& shards) {
    for (auto& s : shards) {
      visit(s, false, 0, "shard");
      if (out_of_time()) {
        g.complete = false;
        continue;
      }
      ++pending;
      auto self_ptr = shared_from_this();
      self->request(s, left(), connections_atom::value)
        .then(
          [self_ptr](std::vector<connection_entry>& conns) {
            self_ptr->on_connections(conns);
            self_ptr->settle();
          },
          [self_ptr](caf::error& err) {
            if (err == caf::sec::request_timeout)
              self_ptr->g.complete = false;
            self_ptr->settle();
          });
    }
  }
};

} // namespace

void introspect(caf::event_based_actor* self, const caf::actor& core,
                std::chrono::milliseconds timeout,
                std::function<void(component_graph&)> done, size_t max_connections) {
  auto w = std::make_shared<walk>();
  w->self = self;
  w->deadline = clock::now() + timeout;
  w->done = std::move(done);
  w->max_connections = max_connections;
  if (!core) {
    w->finish();
    return;
  }
  w->pending = 1; // the coordinator's list; settled after it spawned the rest
  w->visit(core, false, 0, "chassis");
  self->request(core, w->left(), connections_atom::value)
    .then(
      [w](std::vector<caf::actor>& shards) {
        w->on_shards(shards);
        w->settle();
      },
      [w](caf::error&) {
        w->g.complete = false;
        w->settle();
      });
}

} // namespace kam::chassis
