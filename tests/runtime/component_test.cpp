// Specification of the component model: boxes, links, passthrough, control.
#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "runtime/component.hpp"
#include "runtime/harness.hpp"
#include "tests/support/test_system.hpp"

using namespace kam::runtime;
using kam::test::test_system;

namespace {

using extra_atom = caf::atom_constant<caf::atom("extra")>;

/// Sends whatever arrives on inbox to outbox, and on `extra` to `extra`.
caf::behavior relay(component* self) {
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](extra_atom, int x) { self->send_on(extra_atom::value, x); },
  };
}

/// Reports whether its outbox is linked, on its signal outbox.
caf::behavior prober(component* self) {
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](control_atom, int) { self->send_on(signal, self->linked(outbox)); },
  };
}

/// Passes ints on inbox to outbox; ends itself (quit) at 2.
caf::behavior quits_at_two(component* self) {
  return {
    [=](inbox_atom, int x) {
      self->send_on(outbox, x);
      if (x == 2)
        self->quit();
    },
  };
}

caf::message batch_of(std::vector<caf::message> xs) {
  return caf::make_message(message_batch{std::move(xs)});
}

} // namespace

TEST_SUITE("runtime.component") {

  TEST_CASE("a message_batch on a box is handled as its messages, in order, nested too") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay), {outbox, extra_atom::value}};
    auto text = [](const char* s) { return caf::make_message(to_bytes(s)); };
    h.send(inbox, message_batch{
                    {text("a"), text("b"), batch_of({text("c"), text("d")}), text("e")}});
    h.send(extra_atom::value,
           message_batch{{caf::make_message(1), caf::make_message(2)}});
    CHECK(h.read_text(outbox, 5) == "abcde");
    auto one = h.next_as<int>(extra_atom::value);
    auto two = h.next_as<int>(extra_atom::value);
    REQUIRE(one);
    REQUIRE(two);
    CHECK(*one == 1);
    CHECK(*two == 2);
    CHECK(h.silent(outbox));
  }

  TEST_CASE("a message_batch's messages the behavior does not take get the default "
            "handling, and an end inside a batch drops the rest, as the mailbox would") {
    test_system ts;
    {
      // Unexpected first (dropped, reported), then producer_finished ends it:
      // what follows in the batch is never handled.
      harness h{*ts, ts.sys->spawn(relay)};
      h.send(control, message_batch{{caf::make_message(std::string{"odd"}),
                                     caf::make_message(pause_producing{}),
                                     caf::make_message(producer_finished{}),
                                     caf::make_message(shutdown_microprocess{})}});
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
      CHECK(h.silent(signal));
    }
    {
      harness h{*ts, ts.sys->spawn(quits_at_two)};
      h.send(inbox, message_batch{{caf::make_message(1), caf::make_message(2),
                                   caf::make_message(3)}});
      auto one = h.next_as<int>(outbox);
      auto two = h.next_as<int>(outbox);
      REQUIRE(one);
      REQUIRE(two);
      CHECK(*one == 1);
      CHECK(*two == 2);
      CHECK(h.wait_for_exit());
      CHECK(h.silent(outbox));
    }
  }

  TEST_CASE("data on a linked outbox arrives on the linked inbox, in order") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay)};
    for (int i = 0; i < 100; ++i)
      h.send_text(inbox, std::to_string(i) + ";");
    std::string expected;
    for (int i = 0; i < 100; ++i)
      expected += std::to_string(i) + ";";
    CHECK(h.read_text(outbox, expected.size()) == expected);
  }

  TEST_CASE("an unlinked outbox discards and the component keeps working") {
    test_system ts;
    auto subject = ts.sys->spawn(relay);
    harness h{*ts, subject, {signal}}; // outbox deliberately not linked
    h.send_text(inbox, "lost");
    CHECK(h.silent(outbox));
    link(subject, outbox, h.collector(), outbox);
    h.send_text(inbox, "found");
    CHECK(h.read_text(outbox, 5) == "found");
  }

  TEST_CASE("unlink stops delivery on that outbox only") {
    test_system ts;
    auto subject = ts.sys->spawn(relay);
    harness h{*ts, subject, {outbox, extra_atom::value}};
    h.send_text(inbox, "a");
    CHECK(h.read_text(outbox, 1) == "a");
    unlink(subject, outbox);
    h.send_text(inbox, "b");
    h.send(extra_atom::value, 7);
    CHECK(h.next_as<int>(extra_atom::value) == 7);
    CHECK(h.silent(outbox));
  }

  TEST_CASE("linked() reports the link table") {
    test_system ts;
    auto subject = ts.sys->spawn(prober);
    harness h{*ts, subject, {signal}};
    h.send(control, 1);
    CHECK(h.next_as<bool>(signal) == false);
    link(subject, outbox, h.collector(), outbox);
    h.send(control, 1);
    CHECK(h.next_as<bool>(signal) == true);
  }

  TEST_CASE("many outboxes may link to one inbox") {
    test_system ts;
    auto a = ts.sys->spawn(relay);
    auto b = ts.sys->spawn(relay);
    harness h{*ts, a};
    link(b, outbox, h.collector(), outbox); // b joins a's destination
    h.send_text(inbox, "from-a");
    caf::anon_send(b, inbox, to_bytes("from-b"));
    auto got = h.read_text(outbox, 12);
    CHECK(got.size() == 12);
    CHECK(got.find("from-a") != std::string::npos);
    CHECK(got.find("from-b") != std::string::npos);
    caf::anon_send_exit(b, caf::exit_reason::kill);
  }

  TEST_CASE("one outbox linked to two inboxes delivers a copy to each") {
    test_system ts;
    auto subject = ts.sys->spawn(relay);
    harness h{*ts, subject};
    link(subject, outbox, h.collector(), extra_atom::value);
    h.send_text(inbox, "twice");
    CHECK(h.read_text(outbox, 5) == "twice");
    CHECK(h.read_text(extra_atom::value, 5) == "twice");
  }

  TEST_CASE("named extra boxes carry any payload") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay), {extra_atom::value}};
    h.send(extra_atom::value, 42);
    CHECK(h.next_as<int>(extra_atom::value) == 42);
  }

  TEST_CASE("producer_finished on control: passes it on signal and ends normally") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay)};
    h.send(control, producer_finished{});
    CHECK(h.next_as<producer_finished>(signal).has_value());
    auto reason = h.wait_for_exit();
    REQUIRE(reason.has_value());
    CHECK(!*reason);
  }

  TEST_CASE("shutdown_microprocess on control: passes it on signal and ends") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay)};
    h.send(control, shutdown_microprocess{});
    CHECK(h.next_as<shutdown_microprocess>(signal).has_value());
    CHECK(h.wait_for_exit().has_value());
  }

  TEST_CASE("socket_shutdown on control ends a component that does not handle it") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay)};
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    CHECK(h.next_as<producer_finished>(signal).has_value());
    CHECK(h.wait_for_exit().has_value());
  }

  TEST_CASE("an unexpected message is dropped and the component keeps running") {
    test_system ts;
    harness h{*ts, ts.sys->spawn(relay)};
    h.send(inbox, std::string{"not bytes"});
    h.send_text(inbox, "ok");
    CHECK(h.read_text(outbox, 2) == "ok");
    CHECK(!h.wait_for_exit(std::chrono::milliseconds(50)).has_value());
  }

} // TEST_SUITE
