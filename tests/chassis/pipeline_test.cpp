// Pipeline: ordering, passthrough, lifetime.
#include <doctest/doctest.h>

#include "chassis/pipeline.hpp"
#include "runtime/harness.hpp"
#include "tests/chassis/composite_test_support.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;

TEST_SUITE("chassis.pipeline") {

  TEST_CASE("10,000 messages pass three stages in order") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, chassis::pipeline(sys, sys.spawn(add_one), sys.spawn(add_one),
                                       sys.spawn(add_one))};
      constexpr int n = 10000;
      for (int i = 0; i < n; ++i)
        h.send(inbox, i);
      int wrong = 0;
      for (int i = 0; i < n; ++i) {
        auto x = h.next_as<int>(outbox);
        if (!x || *x != i + 3) {
          ++wrong;
          break;
        }
      }
      CHECK(wrong == 0);
      h.send(control, producer_finished{});
      CHECK(h.next_as<producer_finished>(signal));
      auto reason = h.wait_for_exit();
      REQUIRE(reason);
      CHECK(!*reason);
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("inbox and control reach the first child, outbox and signal leave the last") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, chassis::pipeline(sys, sys.spawn(prefixer, std::string("a")),
                                     sys.spawn(prefixer, std::string("b")))};
    h.send_text(inbox, "x");
    CHECK(h.read_text(outbox, 3) == "bax");
    h.send(control, shutdown_microprocess{});
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("links on the pipeline's outbox follow link and unlink requests") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, chassis::pipeline(sys, sys.spawn(prefixer, std::string("a")))};
    h.send_text(inbox, "1");
    CHECK(h.read_text(outbox, 2) == "a1");
    unlink(h.subject(), outbox);
    h.send_text(inbox, "2");
    CHECK(h.silent(outbox));
    link(h.subject(), outbox, h.collector(), outbox);
    h.send_text(inbox, "3");
    CHECK(h.read_text(outbox, 2) == "a3");
  }

  TEST_CASE("a single-stage pipeline is its child") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, chassis::pipeline(sys, sys.spawn(control_probe, std::string("only")))};
    h.send_text(inbox, "hi");
    CHECK(h.read_text(outbox, 2) == "hi");
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    CHECK(h.read_text(outbox, 8) == "ctl:only");
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("a failing child fails the pipeline and ends every other child") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, chassis::pipeline(sys, sys.spawn(quitter), sys.spawn(add_one),
                                       sys.spawn(quitter))};
      h.send_text(inbox, "fail");
      auto reason = h.wait_for_exit();
      REQUIRE(reason);
      CHECK(*reason); // not a normal end
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("killing the pipeline kills every child") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    auto p =
      chassis::pipeline(sys, sys.spawn(quitter), sys.spawn(quitter), sys.spawn(quitter));
    CHECK(running_becomes(sys, base + 4));
    caf::anon_send_exit(p, caf::exit_reason::kill);
    p = caf::actor{};
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("a child may end early; the pipeline ends when the last one does") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, chassis::pipeline(sys, sys.spawn(quitter), sys.spawn(quitter))};
      h.send_text(inbox, "bye"); // the first ends, its signal ends the second
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("no children, or an invalid one, is refused") {
    test_system ts;
    auto& sys = *ts;
    CHECK_THROWS_AS(chassis::pipeline(sys, std::vector<caf::actor>{}),
                    std::invalid_argument);
    auto orphan = sys.spawn(add_one);
    CHECK_THROWS_AS(chassis::pipeline(sys, orphan, caf::actor{}), std::invalid_argument);
    caf::anon_send_exit(orphan, caf::exit_reason::kill);
  }

} // TEST_SUITE
