// The Backplane, publish_to and subscribe_to on the in-memory harness.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"

#include "runtime/backplane.hpp"
#include "runtime/harness.hpp"
#include "runtime/introspect.hpp"
#include "tests/support/echo_server.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;

namespace {

/// The backplane's live subscribers, asked through its bp_count message.
size_t subscribers(caf::actor_system& sys, const caf::actor& bp) {
  caf::scoped_actor self{sys};
  size_t n = 9999;
  self->request(bp, std::chrono::seconds(2), bp_count_atom::value)
    .receive([&](size_t x) { n = x; }, [](caf::error&) {});
  return n;
}

void end(const caf::actor& a) {
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

/// Ends its actors when it goes, also when a REQUIRE leaves the test early
/// (else the actor system's destructor waits for them forever).
struct ending {
  std::vector<caf::actor> xs;
  ~ending() {
    for (auto& x : xs)
      end(x);
  }
};

/// An I/O thread as the chassis has them: an io_context on its own thread
/// with an actor_thread; components made in its scope live there.
struct io_thread {
  explicit io_thread(caf::actor_system& sys)
    : guard(ioc.get_executor()), home(std::make_shared<actor_thread>(sys, ioc)),
      thread([this] {
        actor_thread_scope scope{home};
        ioc.run();
      }) {}
  ~io_thread() {
    guard.reset();
    ioc.stop();
    thread.join();
    home->close();
  }
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
  std::shared_ptr<actor_thread> home;
  std::thread thread;
};

/// What arrived at a raw (non-component) actor, message by message: batches
/// are not flattened, so a test can count hops.
struct raw_log {
  std::mutex mtx;
  size_t messages = 0;
  std::vector<int> ints; // flattened, in order
};

void flatten(const caf::message& m, std::vector<int>& out) {
  if (m.match_elements<message_batch>()) {
    for (auto& x : m.get_as<message_batch>(0).xs)
      flatten(x, out);
  } else if (m.match_elements<int>()) {
    out.push_back(m.get_as<int>(0));
  }
}

caf::behavior raw_logger(caf::event_based_actor* self, std::shared_ptr<raw_log> log) {
  self->set_default_handler([log](caf::scheduled_actor*, caf::message_view& x) {
    auto m = x.move_content_to_message();
    std::lock_guard<std::mutex> g{log->mtx};
    ++log->messages;
    flatten(m.drop(1), log->ints);
    return caf::message{};
  });
  return {[](bp_count_atom) {}};
}

/// `n` raw loggers (on CAF's scheduler) and their logs; ended with it.
struct raw_sinks {
  std::vector<std::shared_ptr<raw_log>> logs;
  std::vector<caf::actor> actors;
  raw_sinks(caf::actor_system& sys, int n) {
    for (int i = 0; i < n; ++i) {
      logs.push_back(std::make_shared<raw_log>());
      actors.push_back(sys.spawn(raw_logger, logs.back()));
    }
  }
  ~raw_sinks() {
    for (auto& a : actors)
      end(a);
  }
  /// What sink `k` got so far, flattened.
  std::vector<int> ints(size_t k) {
    std::lock_guard<std::mutex> g{logs[k]->mtx};
    return logs[k]->ints;
  }
};

} // namespace

TEST_SUITE("runtime.backplane") {

  TEST_CASE("a stalled I/O thread's hub is relayed at most relay_limit publications; "
            "the rest are dropped for it and counted, the others get everything") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "LAG", backplane_options{4});
    REQUIRE(bp);
    CHECK(!backplane(sys, "LAG0", backplane_options{0}));
    {
      io_thread a{sys};
      io_thread b{sys};
      caf::actor pub, sub_a, sub_b;
      {
        actor_thread_scope scope{a.home};
        pub = *publish_to(sys, "LAG");
        sub_a = *subscribe_to(sys, "LAG");
      }
      {
        actor_thread_scope scope{b.home};
        sub_b = *subscribe_to(sys, "LAG");
      }
      harness h_a{sys, sub_a};
      harness h_b{sys, sub_b};
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 2; }));
      std::promise<void> go;
      auto gate = go.get_future().share();
      boost::asio::post(b.ioc, [gate] { gate.wait_for(std::chrono::seconds(10)); });
      const int n = 20;
      for (int i = 0; i < n; ++i)
        caf::anon_send(pub, inbox, i);
      for (int i = 0; i < n; ++i) {
        auto x = h_a.next_as<int>(outbox);
        REQUIRE(x);
        CHECK(*x == i); // the publisher's own thread: everything
      }
      REQUIRE(test::eventually([&] { return backplane_relay_dropped(*bp) >= n - 4; }));
      auto dropped = backplane_relay_dropped(*bp);
      go.set_value();
      // What was relayed arrives, in order; then nothing more.
      int last = -1;
      for (uint64_t k = 0; k < n - dropped; ++k) {
        auto x = h_b.next_as<int>(outbox);
        REQUIRE(x);
        CHECK(*x > last);
        last = *x;
      }
      CHECK(h_b.silent(outbox));
      // Caught up (acknowledged): relayed again.
      caf::anon_send(pub, inbox, 100);
      auto again = h_b.next_as<int>(outbox);
      REQUIRE(again);
      CHECK(*again == 100);
      CHECK(backplane_relay_dropped(*bp) == dropped);
      for (auto& x : {pub, sub_a, sub_b})
        end(x);
    }
    end(*bp);
  }

  TEST_CASE("a thread hub hands each subscriber one message for a round of "
            "publications, in per-publisher order, without the skipped origin's") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    {
      io_thread a{sys};
      caf::actor p1, p2, s_all, s_skip;
      {
        actor_thread_scope scope{a.home};
        p1 = *publish_to(sys, "CHAT");
        p2 = *publish_to(sys, "CHAT");
        s_all = *subscribe_to(sys, "CHAT");
        s_skip = *subscribe_to(sys, "CHAT", p1.id());
      }
      auto log_all = std::make_shared<raw_log>();
      auto log_skip = std::make_shared<raw_log>();
      auto c_all = sys.spawn(raw_logger, log_all);
      auto c_skip = sys.spawn(raw_logger, log_skip);
      link(s_all, outbox, c_all, inbox);
      link(s_skip, outbox, c_skip, inbox);
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 2; }));
      // 20 publications from one job on the I/O thread: one round.
      boost::asio::post(a.ioc, [&] {
        for (int i = 0; i < 10; ++i) {
          caf::anon_send(p1, inbox, i);
          caf::anon_send(p2, inbox, 100 + i);
        }
      });
      auto got = [](raw_log& l, size_t n) {
        return test::eventually([&] {
          std::lock_guard<std::mutex> g{l.mtx};
          return l.ints.size() >= n;
        });
      };
      REQUIRE(got(*log_all, 20));
      REQUIRE(got(*log_skip, 10));
      std::vector<int> ones, hundreds;
      for (int x : log_all->ints)
        (x < 100 ? ones : hundreds).push_back(x);
      std::vector<int> want_ones, want_hundreds;
      for (int i = 0; i < 10; ++i) {
        want_ones.push_back(i);
        want_hundreds.push_back(100 + i);
      }
      CHECK(ones == want_ones);
      CHECK(hundreds == want_hundreds);
      CHECK(log_skip->ints == want_hundreds);
      // Far fewer hops than publications (one per round by design; a little
      // slack for a round the I/O thread splits).
      CHECK(log_all->messages <= 3);
      CHECK(log_skip->messages <= 3);
      for (auto& x : {p1, p2, s_all, s_skip, c_all, c_skip})
        end(x);
    }
    end(*bp);
  }

  TEST_CASE(
    "what a publisher gets on inbox reaches every subscriber's outbox, in order") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    auto s1 = subscribe_to(sys, "CHAT");
    auto s2 = subscribe_to(sys, "CHAT");
    REQUIRE(s1);
    REQUIRE(s2);
    harness h1{sys, *s1};
    harness h2{sys, *s2};
    REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 2; }));
    auto pub = publish_to(sys, "CHAT");
    REQUIRE(pub);
    harness hp{sys, *pub};
    hp.send_text(inbox, "one");
    hp.send(inbox, std::string("two"), 2);
    CHECK(h1.read_text(outbox, 3) == "one");
    CHECK(h2.read_text(outbox, 3) == "one");
    for (auto* h : {&h1, &h2}) {
      auto m = h->next(outbox);
      REQUIRE(m);
      REQUIRE(m->match_elements<std::string, int>());
      CHECK(m->get_as<std::string>(0) == "two");
      CHECK(m->get_as<int>(1) == 2);
    }
    end(*bp);
  }

  TEST_CASE("the hub follows a subscriber's outbox links: relinked, what follows goes to "
            "the new inbox only, in order; unlinked, nowhere") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    ending end_bp{{*bp}};
    {
      io_thread a{sys};
      caf::actor pub, sub, probe;
      {
        actor_thread_scope scope{a.home};
        pub = *publish_to(sys, "CHAT");
        sub = *subscribe_to(sys, "CHAT");
        probe = *subscribe_to(sys, "CHAT");
      }
      raw_sinks out{sys, 3};
      auto& sinks = out.actors;
      ending end_all{{pub, sub, probe}};
      caf::scoped_actor self{sys};
      // Once the subscriber has answered, it has taken the link requests sent
      // before and told its hub; the hub takes that before a later request.
      auto settled = [&] {
        bool ok = false;
        self->request(sub, std::chrono::seconds(2), introspect_atom::value)
          .receive([&](component_report&) { ok = true; }, [](caf::error&) {});
        REQUIRE(ok);
      };
      auto ints = [&](size_t k) { return out.ints(k); };
      auto publish = [&](int from, int to) {
        boost::asio::post(a.ioc, [&, from, to] {
          for (int i = from; i < to; ++i)
            caf::anon_send(pub, inbox, i);
        });
      };
      auto range = [](int from, int to) {
        std::vector<int> xs;
        for (int i = from; i < to; ++i)
          xs.push_back(i);
        return xs;
      };
      link(sub, outbox, sinks[0], inbox);
      link(probe, outbox, sinks[2], inbox);
      settled();
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 2; }));
      publish(0, 10);
      REQUIRE(test::eventually([&] { return ints(0).size() >= 10; }));
      unlink(sub, outbox);
      link(sub, outbox, sinks[1], inbox);
      settled();
      CHECK(subscribers(sys, *bp) == 2);
      publish(10, 20);
      REQUIRE(test::eventually([&] { return ints(1).size() >= 10; }));
      unlink(sub, outbox);
      settled();
      CHECK(subscribers(sys, *bp) == 2);
      publish(20, 30);
      REQUIRE(test::eventually([&] { return ints(2).size() >= 30; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      CHECK(ints(0) == range(0, 10));
      CHECK(ints(1) == range(10, 20));
      CHECK(ints(2) == range(0, 30));
    }
  }

  TEST_CASE("per-publisher order holds while a subscriber is linked and relinked "
            "mid-stream (the hub's route switch overtakes nothing)") {
    for (bool on_io_thread : {true, false}) {
      CAPTURE(on_io_thread);
      test::test_system ts;
      auto& sys = *ts;
      auto bp = backplane(sys, "CHAT");
      REQUIRE(bp);
      ending end_bp{{*bp}};
      io_thread a{sys};
      caf::actor pub, sub;
      if (on_io_thread) { // the thread hub
        actor_thread_scope scope{a.home};
        pub = *publish_to(sys, "CHAT");
        sub = *subscribe_to(sys, "CHAT");
      } else { // the root, on CAF's scheduler (hub and subscriber on any worker)
        pub = *publish_to(sys, "CHAT");
        sub = *subscribe_to(sys, "CHAT");
      }
      raw_sinks out{sys, 2};
      auto& sinks = out.actors;
      ending end_all{{pub, sub}};
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 1; }));
      // 4000 rounds of 5 publications while the links change.
      constexpr int rounds = 4000;
      std::atomic<int> done{0};
      std::thread feeder;
      if (on_io_thread) {
        for (int r = 0; r < rounds; ++r)
          boost::asio::post(a.ioc, [&, r] {
            for (int i = 0; i < 5; ++i)
              caf::anon_send(pub, inbox, r * 5 + i);
            done.fetch_add(1);
          });
      } else {
        feeder = std::thread([&] {
          for (int r = 0; r < rounds; ++r) {
            for (int i = 0; i < 5; ++i)
              caf::anon_send(pub, inbox, r * 5 + i);
            done.fetch_add(1);
            if (r % 50 == 0)
              std::this_thread::sleep_for(std::chrono::microseconds(50));
          }
        });
      }
      for (int k = 0; k < 40 && done.load() < rounds; ++k) {
        unlink(sub, outbox);
        link(sub, outbox, sinks[k % 2], inbox);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (feeder.joinable())
        feeder.join();
      REQUIRE(test::eventually([&] { return done.load() == rounds; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      size_t total = 0;
      for (size_t k = 0; k < 2; ++k) {
        auto xs = out.ints(k);
        CHECK(std::is_sorted(xs.begin(), xs.end()));
        CHECK(std::adjacent_find(xs.begin(), xs.end()) == xs.end());
        total += xs.size();
      }
      CHECK(total > 0);
    }
  }

  TEST_CASE("a subscriber skips what its own publisher sent, not what others sent") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    auto mine = publish_to(sys, "CHAT");
    auto other = publish_to(sys, "CHAT");
    REQUIRE(mine);
    REQUIRE(other);
    auto sub = subscribe_to(sys, "CHAT", mine->id());
    REQUIRE(sub);
    harness h{sys, *sub};
    harness hm{sys, *mine};
    harness ho{sys, *other};
    hm.send_text(inbox, "mine");
    ho.send_text(inbox, "theirs");
    CHECK(h.read_text(outbox, 6) == "theirs");
    CHECK(h.silent(outbox));
    end(*bp);
  }

  TEST_CASE("a subscriber that ends is dropped: no delivery to it, no actor left") {
    test::test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    {
      std::vector<caf::actor> subs;
      for (int i = 0; i < 20; ++i) {
        auto s = subscribe_to(sys, "CHAT");
        REQUIRE(s);
        subs.push_back(*s);
      }
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 20; }));
      for (auto& s : subs)
        caf::anon_send(s, control, producer_finished{});
    }
    CHECK(test::eventually([&] { return subscribers(sys, *bp) == 0; }));
    auto pub = publish_to(sys, "CHAT");
    REQUIRE(pub);
    caf::anon_send(*pub, inbox, std::string("to nobody"));
    // Left: the backplane and the publisher.
    CHECK(test::eventually([&] { return sys.registry().running() == base + 2; }));
    caf::anon_send(*pub, control, producer_finished{});
    end(*bp);
    CHECK(test::eventually([&] { return sys.registry().running() == base; }));
  }

  TEST_CASE("two backplanes with different names are isolated") {
    test::test_system ts;
    auto& sys = *ts;
    auto a = backplane(sys, "A");
    auto b = backplane(sys, "B");
    REQUIRE(a);
    REQUIRE(b);
    auto sa = subscribe_to(sys, "A");
    auto sb = subscribe_to(sys, "B");
    REQUIRE(sa);
    REQUIRE(sb);
    harness ha{sys, *sa};
    harness hb{sys, *sb};
    auto pa = publish_to(sys, "A");
    REQUIRE(pa);
    caf::anon_send(*pa, inbox, to_bytes("for a"));
    CHECK(ha.read_text(outbox, 5) == "for a");
    CHECK(hb.silent(outbox));
    end(*a);
    end(*b);
  }

  TEST_CASE("publisher or subscriber before the backplane, or after it ended, fails") {
    test::test_system ts;
    auto& sys = *ts;
    auto p = publish_to(sys, "NONE");
    REQUIRE_FALSE(p);
    CHECK(p.error() == caf::sec::runtime_error);
    CHECK_FALSE(subscribe_to(sys, "NONE"));
    // A registered actor that is not a backplane is not taken for one.
    CHECK_FALSE(publish_to(sys, "ConfigServ"));
    auto bp = backplane(sys, "GONE");
    REQUIRE(bp);
    auto sub = subscribe_to(sys, "GONE");
    REQUIRE(sub);
    harness h{sys, *sub};
    end(*bp);
    // One already attached fails with the backplane.
    auto why = h.wait_for_exit();
    REQUIRE(why);
    CHECK(*why == caf::sec::runtime_error);
    CHECK(test::eventually([&] { return !publish_to(sys, "GONE"); }));
  }

  TEST_CASE("a second backplane of the same name, or a bad name, is an error") {
    test::test_system ts;
    auto& sys = *ts;
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    auto dup = backplane(sys, "CHAT");
    REQUIRE_FALSE(dup);
    CHECK(dup.error() == caf::sec::invalid_argument);
    CHECK_FALSE(backplane(sys, ""));
    CHECK_FALSE(backplane(sys, "elevenchars"));
    CHECK_FALSE(backplane(sys, "a-b"));
    end(*bp);
    // The name is free again once it ended.
    CHECK(test::eventually([&] {
      auto again = backplane(sys, "CHAT");
      if (again)
        end(*again);
      return static_cast<bool>(again);
    }));
  }

  TEST_CASE("across I/O threads: each thread's hub delivers there and relays once; "
            "every subscriber gets each message once, in per-publisher order") {
    test::test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    auto bp = backplane(sys, "CHAT");
    REQUIRE(bp);
    {
      io_thread a{sys};
      io_thread b{sys};
      caf::actor pub_a, sub_a_skip, sub_a, pub_b, sub_b;
      {
        actor_thread_scope scope{a.home};
        auto p = publish_to(sys, "CHAT");
        REQUIRE(p);
        pub_a = *p;
        auto s1 = subscribe_to(sys, "CHAT", pub_a.id());
        auto s2 = subscribe_to(sys, "CHAT");
        REQUIRE(s1);
        REQUIRE(s2);
        sub_a_skip = *s1;
        sub_a = *s2;
      }
      {
        actor_thread_scope scope{b.home};
        auto p = publish_to(sys, "CHAT");
        auto s = subscribe_to(sys, "CHAT");
        REQUIRE(p);
        REQUIRE(s);
        pub_b = *p;
        sub_b = *s;
      }
      CHECK(home_of(sub_a) == a.home);
      CHECK(home_of(sub_b) == b.home);
      auto sub_d = subscribe_to(sys, "CHAT"); // on the test thread: the root's own
      auto pub_d = publish_to(sys, "CHAT");
      REQUIRE(sub_d);
      REQUIRE(pub_d);
      harness h_skip{sys, sub_a_skip};
      harness h_a{sys, sub_a};
      harness h_b{sys, sub_b};
      harness h_d{sys, *sub_d};
      // Root, two thread hubs, 3 publishers, 4 subscribers (+ 4 collectors).
      REQUIRE(test::eventually([&] { return subscribers(sys, *bp) == 4; }));
      CHECK(sys.registry().running() == base + 1 + 2 + 3 + 4 + 4);
      const int per = 30;
      for (int i = 0; i < per; ++i) {
        caf::anon_send(pub_a, inbox, std::string("a"), i);
        caf::anon_send(pub_b, inbox, std::string("b"), i);
        caf::anon_send(*pub_d, inbox, std::string("d"), i);
      }
      auto collect = [&](harness& h, size_t n) {
        std::map<std::string, std::vector<int>> got;
        for (size_t k = 0; k < n; ++k) {
          auto m = h.next(outbox);
          if (!m || !m->match_elements<std::string, int>())
            break;
          got[m->get_as<std::string>(0)].push_back(m->get_as<int>(1));
        }
        return got;
      };
      std::vector<int> all(per);
      for (int i = 0; i < per; ++i)
        all[static_cast<size_t>(i)] = i;
      for (auto* h : {&h_a, &h_b, &h_d}) {
        auto got = collect(*h, 3 * per);
        CHECK(got["a"] == all);
        CHECK(got["b"] == all);
        CHECK(got["d"] == all);
        CHECK(h->silent(outbox)); // no duplicates
      }
      auto got = collect(h_skip, 2 * per);
      CHECK(got.count("a") == 0);
      CHECK(got["b"] == all);
      CHECK(got["d"] == all);
      CHECK(h_skip.silent(outbox));
      // The root ends: the threads' hubs end, and with them what hangs on them.
      end(*bp);
      for (auto* h : {&h_skip, &h_a, &h_b}) {
        auto why = h->wait_for_exit();
        REQUIRE(why);
        CHECK(*why == caf::sec::runtime_error);
      }
      for (auto& p : {pub_a, pub_b, *pub_d})
        caf::anon_send(p, control, producer_finished{});
    }
    CHECK(test::eventually([&] { return sys.registry().running() == base; }));
  }
} // TEST_SUITE
