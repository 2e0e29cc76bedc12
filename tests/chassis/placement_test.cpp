// Where the chassis puts connection handlers: on the socket's I/O thread
// (listen_options::actors_on_io_threads) or on CAF's scheduler.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/component.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/tcp_client.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;

namespace {

/// What the factory and the handlers saw. Thread safe.
struct placement_log {
  struct handler_info {
    std::thread::id factory_thread;         ///< where the factory made it
    const actor_thread* home = nullptr;     ///< home_of(handler) then
    const actor_thread* csa_home = nullptr; ///< home_of(its CSA), seen by it
    bool csa_seen = false;
    std::vector<std::thread::id> threads; ///< one per behavior init / message
  };

  void made(caf::actor_id id, const actor_thread* home) {
    std::lock_guard<std::mutex> guard{mtx};
    auto& h = by_handler[id];
    h.factory_thread = std::this_thread::get_id();
    h.home = home;
  }

  void ran(caf::actor_id id) {
    std::lock_guard<std::mutex> guard{mtx};
    by_handler[id].threads.push_back(std::this_thread::get_id());
  }

  void csa(caf::actor_id id, const actor_thread* home) {
    std::lock_guard<std::mutex> guard{mtx};
    by_handler[id].csa_home = home;
    by_handler[id].csa_seen = true;
  }

  std::map<caf::actor_id, handler_info> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return by_handler;
  }

  std::mutex mtx;
  std::map<caf::actor_id, handler_info> by_handler;
};

/// Echo that notes the thread of its initialization and of every message,
/// and the home of its CSA (its outbox's target, wired by the chassis).
/// Control messages take component's default (finish and end).
caf::behavior thread_echo(component* self, std::shared_ptr<placement_log> log) {
  log->ran(self->id());
  return {
    [=](inbox_atom, bytes& data) {
      log->ran(self->id());
      log->csa(self->id(), home_of(self->target(outbox).first).get());
      self->send_on(outbox, std::move(data));
    },
  };
}

chassis::protocol_factory thread_echo_factory(std::shared_ptr<placement_log> log) {
  return [log](caf::actor_system& sys) {
    auto h = sys.spawn(thread_echo, log);
    log->made(h.id(), home_of(h).get());
    return h;
  };
}

chassis::server_options placement_options(size_t threads, bool on_io_threads) {
  auto opts = loopback_options(threads);
  opts.listen.actors_on_io_threads = on_io_threads;
  return opts;
}

/// Opens `n` connections at once and does `rounds` round trips on each,
/// interleaved across connections. Returns how many round trips came back.
int echo_many(uint16_t port, size_t n, int rounds) {
  std::vector<tcp_client> clients;
  for (size_t i = 0; i < n; ++i) {
    clients.emplace_back("127.0.0.1", port);
    if (!clients.back().ok())
      return 0;
  }
  int ok = 0;
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < n; ++i)
      if (round_trip(clients[i],
                     "conn " + std::to_string(i) + " round " + std::to_string(r)))
        ++ok;
  return ok;
}

} // namespace

TEST_SUITE("chassis.placement") {

  TEST_CASE("one I/O thread, actors on it: every handler and every message runs on "
            "that thread") {
    test_system ts;
    auto log = std::make_shared<placement_log>();
    auto srv =
      chassis::simple_server(*ts, thread_echo_factory(log), placement_options(1, true));
    REQUIRE(srv);
    // The coordinator lives on CAF's scheduler, off the I/O threads.
    CHECK(home_of(srv->core()) == nullptr);
    constexpr size_t conns = 8;
    constexpr int rounds = 5;
    CHECK(echo_many(srv->port(), conns, rounds) == int(conns) * rounds);
    // A few more, one after another.
    for (int i = 0; i < 5; ++i) {
      tcp_client c{"127.0.0.1", srv->port()};
      REQUIRE(c.ok());
      CHECK(round_trip(c, "again " + std::to_string(i)));
    }
    auto seen = log->snapshot();
    CHECK(seen.size() == conns + 5);
    std::set<std::thread::id> threads;
    const actor_thread* first_home = seen.begin()->second.home;
    for (auto& [id, h] : seen) {
      INFO("handler " << id);
      CHECK(h.home != nullptr);
      CHECK(h.home == first_home); // one I/O thread: one home
      CHECK(h.csa_seen);
      CHECK(h.csa_home == h.home); // next to its socket
      threads.insert(h.factory_thread);
      for (auto t : h.threads)
        threads.insert(t);
      CHECK(h.threads.size() >= 2); // its init and at least one message
    }
    // Factory (on the thread's chassis shard) and all handlers' messages:
    // one thread, the I/O thread, which is not ours.
    CHECK(threads.size() == 1);
    CHECK(threads.count(std::this_thread::get_id()) == 0);
  }

  TEST_CASE("two I/O threads, actors on them, many connections: each handler stays on "
            "its home's thread") {
    test_system ts;
    auto log = std::make_shared<placement_log>();
    auto srv =
      chassis::simple_server(*ts, thread_echo_factory(log), placement_options(2, true));
    REQUIRE(srv);
    CHECK(home_of(srv->core()) == nullptr);
    constexpr size_t conns = 60;
    constexpr int rounds = 4;
    CHECK(echo_many(srv->port(), conns, rounds) == int(conns) * rounds);
    auto seen = log->snapshot();
    CHECK(seen.size() == conns);
    std::map<const actor_thread*, std::set<std::thread::id>> threads_of_home;
    std::set<std::thread::id> factory_threads;
    for (auto& [id, h] : seen) {
      INFO("handler " << id);
      REQUIRE(h.home != nullptr);
      REQUIRE(!h.threads.empty());
      CHECK(h.csa_seen);
      CHECK(h.csa_home == h.home); // on its socket's I/O thread
      CHECK(h.threads.size() == size_t{1 + rounds});
      std::set<std::thread::id> own(h.threads.begin(), h.threads.end());
      CHECK(own.size() == 1); // never moves
      threads_of_home[h.home].insert(own.begin(), own.end());
      factory_threads.insert(h.factory_thread);
      // Shared nothing: the shard of the connection's thread made it there.
      CHECK(*own.begin() == h.factory_thread);
    }
    CHECK(factory_threads.size() == threads_of_home.size());
    CHECK(factory_threads.count(std::this_thread::get_id()) == 0);
    CHECK(threads_of_home.size() <= 2);
    std::set<std::thread::id> all;
    for (auto& [home, ts_of] : threads_of_home) {
      CHECK(ts_of.size() == 1); // one home, one thread
      all.insert(ts_of.begin(), ts_of.end());
    }
    CHECK(all.size() == threads_of_home.size()); // distinct homes, distinct threads
    MESSAGE("connections spread over " << threads_of_home.size() << " I/O thread(s)");
  }

  TEST_CASE("actors off (one and two I/O threads): handlers, CSAs and the chassis "
            "have no home, and echo works") {
    for (size_t threads : {size_t{1}, size_t{2}}) {
      CAPTURE(threads);
      test_system ts;
      auto log = std::make_shared<placement_log>();
      auto srv = chassis::simple_server(*ts, thread_echo_factory(log),
                                        placement_options(threads, false));
      REQUIRE(srv);
      CHECK(home_of(srv->core()) == nullptr);
      const size_t conns = threads == 1 ? 8 : 60;
      constexpr int rounds = 4;
      CHECK(echo_many(srv->port(), conns, rounds) == int(conns) * rounds);
      auto seen = log->snapshot();
      CHECK(seen.size() == conns);
      for (auto& [id, h] : seen) {
        INFO("handler " << id);
        CHECK(h.home == nullptr);
        CHECK(h.csa_seen);
        CHECK(h.csa_home == nullptr);
        CHECK(h.threads.size() == size_t{1 + rounds});
      }
    }
  }

  TEST_CASE("actors on I/O threads: a component a handler spawns shares its home "
            "and its thread") {
    test_system ts;
    using kid_atom = caf::atom_constant<caf::atom("kid")>;
    auto log = std::make_shared<placement_log>();
    std::mutex mtx;
    struct family {
      caf::actor_id handler;
      caf::actor_id helper;
      const actor_thread* handler_home;
      const actor_thread* helper_home;
    };
    std::vector<family> families;
    // Each handler spawns (while it starts, on its thread) a helper
    // component that does the echoing for it.
    auto factory = [&mtx, &families, log](caf::actor_system& sys) {
      auto h = sys.spawn([&mtx, &families, log](component* self) -> caf::behavior {
        log->ran(self->id());
        auto helper = self->spawn<caf::linked>([log](component* kid) -> caf::behavior {
          log->ran(kid->id());
          return {
            [=](inbox_atom, bytes& data, caf::actor back) {
              log->ran(kid->id());
              kid->send(back, kid_atom::value, std::move(data));
            },
          };
        });
        // A normal end does not take linked actors along: end it with us.
        self->attach_functor(
          [helper] { caf::anon_send_exit(helper, caf::exit_reason::kill); });
        {
          std::lock_guard<std::mutex> guard{mtx};
          families.push_back(
            family{self->id(), helper.id(), self->home().get(), home_of(helper).get()});
        }
        return {
          [=](inbox_atom, bytes& data) {
            log->ran(self->id());
            self->send(helper, inbox_atom::value, std::move(data),
                       caf::actor_cast<caf::actor>(self));
          },
          [=](kid_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
        };
      });
      log->made(h.id(), home_of(h).get());
      return h;
    };
    auto srv = chassis::simple_server(*ts, factory, placement_options(2, true));
    REQUIRE(srv);
    constexpr size_t conns = 20;
    constexpr int rounds = 3;
    CHECK(echo_many(srv->port(), conns, rounds) == int(conns) * rounds);
    auto seen = log->snapshot();
    std::lock_guard<std::mutex> guard{mtx};
    CHECK(families.size() == conns);
    for (auto& f : families) {
      INFO("handler " << f.handler);
      CHECK(f.handler_home != nullptr);
      CHECK(f.helper_home == f.handler_home);
      std::set<std::thread::id> threads;
      for (auto t : seen[f.handler].threads)
        threads.insert(t);
      for (auto t : seen[f.helper].threads)
        threads.insert(t);
      CHECK(seen[f.helper].threads.size() == size_t{1 + rounds});
      CHECK(threads.size() == 1);
    }
  }

} // TEST_SUITE
