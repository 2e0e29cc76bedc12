// Graphline: link table, passthrough, control fan-out, its own signal.
#include <doctest/doctest.h>

#include <set>

#include "chassis/graphline.hpp"
#include "runtime/harness.hpp"
#include "tests/chassis/composite_test_support.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;
using chassis::graphline;

namespace {

std::set<std::string> read_set(harness& h, size_t n) {
  std::set<std::string> got;
  for (size_t i = 0; i < n; ++i) {
    auto m = h.next_as<bytes>(outbox);
    if (!m)
      break;
    got.emplace(as_text(*m));
  }
  return got;
}

} // namespace

TEST_SUITE("chassis.graphline") {

  TEST_CASE("control reaches every child without an explicit control link") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, graphline(sys,
                               {{"a", sys.spawn(control_probe, std::string("a"))},
                                {"b", sys.spawn(control_probe, std::string("b"))},
                                {"c", sys.spawn(control_probe, std::string("c"))}},
                               {{{"self", inbox}, {"a", inbox}},
                                {{"a", outbox}, {"self", outbox}},
                                {{"b", outbox}, {"self", outbox}},
                                {{"c", outbox}, {"self", outbox}}})};
      h.send_text(inbox, "hi");
      CHECK(h.read_text(outbox, 2) == "hi");
      h.send(control, shutdown_microprocess{});
      CHECK(read_set(h, 3) == std::set<std::string>{"ctl:a", "ctl:b", "ctl:c"});
      CHECK(h.next_as<shutdown_microprocess>(signal));
      CHECK(h.wait_for_exit());
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("a child controlled by a sibling is not in the fan-out") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, graphline(sys,
                             {{"a", sys.spawn(control_probe, std::string("a"))},
                              {"b", sys.spawn(control_probe, std::string("b"))}},
                             {{{"a", signal}, {"b", control}},
                              {{"a", outbox}, {"self", outbox}},
                              {{"b", outbox}, {"self", outbox}}})};
    h.send(control, producer_finished{});
    // a hears it first; b only through a's signal, so strictly after.
    CHECK(h.read_text(outbox, 5) == "ctl:a");
    CHECK(h.read_text(outbox, 5) == "ctl:b");
    CHECK(h.silent(outbox));
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("self to self forwards, and self inbox fans out to children") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, graphline(sys, {{"p", sys.spawn(prefixer, std::string("p:"))}},
                             {{{"self", inbox}, {"self", outbox}},
                              {{"self", inbox}, {"p", inbox}},
                              {{"p", outbox}, {"self", outbox}}})};
    h.send_text(inbox, "x");
    auto got = read_set(h, 2);
    CHECK(got == std::set<std::string>{"x", "p:x"});
  }

  TEST_CASE("the signal waits for every child, and says what it was told") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, graphline(sys,
                             {{"q", sys.spawn(quitter)},
                              {"e", sys.spawn(control_probe, std::string("e"))}},
                             {{{"self", inbox}, {"q", inbox}},
                              {{"q", signal}, {"self", signal}},
                              {{"q", outbox}, {"self", outbox}}})};
    h.send_text(inbox, "bye"); // q ends; e still runs
    CHECK(h.silent(signal, std::chrono::milliseconds(150)));
    h.send(control, shutdown_microprocess{}); // only e is left to hear it
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("a failing child fails the graphline, and no child outlives it") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, graphline(sys,
                               {{"q", sys.spawn(quitter)},
                                {"e", sys.spawn(control_probe, std::string("e"))}},
                               {{{"self", inbox}, {"q", inbox}}})};
      h.send_text(inbox, "fail");
      auto reason = h.wait_for_exit();
      REQUIRE(reason);
      CHECK(*reason);
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("bad tables are refused before anything runs") {
    test_system ts;
    auto& sys = *ts;
    auto a = sys.spawn(add_one);
    CHECK_THROWS_AS(graphline(sys, {{"a", a}}, {{{"a", outbox}, {"nobody", inbox}}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(graphline(sys, {{"a", a}, {"a", a}}, {}), std::invalid_argument);
    CHECK_THROWS_AS(graphline(sys, {{"self", a}}, {}), std::invalid_argument);
    caf::anon_send_exit(a, caf::exit_reason::kill);
  }

} // TEST_SUITE
