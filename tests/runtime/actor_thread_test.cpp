// Where components run: actor_thread placement (an io_context's thread),
// close(), turn-taking, and kam's scheduler module (install_scheduler).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/component.hpp"
#include "runtime/ipc.hpp"
#include "runtime/scheduler.hpp"
#include "tests/support/test_system.hpp"

using namespace kam::runtime;
using kam::test::test_system;

namespace {

namespace asio = boost::asio;
using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using spawn_atom = caf::atom_constant<caf::atom("spawnkid")>;
using poke_atom = caf::atom_constant<caf::atom("poke")>;
using stop_atom = caf::atom_constant<caf::atom("stopnow")>;

/// Upper bound for every wait in this file.
constexpr ms wait_limit{5000};

// -- bookkeeping ---------------------------------------------------------------

/// One handled message: its value and the thread that handled it.
struct entry {
  int value;
  std::thread::id thread;
};

/// What actors saw, in the order they saw it. Thread safe.
class journal {
public:
  void add(int value) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      xs_.push_back(entry{value, std::this_thread::get_id()});
    }
    cv_.notify_all();
  }

  /// Waits until at least `n` entries are there; false on timeout.
  bool wait_count(size_t n, ms timeout = wait_limit) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout, [&] { return xs_.size() >= n; });
  }

  std::vector<entry> entries() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return xs_;
  }

  size_t size() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return xs_.size();
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<entry> xs_;
};

using journal_ptr = std::shared_ptr<journal>;

/// What a probe component saw.
struct probe_log {
  journal init;                             ///< one entry when its behavior was made
  journal msgs;                             ///< one entry per int on inbox (and per ping)
  std::atomic<actor_thread*> home{nullptr}; ///< self->home() seen from inside
};

using probe_log_ptr = std::shared_ptr<probe_log>;

/// Kills, at the end of a test (also when a REQUIRE threw), every actor it
/// was given: the actor system's destructor waits for all actors.
///
/// It holds them (strong handles) until then, and hands each its last
/// handle to drop itself as it ends, on its own thread. Dropped on this
/// thread, that could often be the last reference, destroying the actor
/// here after a CAF or I/O thread touched it, synchronized only inside
/// (uninstrumented) libcaf, which ThreadSanitizer reports as a race.
class reaper {
public:
  reaper() = default;
  reaper(const reaper&) = delete;
  ~reaper() {
    for (auto& x : xs_) {
      auto* raw = caf::actor_cast<caf::abstract_actor*>(x);
      raw->attach_functor([keep = x] {});
      caf::anon_send_exit(x, caf::exit_reason::kill);
      x = nullptr;
    }
  }
  const caf::actor& operator()(const caf::actor& x) {
    xs_.push_back(x);
    return x;
  }

private:
  std::vector<caf::actor> xs_;
};

/// An I/O thread as io_broker makes one: an io_context run by its own
/// std::thread under a work guard, an actor_thread for it, and close() on
/// that thread once run() returned. Optionally the thread holds back close()
/// until allow_close(), so a test can act between run() returning and close().
class io_thread {
public:
  explicit io_thread(caf::actor_system& sys, size_t max_throughput = 64)
    : guard_(asio::make_work_guard(ioc_)),
      home_(std::make_shared<actor_thread>(sys, ioc_, max_throughput)),
      close_gate_(allow_close_.get_future().share()) {}

  io_thread(const io_thread&) = delete;

  ~io_thread() {
    if (thread_.joinable()) {
      guard_.reset();
      ioc_.stop();
      allow_close();
      thread_.join();
    } else {
      home_->close(); // never ran: close on any thread (as io_broker does)
    }
  }

  /// Starts the thread. `thread_scope`: run the io_context inside
  /// actor_thread_scope{home} for the thread's life, as io_broker does.
  /// `hold_close`: wait for allow_close() between run() and close().
  void start(bool thread_scope = false, bool hold_close = false) {
    if (!hold_close)
      allow_close();
    std::promise<std::thread::id> started;
    auto id = started.get_future();
    thread_ = std::thread([this, thread_scope, p = std::move(started)]() mutable {
      p.set_value(std::this_thread::get_id());
      {
        actor_thread_scope scope{thread_scope ? home_ : nullptr};
        ioc_.run();
      }
      returned_.set_value();
      // Bounded: never blocks the test forever.
      close_gate_.wait_for(wait_limit);
      home_->close();
      closed_.set_value();
    });
    id_ = id.get();
  }

  const std::shared_ptr<actor_thread>& home() const { return home_; }
  asio::io_context& ioc() { return ioc_; }
  std::thread::id id() const { return id_; }

  void allow_close() {
    if (!close_allowed_.exchange(true))
      allow_close_.set_value();
  }

  /// Waits until run() has returned; false on timeout.
  bool wait_returned(ms timeout = wait_limit) {
    return returned_f_.wait_for(timeout) == std::future_status::ready;
  }

  /// Drops the work guard (run() returns once idle), lets close() run and
  /// joins. Returns false if the thread did not finish in time (it is then
  /// stopped hard before joining).
  bool finish(ms timeout = wait_limit) {
    guard_.reset();
    allow_close();
    bool ok = closed_f_.wait_for(timeout) == std::future_status::ready;
    if (!ok)
      ioc_.stop();
    if (thread_.joinable())
      thread_.join();
    return ok;
  }

  /// Joins after close() ran (for a thread already stopped). Bounded.
  bool join(ms timeout = wait_limit) {
    bool ok = closed_f_.wait_for(timeout) == std::future_status::ready;
    if (!ok) {
      ioc_.stop();
      allow_close();
    }
    if (thread_.joinable())
      thread_.join();
    return ok;
  }

  /// Posts a job that blocks the io_context's thread until the returned
  /// function is called (or wait_limit passed), and waits until it runs.
  std::function<void()> block() {
    auto gate = std::make_shared<std::promise<void>>();
    auto released = gate->get_future().share();
    std::promise<void> entered;
    auto in = entered.get_future();
    asio::post(ioc_,
               [released, e = std::make_shared<std::promise<void>>(std::move(entered))] {
                 e->set_value();
                 released.wait_for(wait_limit);
               });
    in.wait_for(wait_limit);
    auto done = std::make_shared<std::atomic<bool>>(false);
    return [gate, done] {
      if (!done->exchange(true))
        gate->set_value();
    };
  }

private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::shared_ptr<actor_thread> home_;
  std::promise<void> allow_close_;
  std::shared_future<void> close_gate_;
  std::atomic<bool> close_allowed_{false};
  std::promise<void> returned_;
  std::future<void> returned_f_ = returned_.get_future();
  std::promise<void> closed_;
  std::future<void> closed_f_ = closed_.get_future();
  std::thread thread_;
  std::thread::id id_;
};

/// Polls `pred` every 2 ms for at most `timeout`.
template <class Pred>
bool eventually(Pred pred, ms timeout = wait_limit) {
  auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(ms(2));
  }
  return true;
}

/// Sends `(ping, x)` from a scoped actor and returns the int reply.
std::optional<int> ping(caf::actor_system& sys, const caf::actor& dest, int x) {
  caf::scoped_actor self{sys};
  std::optional<int> result;
  self->request(dest, wait_limit, ping_atom::value, x)
    .receive([&](int r) { result = r; }, [&](caf::error&) {});
  return result;
}

// -- actors --------------------------------------------------------------------

/// Records every int on inbox (and every ping, answering x + 1).
caf::behavior probe(component* self, probe_log_ptr log) {
  log->home = self->home().get();
  log->init.add(0);
  return {
    [=](inbox_atom, int x) { log->msgs.add(x); },
    [=](ping_atom, int x) {
      log->msgs.add(x);
      return x + 1;
    },
    [=](stop_atom) { self->quit(); },
  };
}

/// A plain (non-component) actor: records ints on inbox and passes them on
/// to `next` if it has one.
caf::behavior plain_relay(caf::event_based_actor* self, journal_ptr j, caf::actor next) {
  j->add(-1); // initialization
  return {
    [=](inbox_atom, int x) {
      j->add(x);
      if (next)
        self->send(next, inbox_atom::value, x);
    },
  };
}

/// A component that passes ints on inbox to a plain actor, and on `poke`
/// spawns a plain actor itself, sends it the int and returns it.
caf::behavior pusher(component* self, probe_log_ptr log, caf::actor plain,
                     journal_ptr kid_log) {
  log->home = self->home().get();
  log->init.add(0);
  return {
    [=](inbox_atom, int x) {
      log->msgs.add(x);
      self->send(plain, inbox_atom::value, x);
    },
    [=](poke_atom, int x) -> caf::actor {
      auto kid = self->spawn<caf::linked>(plain_relay, kid_log, caf::actor{});
      self->send(kid, inbox_atom::value, x);
      return kid;
    },
  };
}

/// A component that, asked with `spawnkid`, spawns (from its handler) the
/// next level of itself, linked, and returns it. Level i logs to logs[i].
caf::behavior spawner(component* self, std::vector<probe_log_ptr> logs, size_t level) {
  auto log = logs.at(level);
  log->home = self->home().get();
  log->init.add(0);
  return {
    [=](inbox_atom, int x) { log->msgs.add(x); },
    [=](spawn_atom) -> caf::actor {
      return self->spawn<caf::linked>(spawner, logs, level + 1);
    },
  };
}

/// Never answers a ping (delegates it to nobody); records each one.
caf::behavior silent(caf::event_based_actor*, journal_ptr asked) {
  return {
    [=](ping_atom, int x) -> caf::result<int> {
      asked->add(x);
      return caf::delegated<int>{};
    },
  };
}

/// Records (1) every receive timeout; quits on `stopnow`.
caf::behavior idler(component* self, journal_ptr fired, ms delay) {
  return {
    [=](stop_atom) { self->quit(); },
    caf::after(delay) >> [=] { fired->add(1); },
  };
}

/// On `poke`, requests a ping from `dest` with `timeout`: records 1 on a
/// reply, 2 on sec::request_timeout, 3 on any other error.
caf::behavior asker(component* self, journal_ptr j, caf::actor dest, ms timeout) {
  return {
    [=](poke_atom) {
      self->request(dest, timeout, ping_atom::value, 1)
        .then([=](int) { j->add(1); },
              [=](caf::error& e) { j->add(e == caf::sec::request_timeout ? 2 : 3); });
    },
    [=](stop_atom) { self->quit(); },
  };
}

/// A component that tells when it is destroyed. Mode `receive_timer`: a receive
/// timeout of `delay`; mode `request_timer`: a request to `dest` with timeout
/// `delay`; mode `no_timer`: neither. Quits on `stopnow`.
class mortal : public component {
public:
  enum mode { no_timer, receive_timer, request_timer };

  mortal(caf::actor_config& cfg, std::shared_ptr<std::atomic<bool>> gone,
         journal_ptr fired, mode m, ms delay, caf::actor dest)
    : component(cfg), gone_(std::move(gone)), fired_(std::move(fired)), mode_(m),
      delay_(delay), dest_(std::move(dest)) {}

  ~mortal() override { gone_->store(true); }

  caf::behavior make_behavior() override {
    auto fired = fired_;
    if (mode_ == request_timer) {
      request(dest_, delay_, ping_atom::value, 1)
        .then([fired](int) { fired->add(1); }, [fired](caf::error&) { fired->add(2); });
      dest_ = nullptr; // hold no reference to it
    }
    if (mode_ == receive_timer)
      return {
        [this](stop_atom) { quit(); },
        [](ping_atom, int x) { return x + 1; },
        caf::after(delay_) >> [fired] { fired->add(3); },
      };
    return {
      [this](stop_atom) { quit(); },
      [](ping_atom, int x) { return x + 1; },
    };
  }

private:
  std::shared_ptr<std::atomic<bool>> gone_;
  journal_ptr fired_;
  mode mode_;
  ms delay_;
  caf::actor dest_;
};

/// An actor system with kam's scheduler module installed for `policy`.
struct kam_system {
  explicit kam_system(const std::string& policy) {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("scheduler.policy", caf::atom_from_string(policy));
    installed = install_scheduler(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  caf::actor_system_config cfg;
  bool installed = false;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor_system& operator*() { return *sys; }
};

bool all_on(const std::vector<entry>& xs, std::thread::id id) {
  return std::all_of(xs.begin(), xs.end(),
                     [&](const entry& e) { return e.thread == id; });
}

bool none_on(const std::vector<entry>& xs, std::thread::id id) {
  return std::none_of(xs.begin(), xs.end(),
                      [&](const entry& e) { return e.thread == id; });
}

} // namespace

/// Spawns a probe whose home is `io`'s actor_thread, handed to `r`.
caf::actor spawn_pinned_probe(caf::actor_system& sys, io_thread& io, reaper& r,
                              const probe_log_ptr& log) {
  actor_thread_scope scope{io.home()};
  return r(sys.spawn(probe, log));
}

namespace {

// -- hand-off (the same-thread hop) --------------------------------------------

using burst_atom = caf::atom_constant<caf::atom("burst")>;
using bounce_atom = caf::atom_constant<caf::atom("bounce")>;

/// What a hand-off sink saw: every int in order, and the deepest nesting of
/// its handler (1 = one message at a time).
struct sink_log {
  journal msgs;
  std::atomic<int> depth{0};
  std::atomic<int> max_depth{0};
};
using sink_log_ptr = std::shared_ptr<sink_log>;

/// Records ints; a negative one makes it quit at once.
caf::behavior hsink(component* self, sink_log_ptr log) {
  return {
    [=](inbox_atom, int x) {
      auto d = ++log->depth;
      int seen = log->max_depth.load();
      while (d > seen && !log->max_depth.compare_exchange_weak(seen, d))
        ;
      log->msgs.add(x);
      if (x < 0)
        self->quit();
      --log->depth;
    },
  };
}

/// On (burst, first, n): posts a job to its io_context that records how many
/// messages `seen` holds when that job runs, then sends ints first..first+n-1
/// to `dest`, all in one turn.
caf::behavior burster(component* self, caf::actor dest, asio::io_context* ioc,
                      sink_log_ptr seen, journal_ptr at_next_job) {
  return {
    [=](burst_atom, int first, int n) {
      asio::post(*ioc, [seen, at_next_job] {
        at_next_job->add(static_cast<int>(seen->msgs.size()));
      });
      for (int i = first; i < first + n; ++i)
        self->send(dest, inbox_atom::value, i);
    },
  };
}

/// Two of these bounce a counter until it reaches `limit`; the one that
/// sees it reports it.
caf::behavior bouncer(component* self, std::shared_ptr<std::promise<int>> done,
                      int limit) {
  return {
    [=](bounce_atom, caf::actor peer, int x) {
      if (x >= limit) {
        done->set_value(x);
        return;
      }
      self->send(peer, bounce_atom::value, caf::actor_cast<caf::actor>(self), x + 1);
    },
  };
}

} // namespace

TEST_SUITE("runtime.actor_thread") {

  // -- 1: placement -------------------------------------------------------------

  TEST_CASE("a component made in an actor_thread_scope handles everything on the "
            "io_context's thread, whoever sends") {
    test_system ts;
    io_thread io{*ts};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>();
    caf::actor c;
    {
      actor_thread_scope scope{io.home()};
      CHECK(current_actor_thread() == io.home());
      c = r(ts.sys->spawn(probe, log));
    }
    CHECK(current_actor_thread() == nullptr);
    CHECK(home_of(c) == io.home());
    REQUIRE(log->init.wait_count(1));
    CHECK(log->home.load() == io.home().get());
    // From a thread outside CAF (this one).
    for (int i = 0; i < 20; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    // From a plain actor on CAF's scheduler.
    auto relay_log = std::make_shared<journal>();
    auto relay = r(ts.sys->spawn(plain_relay, relay_log, c));
    for (int i = 100; i < 120; ++i)
      caf::anon_send(relay, inbox_atom::value, i);
    // From CAF's timer thread.
    auto t0 = steady::now();
    caf::delayed_anon_send(c, ms(30), inbox_atom::value, 1000);
    // A request from a scoped (blocking) actor gets its answer.
    CHECK(ping(*ts, c, 2000) == 2001);
    REQUIRE(log->msgs.wait_count(20 + 20 + 1 + 1));
    CHECK(steady::now() - t0 >= ms(25));
    auto xs = log->msgs.entries();
    CHECK(xs.size() == 42);
    CHECK(all_on(xs, io.id()));
    CHECK(all_on(log->init.entries(), io.id()));
    std::set<int> seen;
    for (auto& e : xs)
      seen.insert(e.value);
    CHECK(seen.count(1000) == 1);
    CHECK(seen.count(2000) == 1);
    CHECK(seen.count(119) == 1);
    // Per sender, order is kept.
    std::vector<int> from_test, from_relay;
    for (auto& e : xs) {
      if (e.value < 100)
        from_test.push_back(e.value);
      else if (e.value < 1000)
        from_relay.push_back(e.value);
    }
    CHECK(std::is_sorted(from_test.begin(), from_test.end()));
    CHECK(std::is_sorted(from_relay.begin(), from_relay.end()));
    CHECK(from_test.size() == 20);
    CHECK(from_relay.size() == 20);
    // The relay itself ran on CAF's scheduler.
    REQUIRE(relay_log->wait_count(21));
    CHECK(none_on(relay_log->entries(), io.id()));
  }

  TEST_CASE("a component made outside any scope has no home and runs on CAF's "
            "scheduler") {
    test_system ts;
    io_thread io{*ts};
    io.start(/*thread_scope=*/true); // a pinned thread exists, unrelated
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = r(ts.sys->spawn(probe, log));
    CHECK(home_of(c) == nullptr);
    REQUIRE(log->init.wait_count(1));
    CHECK(log->home.load() == nullptr);
    for (int i = 0; i < 50; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    caf::delayed_anon_send(c, ms(10), inbox_atom::value, 50);
    REQUIRE(log->msgs.wait_count(51));
    auto xs = log->msgs.entries();
    CHECK(none_on(xs, io.id()));
    CHECK(none_on(xs, std::this_thread::get_id()));
    CHECK(none_on(log->init.entries(), io.id()));
  }

  TEST_CASE("actor_thread_scope nests, restores, is per thread; home_of of "
            "non-components is null") {
    test_system ts;
    io_thread a{*ts};
    io_thread b{*ts};
    reaper r;
    CHECK(current_actor_thread() == nullptr);
    {
      actor_thread_scope sa{a.home()};
      CHECK(current_actor_thread() == a.home());
      {
        actor_thread_scope sb{b.home()};
        CHECK(current_actor_thread() == b.home());
      }
      CHECK(current_actor_thread() == a.home());
      std::shared_ptr<actor_thread> elsewhere = a.home();
      std::thread([&] { elsewhere = current_actor_thread(); }).join();
      CHECK(elsewhere == nullptr);
      {
        actor_thread_scope none{nullptr}; // as the chassis does for an unpinned CSA
        CHECK(current_actor_thread() == nullptr);
        auto log = std::make_shared<probe_log>();
        auto c = r(ts.sys->spawn(probe, log));
        CHECK(home_of(c) == nullptr);
        // A plain actor made in a scope has no home either.
        auto plain =
          r(ts.sys->spawn(plain_relay, std::make_shared<journal>(), caf::actor{}));
        CHECK(home_of(plain) == nullptr);
      }
      CHECK(current_actor_thread() == a.home());
    }
    CHECK(current_actor_thread() == nullptr);
    CHECK(home_of(caf::actor{}) == nullptr);
  }

  // -- 2: what pinned components wake ---------------------------------------

  TEST_CASE("plain actors woken or spawned by a pinned component run on CAF's "
            "scheduler") {
    test_system ts;
    io_thread io{*ts};
    io.start(/*thread_scope=*/true);
    reaper r;
    auto plain_log = std::make_shared<journal>();
    auto plain = r(ts.sys->spawn(plain_relay, plain_log, caf::actor{}));
    // A plain actor made while the scope is current is no different.
    auto scoped_plain_log = std::make_shared<journal>();
    caf::actor scoped_plain;
    auto log = std::make_shared<probe_log>();
    auto kid_log = std::make_shared<journal>();
    caf::actor c;
    {
      actor_thread_scope scope{io.home()};
      scoped_plain = r(ts.sys->spawn(plain_relay, scoped_plain_log, caf::actor{}));
      c = r(ts.sys->spawn(pusher, log, plain, kid_log));
    }
    REQUIRE(home_of(c) == io.home());
    for (int i = 0; i < 100; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    REQUIRE(log->msgs.wait_count(100));
    CHECK(all_on(log->msgs.entries(), io.id()));
    REQUIRE(plain_log->wait_count(101));
    CHECK(none_on(plain_log->entries(), io.id()));
    // A plain actor the pinned component spawns from its handler.
    caf::actor kid;
    {
      caf::scoped_actor self{*ts};
      self->request(c, wait_limit, poke_atom::value, 7)
        .receive([&](caf::actor& x) { kid = x; }, [&](caf::error&) {});
    }
    REQUIRE(kid);
    r(kid);
    CHECK(home_of(kid) == nullptr);
    REQUIRE(kid_log->wait_count(2)); // initialization + the int
    CHECK(none_on(kid_log->entries(), io.id()));
    for (int i = 0; i < 50; ++i)
      caf::anon_send(scoped_plain, inbox_atom::value, i);
    REQUIRE(scoped_plain_log->wait_count(51));
    CHECK(none_on(scoped_plain_log->entries(), io.id()));
  }

  // -- 3: inheritance ---------------------------------------------------------

  // With the io_context run inside a thread-wide scope (as io_broker does) and
  // without one: actor_thread::resume() makes its home current while it runs
  // an actor, so inheritance does not depend on the thread holding a scope.
  TEST_CASE("components a pinned component spawns from its handler inherit its home, "
            "with or without a thread-wide scope") {
    for (bool thread_scope : {true, false}) {
      CAPTURE(thread_scope);
      test_system ts;
      io_thread io{*ts};
      io.start(thread_scope);
      reaper r;
      std::vector<probe_log_ptr> logs;
      for (int i = 0; i < 4; ++i)
        logs.push_back(std::make_shared<probe_log>());
      caf::actor parent;
      {
        actor_thread_scope scope{io.home()};
        parent = r(ts.sys->spawn(spawner, logs, size_t{0}));
      }
      caf::scoped_actor self{*ts};
      auto next = [&](const caf::actor& x) {
        caf::actor kid;
        self->request(x, wait_limit, spawn_atom::value)
          .receive([&](caf::actor& y) { kid = y; }, [&](caf::error&) {});
        return kid;
      };
      auto child = next(parent);
      REQUIRE(child);
      r(child);
      auto grandchild = next(child);
      REQUIRE(grandchild);
      r(grandchild);
      CHECK(home_of(parent) == io.home());
      CHECK(home_of(child) == io.home());
      CHECK(home_of(grandchild) == io.home());
      std::vector<caf::actor> all{parent, child, grandchild};
      for (size_t i = 0; i < all.size(); ++i)
        for (int k = 0; k < 10; ++k)
          caf::anon_send(all[i], inbox_atom::value, k);
      for (size_t i = 0; i < all.size(); ++i) {
        INFO("level " << i);
        REQUIRE(logs[i]->init.wait_count(1));
        REQUIRE(logs[i]->msgs.wait_count(10));
        CHECK(logs[i]->home.load() == io.home().get());
        CHECK(all_on(logs[i]->init.entries(), io.id()));
        CHECK(all_on(logs[i]->msgs.entries(), io.id()));
      }
    }
  }

  TEST_CASE("a component made on CAF's scheduler by an unpinned component has no "
            "home") {
    test_system ts;
    reaper r;
    std::vector<probe_log_ptr> logs{std::make_shared<probe_log>(),
                                    std::make_shared<probe_log>()};
    auto parent = r(ts.sys->spawn(spawner, logs, size_t{0}));
    caf::actor child;
    {
      caf::scoped_actor self{*ts};
      self->request(parent, wait_limit, spawn_atom::value)
        .receive([&](caf::actor& y) { child = y; }, [&](caf::error&) {});
    }
    REQUIRE(child);
    r(child);
    CHECK(home_of(child) == nullptr);
    REQUIRE(logs[1]->init.wait_count(1));
    CHECK(logs[1]->home.load() == nullptr);
  }

  // -- 4: close() and turn-taking ---------------------------------------------

  TEST_CASE("after run() returned and close() ran, a pinned component goes on "
            "on CAF's scheduler") {
    test_system ts;
    io_thread io{*ts};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    caf::anon_send(c, inbox_atom::value, 0);
    REQUIRE(log->msgs.wait_count(1));
    CHECK(log->msgs.entries()[0].thread == io.id());
    CHECK(!io.home()->closed());
    // The work guard goes: run() returns once idle, then close() runs.
    REQUIRE(io.finish());
    CHECK(io.home()->closed());
    CHECK(home_of(c) == io.home()); // the home is fixed; only where it runs moves
    for (int i = 1; i <= 200; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    caf::delayed_anon_send(c, ms(20), inbox_atom::value, 201);
    CHECK(ping(*ts, c, 300) == 301);
    REQUIRE(log->msgs.wait_count(203));
    auto xs = log->msgs.entries();
    std::vector<entry> after(xs.begin() + 1, xs.end());
    CHECK(none_on(after, io.id()));
    CHECK(none_on(after, std::this_thread::get_id()));
    std::vector<int> ints;
    for (auto& e : after)
      if (e.value <= 200)
        ints.push_back(e.value);
    CHECK(ints.size() == 200);
    CHECK(std::is_sorted(ints.begin(), ints.end()));
  }

  TEST_CASE("close() while other threads keep sending: every message is handled "
            "once, each sender's in order") {
    test_system ts;
    constexpr int senders = 4;
    constexpr int per_sender = 20000;
    constexpr size_t total = size_t{senders} * per_sender;
    for (int round = 0; round < 5; ++round) {
      CAPTURE(round);
      io_thread io{*ts, /*max_throughput=*/8};
      io.start();
      reaper r;
      auto log = std::make_shared<probe_log>();
      auto c = spawn_pinned_probe(*ts.sys, io, r, log);
      std::atomic<bool> go{false};
      std::vector<std::thread> threads;
      for (int s = 0; s < senders; ++s)
        threads.emplace_back([&, s] {
          while (!go.load())
            std::this_thread::yield();
          for (int i = 0; i < per_sender; ++i) {
            caf::anon_send(c, inbox_atom::value, s * 1000000 + i);
            if (i % 64 == 63) // paced: the stream lasts well past the stop
              std::this_thread::sleep_for(std::chrono::microseconds(100));
          }
        });
      go = true;
      // Stop the io_context early in the stream; the senders go on.
      CHECK(eventually([&] { return log->msgs.size() >= 500 * size_t(1 + round); }));
      io.ioc().stop();
      CHECK(io.join());
      for (auto& t : threads)
        t.join();
      REQUIRE(log->msgs.wait_count(total, ms(20000)));
      std::this_thread::sleep_for(ms(20)); // any duplicate would show now
      auto xs = log->msgs.entries();
      CHECK(xs.size() == total);
      std::vector<std::vector<int>> per(senders);
      for (auto& e : xs)
        per.at(static_cast<size_t>(e.value / 1000000)).push_back(e.value % 1000000);
      for (int s = 0; s < senders; ++s) {
        INFO("sender " << s);
        bool complete = per[s].size() == size_t{per_sender};
        for (int i = 0; complete && i < per_sender; ++i)
          complete = per[s][i] == i;
        CHECK(complete);
      }
      // Some ran on the io_context's thread, the rest elsewhere.
      CHECK(!none_on(xs, io.id()));
      CHECK(xs.back().thread != io.id());
    }
  }

  TEST_CASE("a message posted to a stopped io_context just before close() is "
            "handled by close(), later ones by the scheduler") {
    test_system ts;
    io_thread io{*ts};
    io.start(/*thread_scope=*/false, /*hold_close=*/true);
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    REQUIRE(ping(*ts, c, 0) == 1); // initialized and idle
    io.ioc().stop();
    REQUIRE(io.wait_returned());
    CHECK(!io.home()->closed());
    // Posted to the io_context, which no longer runs: stranded until close().
    caf::anon_send(c, inbox_atom::value, 7);
    CHECK(!log->msgs.wait_count(2, ms(100)));
    io.allow_close();
    REQUIRE(io.join());
    // close() ran it, on the io_context's thread, before returning.
    auto xs = log->msgs.entries();
    REQUIRE(xs.size() == 2);
    CHECK(xs[1].value == 7);
    CHECK(xs[1].thread == io.id());
    caf::anon_send(c, inbox_atom::value, 8);
    REQUIRE(log->msgs.wait_count(3));
    xs = log->msgs.entries();
    CHECK(xs[2].value == 8);
    CHECK(xs[2].thread != io.id());
  }

  TEST_CASE("a long mailbox cut off by close() is finished by the scheduler, in "
            "order") {
    test_system ts;
    io_thread io{*ts, /*max_throughput=*/1};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    REQUIRE(log->init.wait_count(1));
    auto release = io.block();
    constexpr int n = 1000;
    for (int i = 0; i < n; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    io.ioc().stop(); // run() returns after the blocking job: the rest waits
    release();
    REQUIRE(io.join());
    REQUIRE(log->msgs.wait_count(n));
    auto xs = log->msgs.entries();
    REQUIRE(xs.size() == size_t{n});
    bool in_order = true;
    for (int i = 0; i < n; ++i)
      in_order = in_order && xs[i].value == i;
    CHECK(in_order);
    // close() gave it one turn on its thread; the scheduler did the rest.
    size_t on_io = 0;
    while (on_io < xs.size() && xs[on_io].thread == io.id())
      ++on_io;
    CHECK(on_io >= 1);
    CHECK(on_io <= 2);
    std::vector<entry> rest(xs.begin() + static_cast<long>(on_io), xs.end());
    CHECK(none_on(rest, io.id()));
  }

  TEST_CASE("close() on a thread that never ran the io_context runs what was "
            "posted there, then hands over to the scheduler") {
    test_system ts;
    io_thread io{*ts}; // never started
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    for (int i = 0; i < 3; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    CHECK(!log->init.wait_count(1, ms(100))); // nothing runs it yet
    io.home()->close();
    CHECK(io.home()->closed());
    // Synchronously, on this thread.
    CHECK(log->init.size() == 1);
    auto xs = log->msgs.entries();
    REQUIRE(xs.size() == 3);
    CHECK(all_on(xs, std::this_thread::get_id()));
    CHECK(all_on(log->init.entries(), std::this_thread::get_id()));
    io.home()->close(); // a second close() is harmless
    caf::anon_send(c, inbox_atom::value, 3);
    REQUIRE(log->msgs.wait_count(4));
    CHECK(log->msgs.entries()[3].thread != std::this_thread::get_id());
    // A component made for a closed home keeps it, and runs on the scheduler.
    auto late_log = std::make_shared<probe_log>();
    caf::actor late;
    {
      actor_thread_scope scope{io.home()};
      late = r(ts.sys->spawn(probe, late_log));
    }
    CHECK(home_of(late) == io.home());
    CHECK(ping(*ts, late, 5) == 6);
    REQUIRE(late_log->init.wait_count(1));
    CHECK(none_on(late_log->init.entries(), std::this_thread::get_id()));
    CHECK(none_on(late_log->msgs.entries(), std::this_thread::get_id()));
  }

  TEST_CASE("1000 messages with max_throughput 2 are all handled, in order, on the "
            "io_context's thread") {
    test_system ts;
    io_thread io{*ts, /*max_throughput=*/2};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    constexpr int n = 1000;
    for (int i = 0; i < n; ++i)
      caf::anon_send(c, inbox_atom::value, i);
    REQUIRE(log->msgs.wait_count(n));
    auto xs = log->msgs.entries();
    bool in_order = xs.size() == size_t{n};
    for (int i = 0; in_order && i < n; ++i)
      in_order = xs[i].value == i;
    CHECK(in_order);
    CHECK(all_on(xs, io.id()));
  }

  TEST_CASE("max_throughput: other work on the io_context runs between an actor's "
            "turns") {
    test_system ts;
    io_thread io{*ts, /*max_throughput=*/4};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>();
    auto c = spawn_pinned_probe(*ts.sys, io, r, log);
    REQUIRE(log->init.wait_count(1));
    auto release = io.block();
    constexpr size_t n = 200;
    for (size_t i = 0; i < n; ++i)
      caf::anon_send(c, inbox_atom::value, static_cast<int>(i));
    // Queued behind the actor's first turn, like a socket's completion.
    auto seen = std::make_shared<std::promise<size_t>>();
    auto seen_f = seen->get_future();
    asio::post(io.ioc(), [seen, log] { seen->set_value(log->msgs.size()); });
    release();
    REQUIRE(seen_f.wait_for(wait_limit) == std::future_status::ready);
    auto handled_before = seen_f.get();
    CHECK(handled_before >= 1);
    CHECK(handled_before <= 4);
    REQUIRE(log->msgs.wait_count(n));
  }

  TEST_CASE("max_throughput: two pinned components with long mailboxes take turns") {
    test_system ts;
    io_thread io{*ts, /*max_throughput=*/1};
    io.start();
    reaper r;
    auto log = std::make_shared<probe_log>(); // shared: one order for both
    caf::actor a, b;
    {
      actor_thread_scope scope{io.home()};
      a = r(ts.sys->spawn(probe, log));
      b = r(ts.sys->spawn(probe, log));
    }
    REQUIRE(log->init.wait_count(2));
    auto release = io.block();
    constexpr int n = 100;
    for (int i = 0; i < n; ++i)
      caf::anon_send(a, inbox_atom::value, i);
    for (int i = 0; i < n; ++i)
      caf::anon_send(b, inbox_atom::value, 1000 + i);
    release();
    REQUIRE(log->msgs.wait_count(2 * n));
    auto xs = log->msgs.entries();
    CHECK(all_on(xs, io.id()));
    auto pos = [&](int v) {
      return std::find_if(xs.begin(), xs.end(),
                          [v](const entry& e) { return e.value == v; }) -
             xs.begin();
    };
    // B got its first turn long before A was done (strictly alternating
    // with max_throughput 1: B's first is the second message handled).
    CHECK(pos(1000) < pos(n - 1));
    CHECK(pos(1000) <= 2);
    CHECK(pos(0) < pos(1000 + n - 1));
    // Each still in its own order.
    std::vector<int> as, bs;
    for (auto& e : xs)
      (e.value < 1000 ? as : bs).push_back(e.value);
    CHECK(std::is_sorted(as.begin(), as.end()));
    CHECK(std::is_sorted(bs.begin(), bs.end()));
  }

  // -- 5: kam's scheduler module ------------------------------------------------

  TEST_CASE("install_scheduler accepts sharing and stealing only") {
    auto try_policy = [](const char* policy, bool& installed, size_t& added) {
      caf::actor_system_config cfg;
      add_message_types(cfg);
      if (policy != nullptr)
        cfg.set("scheduler.policy", caf::atom_from_string(policy));
      auto before = cfg.module_factories.size();
      installed = install_scheduler(cfg);
      added = cfg.module_factories.size() - before;
    };
    bool installed = false;
    size_t added = 0;
    try_policy(nullptr, installed, added); // CAF's default: stealing
    CHECK(installed);
    CHECK(added == 1);
    try_policy("sharing", installed, added);
    CHECK(installed);
    CHECK(added == 1);
    try_policy("stealing", installed, added);
    CHECK(installed);
    CHECK(added == 1);
    try_policy("testing", installed, added);
    CHECK(!installed);
    CHECK(added == 0);
    try_policy("bogus", installed, added);
    CHECK(!installed);
    CHECK(added == 0);
  }

  TEST_CASE("with kam's scheduler, timers fire for components") {
    for (const char* policy : {"sharing", "stealing"}) {
      CAPTURE(policy);
      kam_system ks{policy};
      REQUIRE(ks.installed);
      // Its clock is in place (not CAF's own thread_safe_actor_clock).
      CHECK(typeid(ks.sys->clock()) != typeid(caf::detail::thread_safe_actor_clock));
      io_thread io{*ks};
      io.start(/*thread_scope=*/true);
      reaper r;
      // delayed_send, to an unpinned and to a pinned component.
      auto free_log = std::make_shared<probe_log>();
      auto pinned_log = std::make_shared<probe_log>();
      auto free_c = r(ks.sys->spawn(probe, free_log));
      caf::actor pinned_c;
      {
        actor_thread_scope scope{io.home()};
        pinned_c = r(ks.sys->spawn(probe, pinned_log));
      }
      auto t0 = steady::now();
      caf::delayed_anon_send(free_c, ms(30), inbox_atom::value, 1);
      caf::delayed_anon_send(pinned_c, ms(30), inbox_atom::value, 2);
      REQUIRE(free_log->msgs.wait_count(1));
      REQUIRE(pinned_log->msgs.wait_count(1));
      CHECK(steady::now() - t0 >= ms(25));
      CHECK(pinned_log->msgs.entries()[0].thread == io.id());
      // after(): receive timeouts.
      auto free_fired = std::make_shared<journal>();
      auto pinned_fired = std::make_shared<journal>();
      r(ks.sys->spawn(idler, free_fired, ms(20)));
      {
        actor_thread_scope scope{io.home()};
        r(ks.sys->spawn(idler, pinned_fired, ms(20)));
      }
      CHECK(free_fired->wait_count(1));
      CHECK(pinned_fired->wait_count(1));
      CHECK(all_on(pinned_fired->entries(), io.id()));
      // Request timeouts.
      auto mute = r(ks.sys->spawn(silent, std::make_shared<journal>()));
      auto free_answers = std::make_shared<journal>();
      auto pinned_answers = std::make_shared<journal>();
      auto free_asker = r(ks.sys->spawn(asker, free_answers, mute, ms(30)));
      caf::actor pinned_asker;
      {
        actor_thread_scope scope{io.home()};
        pinned_asker = r(ks.sys->spawn(asker, pinned_answers, mute, ms(30)));
      }
      caf::anon_send(free_asker, poke_atom::value);
      caf::anon_send(pinned_asker, poke_atom::value);
      REQUIRE(free_answers->wait_count(1));
      REQUIRE(pinned_answers->wait_count(1));
      CHECK(free_answers->entries()[0].value == 2);
      CHECK(pinned_answers->entries()[0].value == 2);
      CHECK(pinned_answers->entries()[0].thread == io.id());
      // A request answered in time is not cancelled by mistake.
      auto echo_c = r(ks.sys->spawn(probe, std::make_shared<probe_log>()));
      auto ok_answers = std::make_shared<journal>();
      auto ok_asker = r(ks.sys->spawn(asker, ok_answers, echo_c, ms(2000)));
      caf::anon_send(ok_asker, poke_atom::value);
      REQUIRE(ok_answers->wait_count(1));
      CHECK(ok_answers->entries()[0].value == 1);
    }
  }

  TEST_CASE("with kam's scheduler, a component that set a timeout and quits is "
            "released at once and gets no stale timeout") {
    for (const char* policy : {"sharing", "stealing"}) {
      CAPTURE(policy);
      kam_system ks{policy};
      REQUIRE(ks.installed);
      io_thread io{*ks};
      io.start(/*thread_scope=*/true);
      reaper r;
      auto mute = r(ks.sys->spawn(silent, std::make_shared<journal>()));
      struct variant {
        mortal::mode mode;
        ms delay;
        bool pinned;
      };
      // Long timeouts: had CAF's clock not been told to cancel them, it would
      // hold the actor for 10 s.
      std::vector<variant> variants{
        {mortal::no_timer, ms(10000), false},
        {mortal::no_timer, ms(10000), true},
        {mortal::receive_timer, ms(10000), false},
        {mortal::receive_timer, ms(10000), true},
        {mortal::request_timer, ms(10000), false},
        {mortal::request_timer, ms(10000), true},
      };
      for (auto& v : variants) {
        CAPTURE(static_cast<int>(v.mode));
        CAPTURE(v.pinned);
        auto gone = std::make_shared<std::atomic<bool>>(false);
        auto fired = std::make_shared<journal>();
        caf::actor m;
        {
          actor_thread_scope scope{v.pinned ? io.home() : nullptr};
          m = ks.sys->spawn<mortal>(gone, fired, v.mode, v.delay, mute);
        }
        caf::anon_send(m, stop_atom::value);
        m = nullptr;
        CHECK(eventually([&] { return gone->load(); }, ms(2000)));
        CHECK(fired->size() == 0);
      }
      // Short timeouts, still pending when the actor quits (a ping first:
      // initialized, the receive timeout armed): nothing arrives later,
      // nothing breaks.
      std::vector<std::shared_ptr<std::atomic<bool>>> gones;
      std::vector<journal_ptr> fireds;
      for (int i = 0; i < 40; ++i) {
        auto gone = std::make_shared<std::atomic<bool>>(false);
        auto fired = std::make_shared<journal>();
        gones.push_back(gone);
        fireds.push_back(fired);
        auto mode = i % 2 == 0 ? mortal::receive_timer : mortal::request_timer;
        caf::actor m;
        {
          actor_thread_scope scope{i % 4 < 2 ? io.home() : nullptr};
          m = ks.sys->spawn<mortal>(gone, fired, mode, ms(100), mute);
        }
        CHECK(ping(*ks, m, i) == i + 1);
        caf::anon_send(m, stop_atom::value);
      }
      std::this_thread::sleep_for(ms(250));
      for (size_t i = 0; i < gones.size(); ++i) {
        INFO("actor " << i);
        CHECK(eventually([&] { return gones[i]->load(); }, ms(2000)));
        CHECK(fireds[i]->size() == 0);
      }
      // The system still works.
      auto log = std::make_shared<probe_log>();
      auto c = r(ks.sys->spawn(probe, log));
      CHECK(ping(*ks, c, 1) == 2);
    }
  }

  // -- 6: the hand-off (the same-thread hop) ------------------------------------

  TEST_CASE("hand-off: messages sent in a turn to an idle component on the same "
            "thread run when the turn ends, before the thread's next Asio job, in order, "
            "one at a time") {
    test_system ts;
    io_thread io{*ts};
    io.start(true);
    reaper r;
    auto log = std::make_shared<sink_log>();
    auto at_next_job = std::make_shared<journal>();
    caf::actor sink, src;
    {
      actor_thread_scope scope{io.home()};
      sink = r(ts.sys->spawn(hsink, log));
      src = r(ts.sys->spawn(burster, sink, &io.ioc(), log, at_next_job));
    }
    caf::anon_send(sink, inbox_atom::value, 0);
    REQUIRE(log->msgs.wait_count(1));
    for (int round = 0; round < 3; ++round) {
      // The sink is idle between rounds (its mailbox blocked).
      std::this_thread::sleep_for(ms(10));
      caf::anon_send(src, burst_atom::value, 1 + round * 100, 100);
      REQUIRE(at_next_job->wait_count(static_cast<size_t>(round + 1)));
      REQUIRE(log->msgs.wait_count(static_cast<size_t>(1 + (round + 1) * 100)));
      // Through the mailbox the sink would run in a job queued after the one
      // the sender posted first; handed off, it ran all 100 before it.
      CHECK(at_next_job->entries().back().value == 1 + (round + 1) * 100);
    }
    auto xs = log->msgs.entries();
    REQUIRE(xs.size() == 301);
    for (size_t i = 0; i < xs.size(); ++i)
      CHECK(xs[i].value == static_cast<int>(i));
    CHECK(all_on(xs, io.id()));
    CHECK(log->max_depth.load() == 1);
  }

  TEST_CASE("hand-off: a component busy with its mailbox is not overtaken; senders on "
            "another thread and on the same thread each keep their order") {
    test_system ts;
    io_thread io{*ts};
    io.start(true);
    reaper r;
    auto log = std::make_shared<sink_log>();
    auto at_next_job = std::make_shared<journal>();
    caf::actor sink, src;
    {
      actor_thread_scope scope{io.home()};
      sink = r(ts.sys->spawn(hsink, log));
      src = r(ts.sys->spawn(burster, sink, &io.ioc(), log, at_next_job));
    }
    // 20 bursts of 50 from the io thread race 1000 messages from here.
    std::thread outside([&] {
      for (int i = 0; i < 1000; ++i)
        caf::anon_send(sink, inbox_atom::value, 100000 + i);
    });
    for (int b = 0; b < 20; ++b)
      caf::anon_send(src, burst_atom::value, b * 50, 50);
    outside.join();
    REQUIRE(log->msgs.wait_count(2000));
    std::vector<int> from_src, from_outside;
    for (auto& e : log->msgs.entries())
      (e.value >= 100000 ? from_outside : from_src).push_back(e.value);
    REQUIRE(from_src.size() == 1000);
    REQUIRE(from_outside.size() == 1000);
    for (int i = 0; i < 1000; ++i) {
      CHECK(from_src[static_cast<size_t>(i)] == i);
      CHECK(from_outside[static_cast<size_t>(i)] == 100000 + i);
    }
    CHECK(log->max_depth.load() == 1);
    CHECK(all_on(log->msgs.entries(), io.id()));
  }

  TEST_CASE("hand-off: a receiver that quits mid-burst gets nothing after, ends once "
            "(down to a monitor), and the sender goes on") {
    test_system ts;
    io_thread io{*ts};
    io.start(true);
    reaper r;
    auto log = std::make_shared<sink_log>();
    auto at_next_job = std::make_shared<journal>();
    auto other = std::make_shared<sink_log>();
    caf::actor sink, src, sink2, src2;
    {
      actor_thread_scope scope{io.home()};
      sink = ts.sys->spawn(hsink, log);
      src = r(ts.sys->spawn(burster, sink, &io.ioc(), log, at_next_job));
      sink2 = r(ts.sys->spawn(hsink, other));
      src2 = r(ts.sys->spawn(burster, sink2, &io.ioc(), other, at_next_job));
    }
    caf::scoped_actor self{*ts};
    self->monitor(sink);
    caf::anon_send(sink, inbox_atom::value, 0);
    REQUIRE(log->msgs.wait_count(1));
    std::this_thread::sleep_for(ms(10));
    // -5 .. 4: the sink quits on -5, the first.
    caf::anon_send(src, burst_atom::value, -5, 10);
    int downs = 0;
    self->receive_for(downs, 1)([&](caf::down_msg& dm) { CHECK(dm.source == sink); });
    std::this_thread::sleep_for(ms(50));
    auto xs = log->msgs.entries();
    REQUIRE(xs.size() == 2);
    CHECK(xs[1].value == -5);
    // The thread goes on handing off to others.
    caf::anon_send(src2, burst_atom::value, 1, 100);
    REQUIRE(other->msgs.wait_count(100));
    CHECK(other->msgs.entries().back().value == 100);
    // Nothing else arrived for the dead one; no second down.
    self->receive(caf::after(ms(50)) >> [] {});
    CHECK(log->msgs.size() == 2);
  }

  TEST_CASE("hand-off: a ping-pong longer than one turn's batch completes, and the "
            "thread's other jobs run in between") {
    test_system ts;
    io_thread io{*ts};
    io.start(true);
    reaper r;
    const int limit = static_cast<int>(actor_thread::handoff_batch) * 5;
    auto done = std::make_shared<std::promise<int>>();
    auto fut = done->get_future();
    caf::actor a, b;
    {
      actor_thread_scope scope{io.home()};
      a = r(ts.sys->spawn(bouncer, done, limit));
      b = r(ts.sys->spawn(bouncer, done, limit));
    }
    // A job that re-posts itself counts the Asio jobs that ran meanwhile.
    auto ticks = std::make_shared<std::atomic<int>>(0);
    auto stop = std::make_shared<std::atomic<bool>>(false);
    // Owned by value: the I/O thread may run a last tick after this scope.
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [ticks, stop, weak = std::weak_ptr<std::function<void()>>{tick}, &io] {
      ++*ticks;
      if (!stop->load())
        if (auto t = weak.lock())
          asio::post(io.ioc(), *t);
    };
    asio::post(io.ioc(), *tick);
    caf::anon_send(a, bounce_atom::value, b, 0);
    REQUIRE(fut.wait_for(wait_limit) == std::future_status::ready);
    CHECK(fut.get() == limit);
    stop->store(true);
    std::this_thread::sleep_for(ms(20));
    // At least one tick per batch the chain was cut into.
    CHECK(ticks->load() >= 4);
  }

} // TEST_SUITE
