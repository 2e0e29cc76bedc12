// Connection and server lifecycle through the chassis, over loopback.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <caf/all.hpp>

#include "runtime/component.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;
using namespace std::chrono_literals;

namespace {

/// What handlers saw on control, shared with the test thread.
struct recorder {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> events;

  void add(std::string e) {
    {
      std::lock_guard<std::mutex> g{mtx};
      events.push_back(std::move(e));
    }
    cv.notify_all();
  }

  bool wait_for(const std::string& e, std::chrono::milliseconds t = 5000ms) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, t, [&] {
      return std::find(events.begin(), events.end(), e) != events.end();
    });
  }
};

/// Echo that records its control messages and its end.
caf::behavior recording_echo(component* self, std::shared_ptr<recorder> rec) {
  self->attach_functor([rec] { rec->add("ended"); });
  return {
    [=](inbox_atom, bytes& data) {
      auto text = std::string(as_text(data));
      if (text == "boom")
        throw std::runtime_error("handler asked to fail");
      if (text == "quit") {
        self->quit(); // ends without telling its CSA
        return;
      }
      if (text == "stop") {
        self->send_on(serversig, server_shutdown{});
        return;
      }
      if (text.rfind("talk ", 0) == 0) {
        // Produce a lot, then finish: the client must get all, then EOF.
        auto kib = std::stoi(text.substr(5));
        for (int i = 0; i < kib; ++i)
          self->send_on(outbox, bytes(1024, static_cast<char>('a' + i % 26)));
        self->finish(producer_finished{});
        return;
      }
      self->send_on(outbox, std::move(data));
    },
    [=](control_atom, socket_shutdown x) {
      rec->add(std::string{"socket_shutdown:"} + to_string(x.reason));
      self->finish(producer_finished{});
    },
    [=](control_atom, producer_finished x) {
      rec->add("producer_finished");
      self->finish(x);
    },
    [=](control_atom, shutdown_microprocess x) {
      rec->add("shutdown_microprocess");
      self->finish(x);
    },
  };
}

chassis::protocol_factory recording_factory(std::shared_ptr<recorder> rec) {
  return [rec](caf::actor_system& sys) { return sys.spawn(recording_echo, rec); };
}

/// Echoes each chunk 100 ms late; on producer_finished finishes the late
/// echoes first (so a drain must wait for it).
caf::behavior slow_echo(component* self) {
  auto pending = std::make_shared<int>(0);
  auto finishing = std::make_shared<bool>(false);
  using later_atom = caf::atom_constant<caf::atom("later")>;
  return {
    [=](inbox_atom, bytes& data) {
      ++*pending;
      self->delayed_send(self, 100ms, later_atom::value, std::move(data));
    },
    [=](later_atom, bytes& data) {
      self->send_on(outbox, std::move(data));
      if (--*pending == 0 && *finishing)
        self->finish(producer_finished{});
    },
    [=](control_atom, producer_finished) {
      *finishing = true;
      if (*pending == 0)
        self->finish(producer_finished{});
    },
  };
}

} // namespace

TEST_SUITE("chassis.server.lifecycle") {

  TEST_CASE("peer close: the handler gets socket_shutdown(peer_closed) and ends") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    auto srv = chassis::simple_server(*ts, recording_factory(rec), loopback_options());
    REQUIRE(srv);
    {
      tcp_client c{"127.0.0.1", srv->port()};
      REQUIRE(c.ok());
      CHECK(round_trip(c, "ping"));
    }
    CHECK(rec->wait_for("socket_shutdown:peer_closed"));
    CHECK(rec->wait_for("ended"));
    CHECK(eventually([&] { return srv->stats().closed.load() == 1; }));
  }

  TEST_CASE("half-close: the client still receives everything it sent, then EOF") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    auto data = random_bytes(200000, 3);
    REQUIRE(c.send_all(data));
    c.shutdown_write();
    bool eof = false;
    auto back = c.recv_until_eof(eof, 10000ms);
    CHECK(back == data);
    CHECK(eof);
  }

  TEST_CASE("handler producer_finished: the client receives everything, then EOF") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    auto srv = chassis::simple_server(*ts, recording_factory(rec), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("talk 2048")); // 2 MiB, more than socket buffers hold
    bool eof = false;
    auto back = c.recv_until_eof(eof, 20000ms);
    CHECK(back.size() == 2048u * 1024u);
    CHECK(eof);
    CHECK(back.substr(0, 1024) == std::string(1024, 'a'));
    CHECK(back.substr(back.size() - 1024) ==
          std::string(1024, static_cast<char>('a' + 2047 % 26)));
  }

  TEST_CASE(
    "a handler that ends without closing still gets its output flushed, then EOF") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    auto srv = chassis::simple_server(*ts, recording_factory(rec), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    CHECK(round_trip(c, "before"));
    REQUIRE(c.send_all("quit"));
    CHECK(sees_eof(c, 5000ms));
    CHECK(eventually([&] { return srv->stats().closed.load() == 1; }));
    CHECK(srv->stats().handler_failures.load() == 0);
  }

  TEST_CASE(
    "a throwing handler closes its own connection only; the server keeps serving") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    auto srv = chassis::simple_server(*ts, recording_factory(rec), loopback_options());
    REQUIRE(srv);
    tcp_client other{"127.0.0.1", srv->port()};
    REQUIRE(other.ok());
    CHECK(round_trip(other, "one"));
    tcp_client victim{"127.0.0.1", srv->port()};
    REQUIRE(victim.ok());
    REQUIRE(victim.send_all("boom"));
    CHECK(sees_eof(victim, 5000ms)); // closed (EOF or reset both end the read)
    CHECK(eventually([&] { return srv->stats().handler_failures.load() == 1; }));
    // The untouched connection and new ones still work.
    CHECK(round_trip(other, "two"));
    tcp_client fresh{"127.0.0.1", srv->port()};
    REQUIRE(fresh.ok());
    CHECK(round_trip(fresh, "three"));
  }

  TEST_CASE("a CSA that dies closes its own connection only; its handler ends") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    // On "kill-csa" the handler kills its CSA (the sender of its input).
    auto factory = [rec](caf::actor_system& sys) {
      return sys.spawn([rec](component* self) -> caf::behavior {
        self->attach_functor([rec] { rec->add("ended"); });
        return {
          [=](inbox_atom, bytes& data) {
            if (as_text(data) == "kill-csa")
              self->send_exit(caf::actor_cast<caf::actor>(self->current_sender()),
                              caf::exit_reason::kill);
            else
              self->send_on(outbox, std::move(data));
          },
        };
      });
    };
    auto srv = chassis::simple_server(*ts, factory, loopback_options());
    REQUIRE(srv);
    tcp_client other{"127.0.0.1", srv->port()};
    REQUIRE(other.ok());
    CHECK(round_trip(other, "a"));
    tcp_client victim{"127.0.0.1", srv->port()};
    REQUIRE(victim.ok());
    REQUIRE(victim.send_all("kill-csa"));
    CHECK(sees_eof(victim, 5000ms)); // its socket closed with its CSA
    CHECK(rec->wait_for("ended"));
    CHECK(eventually([&] { return srv->stats().closed.load() == 1; }));
    CHECK(round_trip(other, "b"));
  }

  TEST_CASE("a factory that throws or returns nothing closes that connection only") {
    test_system ts;
    std::atomic<int> calls{0};
    auto factory = [&](caf::actor_system& sys) -> caf::actor {
      auto n = ++calls;
      if (n == 1)
        throw std::runtime_error("factory failure");
      if (n == 2)
        return caf::actor{};
      return sys.spawn(protocols::echo::handler);
    };
    auto srv = chassis::simple_server(*ts, factory, loopback_options());
    REQUIRE(srv);
    for (int i = 0; i < 2; ++i) {
      tcp_client bad{"127.0.0.1", srv->port()};
      REQUIRE(bad.ok());
      CHECK(sees_eof(bad, 5000ms));
    }
    CHECK(srv->stats().factory_failures.load() == 2);
    tcp_client good{"127.0.0.1", srv->port()};
    REQUIRE(good.ok());
    CHECK(round_trip(good, "fine"));
  }

  TEST_CASE("a handler can stop the server through serversig") {
    test_system ts;
    auto rec = std::make_shared<recorder>();
    auto srv = chassis::simple_server(*ts, recording_factory(rec), loopback_options());
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(c.send_all("stop"));
    CHECK(srv->wait_for(10000ms));
    CHECK(rec->wait_for("producer_finished")); // drained like every handler
    tcp_client late{"127.0.0.1", srv->port()};
    CHECK(!late.ok()); // listener closed
  }

  TEST_CASE("server shutdown drains data in flight, then closes each connection") {
    test_system ts;
    auto srv = chassis::simple_server(
      *ts, [](caf::actor_system& sys) { return sys.spawn(slow_echo); },
      loopback_options());
    REQUIRE(srv);
    std::vector<tcp_client> clients;
    std::vector<std::string> sent;
    for (int i = 0; i < 10; ++i) {
      clients.emplace_back("127.0.0.1", srv->port());
      REQUIRE(clients.back().ok());
      sent.push_back(random_bytes(5000, static_cast<uint32_t>(i)));
      REQUIRE(clients.back().send_all(sent.back()));
    }
    REQUIRE(eventually([&] { return srv->stats().active.load() == 10; }));
    srv->shutdown(); // echoes are still 100 ms away
    for (int i = 0; i < 10; ++i) {
      bool eof = false;
      auto back = clients[i].recv_until_eof(eof, 10000ms);
      CHECK(back == sent[i]);
      CHECK(eof);
    }
    CHECK(srv->wait_for(10000ms));
    CHECK(srv->stats().forced_closes.load() == 0);
  }

  TEST_CASE("the drain deadline force-closes what does not finish") {
    test_system ts;
    auto opts = loopback_options();
    opts.drain_timeout = 300ms;
    // A handler that ignores every control message.
    auto stubborn = [](caf::actor_system& sys) {
      return sys.spawn([](component*) -> caf::behavior {
        return {[](control_atom, producer_finished) {}, [](inbox_atom, bytes&) {}};
      });
    };
    auto srv = chassis::simple_server(*ts, stubborn, opts);
    REQUIRE(srv);
    tcp_client c{"127.0.0.1", srv->port()};
    REQUIRE(c.ok());
    REQUIRE(eventually([&] { return srv->stats().active.load() == 1; }));
    auto t0 = std::chrono::steady_clock::now();
    srv->shutdown();
    CHECK(srv->wait_for(10000ms));
    CHECK(std::chrono::steady_clock::now() - t0 < 5s); // by the deadline, loosely
    CHECK(srv->stats().forced_closes.load() == 1);
    CHECK(sees_eof(c, 5000ms));
  }

  TEST_CASE("a port in use is an error naming the address, not silence") {
    test_system ts;
    auto first = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(first);
    auto opts = loopback_options();
    opts.listen.port = first->port();
    auto second = chassis::simple_server(*ts, echo_factory(), opts);
    REQUIRE(!second);
    auto text = ts.sys->render(second.error());
    CHECK(text.find(std::to_string(first->port())) != std::string::npos);
    CHECK(text.find("in use") != std::string::npos);
  }

  TEST_CASE("an accept batch below 1 is an error naming the option, not a listener "
            "that never accepts") {
    test_system ts;
    auto opts = loopback_options();
    opts.listen.accept_batch = 0;
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    REQUIRE(!srv);
    CHECK(ts.sys->render(srv.error()).find("accept_batch") != std::string::npos);
  }

  TEST_CASE("negative TLS handshakes per round is an error naming the option") {
    test_system ts;
    auto opts = loopback_options();
    opts.listen.tls_handshakes_per_round = -1;
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    REQUIRE(!srv);
    CHECK(ts.sys->render(srv.error()).find("tls_handshakes_per_round") !=
          std::string::npos);
  }

  TEST_CASE("an unresolvable host is an error") {
    test_system ts;
    auto opts = loopback_options();
    opts.listen.host = "no-such-host.invalid";
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    CHECK(!srv);
  }

  TEST_CASE("no actor outlives its connection") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options());
    REQUIRE(srv);
    auto baseline = ts.sys->registry().running();
    for (int round = 0; round < 3; ++round) {
      std::vector<tcp_client> clients;
      for (int i = 0; i < 50; ++i) {
        clients.emplace_back("127.0.0.1", srv->port());
        REQUIRE(clients.back().ok());
        REQUIRE(clients.back().send_all("x"));
      }
      for (auto& c : clients)
        CHECK(c.recv_exact(1) == "x");
      CHECK(eventually([&] { return ts.sys->registry().running() == baseline + 100; }));
      // Half close politely, half reset.
      for (size_t i = 0; i < clients.size(); ++i)
        if (i % 2 == 0)
          clients[i].close();
        else
          clients[i].reset();
      CHECK(eventually([&] { return ts.sys->registry().running() == baseline; }));
    }
    // The actors are gone; the chassis counts a connection closed when it
    // has handled both down messages, which may still be in its mailbox.
    CHECK(eventually([&] { return srv->stats().closed.load() == 150; }));
    CHECK(srv->stats().active.load() == 0);
  }

} // TEST_SUITE
