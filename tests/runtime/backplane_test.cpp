// The Backplane, publish_to and subscribe_to on the in-memory harness.
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "runtime/backplane.hpp"
#include "runtime/harness.hpp"
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

} // namespace

TEST_SUITE("runtime.backplane") {

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

} // TEST_SUITE
