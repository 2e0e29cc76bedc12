// runtime/node.hpp in one process: node addresses, and three actor systems
// (each with CAF's middleman) federating one backplane over loopback BASP.
#include <doctest/doctest.h>

#include <memory>
#include <thread>

#include <caf/all.hpp>

#include "runtime/backplane.hpp"
#include "runtime/harness.hpp"
#include "runtime/ipc.hpp"
#include "runtime/node.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace std::chrono_literals;

namespace {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds t = 8000ms) {
  auto deadline = std::chrono::steady_clock::now() + t;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// "m00".."m49": three bytes each.
std::string label(int i) {
  return std::string{i < 10 ? "m0" : "m"} + std::to_string(i);
}

/// One node: an actor system with the middleman, a backplane T, its node.
struct member {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor bp;
  node n;
  std::vector<std::string> events;
  std::mutex mtx;

  member(const std::string& cookie, std::vector<std::string> join) {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    use_node(cfg, cookie);
    sys = std::make_unique<caf::actor_system>(cfg);
    auto b = backplane(*sys, "T");
    REQUIRE(b);
    bp = *b;
    node_options o;
    o.join = std::move(join);
    o.on_event = [this](const std::string& line) {
      std::lock_guard<std::mutex> g{mtx};
      events.push_back(line);
    };
    auto x = start_node(*sys, o);
    REQUIRE(x);
    n = *x;
    federate(n, bp);
  }

  ~member() {
    caf::anon_send_exit(bp, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(n.actor, caf::exit_reason::user_shutdown);
  }

  size_t peers() { return node_peers(*sys, n).size(); }
};

} // namespace

TEST_SUITE("runtime.node") {
  TEST_CASE("node addresses: HOST:PORT and [V6]:PORT, anything else is an error") {
    std::string h;
    uint16_t p = 0;
    std::string why;
    CHECK(parse_node_address("127.0.0.1:4001", h, p, why));
    CHECK(h == "127.0.0.1");
    CHECK(p == 4001);
    CHECK(parse_node_address("[::1]:9", h, p, why));
    CHECK(h == "::1");
    CHECK(p == 9);
    CHECK(node_address("::1", 9) == "[::1]:9");
    CHECK(node_address("10.0.0.1", 1) == "10.0.0.1:1");
    for (auto bad : {"", "host", ":1", "h:", "h:0", "h:65536", "h:12a", "::1:5", "[::1]5",
                     "[::1]:", "h:123456"}) {
      CHECK_MESSAGE(!parse_node_address(bad, h, p, why), bad);
      CHECK(!why.empty());
    }
  }

  TEST_CASE("three systems: a publication reaches the other two once, in order, and "
            "is never sent on; another cookie is refused") {
    member a{"t", {}};
    member b{"t", {a.n.address}};
    member c{"t", {a.n.address}};
    REQUIRE(
      eventually([&] { return a.peers() == 2 && b.peers() == 2 && c.peers() == 2; }));
    CHECK(a.n.stats->peers == 2);
    auto sb = subscribe_to(*b.sys, "T");
    auto sc = subscribe_to(*c.sys, "T");
    REQUIRE(sb);
    REQUIRE(sc);
    harness hb{*b.sys, *sb};
    harness hc{*c.sys, *sc};
    auto pub = publish_to(*a.sys, "T");
    REQUIRE(pub);
    harness hp{*a.sys, *pub};
    for (int i = 0; i < 50; ++i)
      hp.send_text(inbox, label(i));
    for (int i = 0; i < 50; ++i) {
      CHECK(hb.read_text(outbox, 3) == label(i));
      CHECK(hc.read_text(outbox, 3) == label(i));
    }
    // One hop: b and c got each once from a and sent nothing on.
    CHECK(eventually([&] { return a.n.stats->sent == 100; }));
    CHECK(b.n.stats->received == 50);
    CHECK(c.n.stats->received == 50);
    CHECK(b.n.stats->sent == 0);
    CHECK(c.n.stats->sent == 0);
    CHECK(b.n.stats->gaps == 0);
    std::this_thread::sleep_for(200ms);
    CHECK(hb.silent(outbox)); // nothing twice
    CHECK(hc.silent(outbox));
    // Another cookie: never a peer, while it dials a.
    member x{"other", {a.n.address}};
    CHECK(eventually([&] {
      std::lock_guard<std::mutex> g{x.mtx};
      return !x.events.empty();
    }));
    std::this_thread::sleep_for(500ms);
    CHECK(x.peers() == 0);
    CHECK(a.peers() == 2);
    std::lock_guard<std::mutex> g{x.mtx};
    CHECK(x.events.front() == "peer " + a.n.address + " retrying");
  }
}
