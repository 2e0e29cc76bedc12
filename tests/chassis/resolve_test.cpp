// Links into a pipeline/graphline resolve to the child at link time (Axon's
// passthrough): the source's link table points at the child, data and
// control keep one path and their order, and what must not resolve doesn't.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <caf/all.hpp>

#include "chassis/carousel.hpp"
#include "chassis/graphline.hpp"
#include "chassis/pipeline.hpp"
#include "chassis/seq.hpp"
#include "runtime/harness.hpp"
#include "runtime/introspect.hpp"
#include "tests/chassis/composite_test_support.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::test;
using namespace std::chrono_literals;
using chassis::graphline;
using chassis::pipeline;

namespace {

using ctrlout_atom = caf::atom_constant<caf::atom("ctrlout")>;
constexpr box ctrlout = ctrlout_atom::value;
/// `(feed_atom, x)` to a feeder: it sends `x` on `ctrlout` (send_on).
using feed_atom = caf::atom_constant<caf::atom("feed")>;
/// `(feedmsg_atom, msg)` to a feeder: it sends msg on `ctrlout` (send_message_on).
using feedmsg_atom = caf::atom_constant<caf::atom("feedmsg")>;
/// `(attach_atom, x)` to a feeder: it CAF-links itself to `x` (as a CSA to its handler).
using attach_atom = caf::atom_constant<caf::atom("attach")>;

/// A test source, as the CSA is: bytes on inbox -> `outbox`; Ipc messages
/// it is fed -> `ctrlout`.
caf::behavior feeder(component* self) {
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](feed_atom, pause_producing x) { self->send_on(ctrlout, x); },
    [=](feed_atom, resume_producing x) { self->send_on(ctrlout, x); },
    [=](feed_atom, producer_finished x) { self->send_on(ctrlout, x); },
    [=](feed_atom, socket_shutdown x) { self->send_on(ctrlout, x); },
    [=](feed_atom, shutdown_microprocess x) { self->send_on(ctrlout, x); },
    [=](feedmsg_atom, const caf::message& m) { self->send_message_on(ctrlout, m); },
    [=](attach_atom, const caf::actor& x) { self->link_to(x); },
  };
}

/// Passes bytes on and says what arrived on control, in arrival order:
/// "<pause>", "<resume>", "<shutdown>" / "<finished>" (and then ends).
caf::behavior recorder(component* self) {
  auto say = [self](const char* s) { self->send_on(outbox, to_bytes(s)); };
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](control_atom, pause_producing) { say("<pause>"); },
    [=](control_atom, resume_producing) { say("<resume>"); },
    [=](control_atom, socket_shutdown) {
      say("<shutdown>");
      self->finish(producer_finished{});
    },
    [=](control_atom, producer_finished x) {
      say("<finished>");
      self->finish(x);
    },
  };
}

component_report report_of(caf::actor_system& sys, const caf::actor& x) {
  caf::scoped_actor self{sys};
  component_report r;
  self->request(x, 2s, introspect_atom::value)
    .receive([&](component_report& y) { r = std::move(y); },
             [&](caf::error& e) { FAIL("no report: " << sys.render(e)); });
  return r;
}

/// Where `x`'s outbox `out` is linked (its first link), as its report says.
std::pair<caf::actor, box> target_of(caf::actor_system& sys, const caf::actor& x,
                                     box out) {
  for (auto& l : report_of(sys, x).links)
    if (l.from == out)
      return {l.dest, l.to};
  return {caf::actor{}, inbox};
}

/// A feeder linked (outbox, ctrlout) -> (`dest`'s inbox, control).
caf::actor feed(caf::actor_system& sys, const caf::actor& dest) {
  auto f = sys.spawn(feeder);
  link(f, outbox, dest, inbox);
  link(f, ctrlout, dest, control);
  return f;
}

void send_bytes(const caf::actor& f, const std::string& text) {
  caf::anon_send(f, inbox_atom::value, to_bytes(text));
}

template <class T>
void send_ctl(const caf::actor& f, T x) {
  caf::anon_send(f, feed_atom::value, x);
}

} // namespace

TEST_SUITE("chassis.resolve") {

  TEST_CASE("a link to a pipeline's inbox and control points at its first child") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      auto a = sys.spawn(recorder);
      auto b = sys.spawn(prefixer, std::string("b"));
      harness h{sys, pipeline(sys, a, b)};
      auto f = feed(sys, h.subject());
      CHECK(target_of(sys, f, outbox) == std::make_pair(a, inbox));
      CHECK(target_of(sys, f, ctrlout) == std::make_pair(a, control));
      send_bytes(f, "x");
      CHECK(h.read_text(outbox, 2) == "bx");
      // The composite's own table is unchanged (and still used by whoever
      // sends to it directly, as the harness does).
      auto r = report_of(sys, h.subject());
      CHECK(r.name == "kam.pipeline");
      CHECK(r.children == std::vector<caf::actor>{a, b});
      bool inbox_route = false;
      for (auto& p : r.passthrough)
        inbox_route |= p.from == inbox && p.dest == a && p.to == inbox;
      CHECK(inbox_route);
      h.send_text(inbox, "y");
      CHECK(h.read_text(outbox, 2) == "by");
      send_ctl(f, producer_finished{});
      CHECK(h.read_text(outbox, 11) == "b<finished>");
      CHECK(h.next_as<producer_finished>(signal));
      auto reason = h.wait_for_exit();
      REQUIRE(reason);
      CHECK(!*reason);
      caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
    }
    CHECK(running_becomes(sys, base));
  }

  TEST_CASE("a link on a pipeline's outbox is made on its last child at once") {
    test_system ts;
    auto& sys = *ts;
    auto a = sys.spawn(prefixer, std::string("a"));
    auto b = sys.spawn(prefixer, std::string("b"));
    auto p = pipeline(sys, a, b);
    auto sink = sys.spawn(feeder); // any component with an inbox
    link(p, outbox, sink, inbox);
    // The request went to b itself, ahead of this introspection request.
    CHECK(target_of(sys, b, outbox) == std::make_pair(sink, inbox));
    unlink(p, outbox);
    CHECK(target_of(sys, b, outbox).first == caf::actor{});
    caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("data then socket_shutdown keep their order through a resolved pipeline") {
    test_system ts;
    auto& sys = *ts;
    auto a = sys.spawn(recorder);
    harness h{sys, pipeline(sys, a, sys.spawn(prefixer, std::string()))};
    auto f = feed(sys, h.subject());
    REQUIRE(target_of(sys, f, outbox).first == a);
    std::string want;
    for (int i = 0; i < 500; ++i) {
      auto s = std::to_string(i) + ",";
      send_bytes(f, s);
      want += s;
    }
    send_ctl(f, socket_shutdown{shutdown_reason::peer_closed});
    want += "<shutdown>";
    CHECK(h.read_text(outbox, want.size()) == want);
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("control then data: pause, resume and data keep their order") {
    test_system ts;
    auto& sys = *ts;
    auto a = sys.spawn(recorder);
    harness h{sys, pipeline(sys, a)};
    auto f = feed(sys, h.subject());
    REQUIRE(target_of(sys, f, ctrlout).first == a);
    std::string want;
    for (int i = 0; i < 300; ++i) {
      if (i % 10 == 0) {
        send_ctl(f, pause_producing{});
        want += "<pause>";
      }
      if (i % 10 == 5) {
        // Through send_message_on (any payload), as a relay would.
        caf::anon_send(f, feedmsg_atom::value, caf::make_message(resume_producing{}));
        want += "<resume>";
      }
      auto s = std::to_string(i) + ",";
      send_bytes(f, s);
      want += s;
    }
    send_ctl(f, producer_finished{});
    want += "<finished>";
    CHECK(h.read_text(outbox, want.size()) == want);
    CHECK(h.next_as<producer_finished>(signal));
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("nested composites resolve to the innermost first child") {
    test_system ts;
    auto& sys = *ts;
    SUBCASE("a pipeline of pipelines") {
      auto a = sys.spawn(recorder);
      auto inner = pipeline(sys, a, sys.spawn(prefixer, std::string("b")));
      harness h{sys, pipeline(sys, inner, sys.spawn(prefixer, std::string("c")))};
      auto f = feed(sys, h.subject());
      CHECK(target_of(sys, f, outbox) == std::make_pair(a, inbox));
      CHECK(target_of(sys, f, ctrlout) == std::make_pair(a, control));
      send_bytes(f, "x");
      CHECK(h.read_text(outbox, 3) == "cbx");
      send_ctl(f, socket_shutdown{shutdown_reason::peer_closed});
      CHECK(h.read_text(outbox, 12) == "cb<shutdown>");
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
      caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
    }
    SUBCASE("a graphline whose inbox leads into a pipeline") {
      auto a = sys.spawn(recorder);
      auto inner = pipeline(sys, a, sys.spawn(prefixer, std::string("b")));
      harness h{
        sys, graphline(sys, {{"p", inner}, {"z", sys.spawn(prefixer, std::string("z"))}},
                       {{{"self", inbox}, {"p", inbox}},
                        {{"self", control}, {"p", control}},
                        {{"p", outbox}, {"z", inbox}},
                        {{"p", signal}, {"z", control}},
                        {{"z", outbox}, {"self", outbox}}})};
      auto f = feed(sys, h.subject());
      CHECK(target_of(sys, f, outbox) == std::make_pair(a, inbox));
      CHECK(target_of(sys, f, ctrlout) == std::make_pair(a, control));
      send_bytes(f, "x");
      CHECK(h.read_text(outbox, 3) == "zbx");
      send_ctl(f, producer_finished{});
      CHECK(h.read_text(outbox, 12) == "zb<finished>");
      CHECK(h.next_as<producer_finished>(signal));
      CHECK(h.wait_for_exit());
      caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
    }
  }

  TEST_CASE("a graphline told shutdown_microprocess past its resolved control says so") {
    test_system ts;
    auto& sys = *ts;
    // The child's signal leads nowhere: only the graphline's watch copy
    // tells it what it was told.
    auto a = sys.spawn(control_probe, std::string("a"));
    harness h{sys, graphline(sys, {{"a", a}},
                             {{{"self", inbox}, {"a", inbox}},
                              {{"self", control}, {"a", control}},
                              {{"a", outbox}, {"self", outbox}}})};
    auto f = feed(sys, h.subject());
    REQUIRE(target_of(sys, f, ctrlout) == std::make_pair(a, control));
    send_bytes(f, "hi");
    CHECK(h.read_text(outbox, 2) == "hi");
    SUBCASE("sent with send_on") {
      send_ctl(f, shutdown_microprocess{});
    }
    SUBCASE("sent with send_message_on") {
      caf::anon_send(f, feedmsg_atom::value, caf::make_message(shutdown_microprocess{}));
    }
    CHECK(h.read_text(outbox, 5) == "ctl:a");
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.wait_for_exit());
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("fan-out and shared boxes do not resolve") {
    test_system ts;
    auto& sys = *ts;
    auto pa = [&] { return sys.spawn(prefixer, std::string("a")); };
    auto pb = [&] { return sys.spawn(prefixer, std::string("b")); };
    caf::actor g;
    SUBCASE("self.inbox to two children") {
      g = graphline(sys, {{"a", pa()}, {"b", pb()}},
                    {{{"self", inbox}, {"a", inbox}},
                     {{"self", inbox}, {"b", inbox}},
                     {{"self", control}, {"a", control}},
                     {{"a", signal}, {"b", control}},
                     {{"a", outbox}, {"self", outbox}},
                     {{"b", outbox}, {"self", outbox}}});
    }
    SUBCASE("control fans out to two children") {
      g = graphline(sys, {{"a", pa()}, {"b", pb()}},
                    {{{"self", inbox}, {"a", inbox}},
                     {{"a", outbox}, {"self", outbox}},
                     {{"b", outbox}, {"self", outbox}}});
    }
    SUBCASE("inbox and control to different children") {
      g = graphline(sys, {{"a", pa()}, {"b", pb()}},
                    {{{"self", inbox}, {"a", inbox}},
                     {{"self", control}, {"b", control}},
                     {{"a", signal}, {"b", inbox}},
                     {{"a", outbox}, {"self", outbox}}});
    }
    SUBCASE("a child box that feeds self.outbox and a sibling") {
      g = graphline(sys, {{"a", pa()}, {"b", pb()}},
                    {{{"self", inbox}, {"a", inbox}},
                     {{"self", control}, {"a", control}},
                     {{"a", outbox}, {"self", outbox}},
                     {{"a", outbox}, {"b", inbox}},
                     {{"a", signal}, {"b", control}}});
    }
    SUBCASE("self.inbox to a child's other inbox") {
      g = graphline(sys, {{"a", pa()}},
                    {{{"self", inbox}, {"a", caf::atom("other")}},
                     {{"self", control}, {"a", control}},
                     {{"a", outbox}, {"self", outbox}}});
    }
    auto f = feed(sys, g);
    CHECK(target_of(sys, f, outbox) == std::make_pair(g, inbox));
    CHECK(target_of(sys, f, ctrlout) == std::make_pair(g, control));
    caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("a fan-out graphline still delivers through itself") {
    test_system ts;
    auto& sys = *ts;
    harness h{sys, graphline(sys,
                             {{"a", sys.spawn(prefixer, std::string("a"))},
                              {"b", sys.spawn(prefixer, std::string("b"))}},
                             {{{"self", inbox}, {"a", inbox}},
                              {{"self", inbox}, {"b", inbox}},
                              {{"a", outbox}, {"self", outbox}},
                              {{"b", outbox}, {"self", outbox}}})};
    auto f = feed(sys, h.subject());
    send_bytes(f, "x");
    auto one = h.read_text(outbox, 2);
    auto two = h.read_text(outbox, 2);
    CHECK(((one == "ax" && two == "bx") || (one == "bx" && two == "ax")));
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("seq and carousel do not resolve") {
    test_system ts;
    auto& sys = *ts;
    caf::actor c;
    SUBCASE("seq") {
      c = chassis::seq(sys, {[](component* self) { return prefixer(self, "s"); }});
    }
    SUBCASE("carousel") {
      c = chassis::carousel(
        sys, [](component* self, const caf::message&) { return prefixer(self, "c"); },
        caf::make_message());
    }
    harness h{sys, c};
    auto f = feed(sys, c);
    CHECK(target_of(sys, f, outbox) == std::make_pair(c, inbox));
    CHECK(target_of(sys, f, ctrlout) == std::make_pair(c, control));
    send_bytes(f, "x");
    CHECK(h.read_text(outbox, 2).size() == 2);
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("a resolved link follows unlink and relink requests") {
    test_system ts;
    auto& sys = *ts;
    auto a = sys.spawn(prefixer, std::string("a"));
    harness h{sys, pipeline(sys, a)};
    auto f = feed(sys, h.subject());
    send_bytes(f, "1");
    CHECK(h.read_text(outbox, 2) == "a1");
    // Unlink names the link as requested (the pipeline), not as resolved.
    caf::anon_send(f, unlink_atom::value, outbox, h.subject(), inbox);
    send_bytes(f, "2");
    CHECK(h.silent(outbox));
    link(f, outbox, h.subject(), inbox);
    send_bytes(f, "3");
    CHECK(h.read_text(outbox, 2) == "a3");
    unlink(f, outbox);
    send_bytes(f, "4");
    CHECK(h.silent(outbox));
    CHECK(target_of(sys, f, ctrlout) == std::make_pair(a, control));
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("a failing child fails the composite and the source linked to it") {
    test_system ts;
    auto& sys = *ts;
    auto base = sys.registry().running();
    {
      auto q = sys.spawn(quitter);
      auto p = pipeline(sys, q, sys.spawn(prefixer, std::string("b")));
      auto f = feed(sys, p);
      caf::anon_send(f, attach_atom::value, p);
      REQUIRE(target_of(sys, f, outbox).first == q); // after the attach
      caf::scoped_actor self{sys};
      self->monitor(f);
      self->monitor(p);
      send_bytes(f, "fail");
      int failed = 0;
      for (int i = 0; i < 2; ++i)
        self->receive([&](caf::down_msg& d) { failed += d.reason ? 1 : 0; },
                      caf::after(2s) >> [] {});
      CHECK(failed == 2);
    }
    CHECK(running_becomes(sys, base));
  }
}
