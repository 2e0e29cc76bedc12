// Shared nothing: one chassis shard per I/O thread, a coordinator for the
// whole server. Two I/O threads, real loopback sockets.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fstream>
#include <mutex>
#include <pthread.h>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "chassis/server_core.hpp"
#include "runtime/component.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;
using namespace std::chrono_literals;

namespace {

std::string thread_name() {
  char buf[16] = {};
  pthread_getname_np(pthread_self(), buf, sizeof(buf));
  return buf;
}

/// Names of this process's threads, from /proc/self/task/*/comm.
std::set<std::string> task_names() {
  std::set<std::string> names;
  if (auto* d = opendir("/proc/self/task")) {
    while (auto* e = readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      std::ifstream f{std::string{"/proc/self/task/"} + e->d_name + "/comm"};
      std::string n;
      if (std::getline(f, n))
        names.insert(n);
    }
    closedir(d);
  }
  return names;
}

/// Where factories ran (thread names). Thread safe.
struct where_log {
  std::mutex mtx;
  std::vector<std::string> factory_threads;
  void add(std::string n) {
    std::lock_guard<std::mutex> g{mtx};
    factory_threads.push_back(std::move(n));
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> g{mtx};
    return factory_threads;
  }
};

/// "where" -> the name of the thread it runs on (and of its factory's);
/// "stop" -> server_shutdown on serversig; "slow X" -> X, 100 ms late (a
/// drain waits for it); anything else echoes.
caf::behavior where_echo(component* self, std::string factory_thread) {
  using later_atom = caf::atom_constant<caf::atom("later")>;
  auto pending = std::make_shared<int>(0);
  auto finishing = std::make_shared<bool>(false);
  return {
    [=](inbox_atom, bytes& data) {
      auto text = std::string(as_text(data));
      if (text == "where") {
        self->send_on(outbox, to_bytes(thread_name() + " " + factory_thread));
      } else if (text == "stop") {
        self->send_on(serversig, server_shutdown{});
      } else if (text.rfind("slow ", 0) == 0) {
        ++*pending;
        self->delayed_send(self, 100ms, later_atom::value, to_bytes(text.substr(5)));
      } else {
        self->send_on(outbox, std::move(data));
      }
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

chassis::protocol_factory where_factory(std::shared_ptr<where_log> log) {
  return [log](caf::actor_system& sys) {
    auto n = thread_name();
    log->add(n);
    return sys.spawn(where_echo, n);
  };
}

/// Asks the connection where its handler runs: "THREAD FACTORY_THREAD".
std::string where(tcp_client& c) {
  if (!c.send_all("where"))
    return {};
  return c.recv_some(2000ms);
}

/// Opens clients until at least `per_thread` are on each of kam.io.0 and
/// kam.io.1 (SO_REUSEPORT spreads them by hash), at most `max` in all.
std::vector<tcp_client> on_both_threads(uint16_t port, size_t per_thread, size_t max,
                                        std::vector<std::string>& threads) {
  std::vector<tcp_client> clients;
  size_t on0 = 0, on1 = 0;
  while ((on0 < per_thread || on1 < per_thread) && clients.size() < max) {
    clients.emplace_back("127.0.0.1", port);
    auto w = where(clients.back());
    auto t = w.substr(0, w.find(' '));
    threads.push_back(t);
    on0 += t == "kam.io.0";
    on1 += t == "kam.io.1";
  }
  return clients;
}

uint64_t coordinator_turns(caf::actor_system& sys, const caf::actor& coord) {
  caf::scoped_actor self{sys};
  uint64_t n = ~uint64_t{0};
  self->request(coord, caf::infinite, chassis::turns_atom::value)
    .receive([&](uint64_t x) { n = x; }, [](caf::error&) {});
  return n;
}

} // namespace

TEST_SUITE("chassis.shards") {

  TEST_CASE("the I/O threads are named kam.io.0 and kam.io.1") {
    test_system ts;
    auto srv = chassis::simple_server(*ts, echo_factory(), loopback_options(2));
    REQUIRE(srv);
    // Each thread names itself as it starts.
    CHECK(eventually([] {
      auto names = task_names();
      return names.count("kam.io.0") == 1 && names.count("kam.io.1") == 1;
    }));
  }

  TEST_CASE("each connection's shard runs on the connection's thread, and no "
            "connection sends the coordinator a message") {
    test_system ts;
    auto log = std::make_shared<where_log>();
    auto srv = chassis::simple_server(*ts, where_factory(log), loopback_options(2));
    REQUIRE(srv);
    std::vector<std::string> threads;
    {
      auto clients = on_both_threads(srv->port(), 3, 64, threads);
      for (auto& c : clients) {
        auto w = where(c);
        auto sp = w.find(' ');
        REQUIRE(sp != std::string::npos);
        // The handler runs where its factory ran: the shard of its thread.
        CHECK(w.substr(0, sp) == w.substr(sp + 1));
        CHECK(w.rfind("kam.io.", 0) == 0);
      }
      CHECK(std::set<std::string>(threads.begin(), threads.end()).size() == 2);
      // Half close politely, half reset.
      for (size_t i = 0; i < clients.size(); ++i)
        if (i % 2 == 0)
          clients[i].close();
        else
          clients[i].reset();
      CHECK(eventually([&] { return srv->stats().closed.load() == clients.size(); }));
    }
    // Stats totals across shards.
    CHECK(srv->stats().accepted.load() == threads.size());
    CHECK(srv->stats().active.load() == 0);
    CHECK(coordinator_turns(*ts, srv->core()) == 0);
  }

  TEST_CASE("server_shutdown drains the connections of both shards") {
    test_system ts;
    auto log = std::make_shared<where_log>();
    auto srv = chassis::simple_server(*ts, where_factory(log), loopback_options(2));
    REQUIRE(srv);
    std::vector<std::string> threads;
    auto clients = on_both_threads(srv->port(), 2, 64, threads);
    REQUIRE(std::set<std::string>(threads.begin(), threads.end()).size() == 2);
    for (size_t i = 0; i < clients.size(); ++i)
      REQUIRE(clients[i].send_all("slow late " + std::to_string(i)));
    srv->shutdown(); // the echoes are still 100 ms away
    for (size_t i = 0; i < clients.size(); ++i) {
      bool eof = false;
      CHECK(clients[i].recv_until_eof(eof, 10000ms) == "late " + std::to_string(i));
      CHECK(eof);
    }
    CHECK(srv->wait_for(10000ms));
    CHECK(srv->stats().forced_closes.load() == 0);
    CHECK(srv->stats().closed.load() == clients.size());
  }

  TEST_CASE("serversig from a handler on shard 1 drains the whole server") {
    test_system ts;
    auto log = std::make_shared<where_log>();
    auto srv = chassis::simple_server(*ts, where_factory(log), loopback_options(2));
    REQUIRE(srv);
    std::vector<std::string> threads;
    auto clients = on_both_threads(srv->port(), 1, 64, threads);
    auto one = std::find(threads.begin(), threads.end(), "kam.io.1");
    REQUIRE(one != threads.end());
    REQUIRE(clients[one - threads.begin()].send_all("stop"));
    CHECK(srv->wait_for(10000ms));
    for (auto& c : clients)
      CHECK(sees_eof(c, 5000ms)); // every shard's connections drained
    tcp_client late{"127.0.0.1", srv->port()};
    CHECK(!late.ok());
  }

  TEST_CASE("--max-connections holds across both shards") {
    test_system ts;
    auto opts = loopback_options(2);
    opts.listen.max_connections = 3;
    auto srv = chassis::simple_server(*ts, echo_factory(), opts);
    REQUIRE(srv);
    std::vector<tcp_client> clients;
    for (int i = 0; i < 8; ++i) {
      clients.emplace_back("127.0.0.1",
                           srv->port()); // connect() completes in the backlog
      REQUIRE(clients.back().ok());
      REQUIRE(clients.back().send_all("x"));
    }
    CHECK(eventually([&] { return srv->stats().active.load() == 3; }));
    std::this_thread::sleep_for(100ms);
    CHECK(srv->stats().active.load() == 3);
    CHECK(srv->stats().accepted.load() == 3);
    for (auto& c : clients)
      c.close();
    CHECK(eventually([&] { return srv->stats().closed.load() == 8; }, 10000ms));
  }

} // TEST_SUITE
