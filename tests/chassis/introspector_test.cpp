// chassis::introspect over a live server: every connection's CSA, handler
// and (for a composite handler) children, with the links between them,
// collected asynchronously while the connections keep working.
#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <set>

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include "chassis/introspector.hpp"
#include "chassis/pipeline.hpp"
#include "runtime/component.hpp"
#include "runtime/introspect.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::test;
using namespace std::chrono_literals;
using graph = chassis::component_graph;

namespace {

/// Runs introspect() from a fresh actor and waits for its graph.
std::optional<graph> collect(caf::actor_system& sys, const caf::actor& core,
                             std::chrono::milliseconds timeout = 2000ms) {
  auto p = std::make_shared<std::promise<graph>>();
  auto f = p->get_future();
  sys.spawn([core, timeout, p](caf::event_based_actor* self) {
    chassis::introspect(self, core, timeout, [self, p](graph& g) {
      p->set_value(g);
      self->quit();
    });
  });
  if (f.wait_for(5000ms) != std::future_status::ready)
    return std::nullopt;
  return f.get();
}

bool has_link(const graph& g, caf::actor_id from, const char* out, caf::actor_id to,
              const char* in, bool passthrough = false) {
  for (auto& l : g.links)
    if (l.from == from && l.from_box == out && l.to == to && l.to_box == in &&
        l.passthrough == passthrough)
      return true;
  return false;
}

} // namespace

TEST_SUITE("chassis.introspector") {
  TEST_CASE("a component describes its boxes and link table on request") {
    test_system ts;
    // (An empty behavior would end the actor at once.)
    auto idle = [](runtime::component*) -> caf::behavior {
      return {[](runtime::inbox_atom, const runtime::bytes&) {}};
    };
    auto a = (*ts).spawn(idle);
    auto b = (*ts).spawn(idle);
    runtime::link(a, runtime::outbox, b, runtime::inbox);
    runtime::link(a, caf::atom("extra"), b, runtime::control);
    caf::scoped_actor self{*ts};
    runtime::component_report r;
    self->request(a, 2s, runtime::introspect_atom::value)
      .receive([&](runtime::component_report& x) { r = std::move(x); },
               [&](caf::error& e) { FAIL("no report: " << (*ts).render(e)); });
    CHECK(r.id == a.id());
    CHECK(r.name == "kam.component");
    REQUIRE(r.links.size() == 2);
    CHECK(r.links[0].from == runtime::outbox);
    CHECK(r.links[0].dest == b);
    CHECK(r.links[0].to == runtime::inbox);
    CHECK(r.links[1].from == caf::atom("extra"));
    CHECK(std::count(r.outboxes.begin(), r.outboxes.end(), caf::atom("extra")) == 1);
    CHECK(std::count(r.inboxes.begin(), r.inboxes.end(), runtime::control) == 1);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  }

  TEST_CASE(
    "the graph of a server lists each connection with CSA, handler, children, links") {
    test_system ts;
    auto srv = chassis::simple_server(
      *ts,
      [](caf::actor_system& sys) {
        using protocols::echo::handler;
        return chassis::pipeline(sys, sys.spawn(handler), sys.spawn(handler));
      },
      loopback_options(2));
    REQUIRE(srv);
    std::vector<tcp_client> clients;
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back("127.0.0.1", srv->port());
      REQUIRE(clients.back().ok());
      REQUIRE(round_trip(clients.back(), "hi"));
    }
    auto g = collect(*ts, srv->core());
    REQUIRE(g);
    CHECK(g->complete);
    CHECK(!g->truncated);
    REQUIRE(g->connections.size() == 3);
    std::map<caf::actor_id, const graph::component*> by_id;
    for (auto& c : g->components)
      by_id[c.id] = &c;
    size_t shards = 0;
    for (auto& c : g->components)
      if (c.kind == "shard")
        ++shards;
    CHECK(shards == 2);
    REQUIRE(by_id.count(srv->core().id()) == 1);
    CHECK(by_id[srv->core().id()]->kind == "chassis");
    std::set<uint64_t> ids;
    for (auto& conn : g->connections) {
      ids.insert(conn.id);
      CHECK(conn.peer_address == "127.0.0.1");
      REQUIRE(by_id.count(conn.csa) == 1);
      REQUIRE(by_id.count(conn.handler) == 1);
      CHECK(by_id[conn.csa]->kind == "csa");
      CHECK(by_id[conn.handler]->kind == "handler");
      CHECK(by_id[conn.handler]->name == "kam.pipeline");
      // The pipeline's two children belong to this connection.
      std::vector<caf::actor_id> children;
      for (auto& c : g->components)
        if (c.in_connection && c.connection == conn.id && c.id != conn.csa &&
            c.id != conn.handler)
          children.push_back(c.id);
      REQUIRE(children.size() == 2);
      // The CSA's links were resolved past the pipeline when it made them:
      // its outbox and ctrlout point at the first child itself, the one the
      // pipeline's (still reported) passthrough route leads to.
      CHECK(!has_link(*g, conn.csa, "outbox", conn.handler, "inbox"));
      CHECK(!has_link(*g, conn.csa, "ctrlout", conn.handler, "control"));
      // Into the first child (a passthrough route), first -> second, second -> CSA.
      size_t into = 0, direct = 0, direct_ctl = 0, chained = 0, out = 0;
      for (auto c : children) {
        bool routed = has_link(*g, conn.handler, "inbox", c, "inbox", true);
        into += routed;
        direct += routed && has_link(*g, conn.csa, "outbox", c, "inbox");
        direct_ctl += routed && has_link(*g, conn.csa, "ctrlout", c, "control");
        out += has_link(*g, c, "outbox", conn.csa, "inbox");
        for (auto d : children)
          chained += has_link(*g, c, "outbox", d, "inbox");
      }
      CHECK(into == 1);
      CHECK(direct == 1);
      CHECK(direct_ctl == 1);
      CHECK(chained == 1);
      CHECK(out == 1);
    }
    CHECK(ids.size() == 3);
    for (auto& c : clients) // nothing was stopped by looking
      CHECK(round_trip(c, "again"));
  }

  TEST_CASE("a server with no connections yields its chassis and shards only") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options(1));
    REQUIRE(srv);
    auto g = collect(*ts, srv->core());
    REQUIRE(g);
    CHECK(g->complete);
    CHECK(g->connections.empty());
    CHECK(g->components.size() == 2); // chassis + one shard
  }
}
