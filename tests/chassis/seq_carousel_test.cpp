// Seq and carousel: switching children, control forwarded to the current one.
#include <doctest/doctest.h>

#include "chassis/carousel.hpp"
#include "chassis/seq.hpp"
#include "runtime/harness.hpp"
#include "tests/chassis/composite_test_support.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;

namespace {

/// A seq step that greets and is done: it sends from its body, which works
/// because seq installs its links first.
caf::behavior banner(component* self) {
  self->send_on(outbox, to_bytes("hello\n"));
  self->finish(producer_finished{});
  return {};
}

chassis::component_body probe(std::string name) {
  return [name](component* self) { return control_probe(self, name); };
}

chassis::component_body prefix(std::string p) {
  return [p](component* self) { return prefixer(self, p); };
}

/// A carousel factory: `(next, "name")` makes a control probe that prefixes
/// nothing; `(next, "p", prefix)` a prefixer.
chassis::carousel_factory factory() {
  return [](component* self, const caf::message& args) -> caf::behavior {
    if (args.match_elements<std::string, std::string>())
      return prefixer(self, args.get_as<std::string>(1));
    if (args.match_elements<std::string>())
      return control_probe(self, args.get_as<std::string>(0));
    return quitter(self);
  };
}

} // namespace

TEST_SUITE("chassis.seq") {

  TEST_CASE("steps run one after another; a step may send from its body") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, chassis::seq(sys, {banner, prefix("2:")})};
      CHECK(h.read_text(outbox, 6) == "hello\n");
      h.send_text(inbox, "a");
      CHECK(h.read_text(outbox, 3) == "2:a");
      h.send(control, producer_finished{});
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("control reaches the current step; the end of input reaches later steps") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, chassis::seq(sys, {probe("s1"), probe("s2")})};
    h.send_text(inbox, "x");
    CHECK(h.read_text(outbox, 1) == "x");
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    CHECK(h.read_text(outbox, 6) == "ctl:s1");
    CHECK(h.read_text(outbox, 6) == "ctl:s2");
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("shutdown_microprocess stops the sequence") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, chassis::seq(sys, {probe("s1"), probe("s2")})};
    h.send(control, shutdown_microprocess{});
    CHECK(h.read_text(outbox, 6) == "ctl:s1");
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.wait_for_exit());
    CHECK(h.silent(outbox));
  }

  TEST_CASE("killing the seq kills its step") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    auto s = chassis::seq(sys, {probe("s1")});
    caf::anon_send(s, inbox_atom::value, to_bytes("x")); // starts the first step
    CHECK(running_becomes(sys, base + 2));
    caf::anon_send_exit(s, caf::exit_reason::kill);
    s = caf::actor{};
    CHECK(running_becomes(sys, base));
  }

} // TEST_SUITE

TEST_SUITE("chassis.carousel") {

  TEST_CASE("next replaces the child; input in between goes to the new one") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys,
                chassis::carousel(sys, factory()),
                {outbox, signal, chassis::reqnext_atom::value}};
      h.send(chassis::next_atom::value, std::string("p"), std::string("A:"));
      h.send_text(inbox, "x");
      CHECK(h.read_text(outbox, 3) == "A:x");
      h.send(chassis::next_atom::value, std::string("p"), std::string("B:"));
      h.send_text(inbox, "y"); // held until B runs
      CHECK(h.read_text(outbox, 3) == "B:y");
      CHECK(h.silent(chassis::reqnext_atom::value));
      h.send(control, producer_finished{});
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("control reaches the current child") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys,
              chassis::carousel(sys, factory(), caf::make_message(std::string("c1")))};
    h.send(control, shutdown_microprocess{});
    CHECK(h.read_text(outbox, 6) == "ctl:c1");
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("a child that ends by itself asks for the next") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys,
              chassis::carousel(sys, factory(), caf::make_message()),
              {outbox, signal, chassis::reqnext_atom::value}};
    h.send_text(inbox, "bye");
    CHECK(h.next_as<producer_finished>(chassis::reqnext_atom::value));
    h.send(chassis::next_atom::value, std::string("p"), std::string("C:"));
    h.send_text(inbox, "z");
    CHECK(h.read_text(outbox, 3) == "C:z");
  }

  TEST_CASE("a failing child fails the carousel") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      harness h{sys, chassis::carousel(sys, factory(), caf::make_message())};
      h.send_text(inbox, "fail");
      auto reason = h.wait_for_exit();
      REQUIRE(reason);
      CHECK(*reason);
    }
    CHECK(running_becomes(sys, base));
  }

} // TEST_SUITE
