// The line components, each on the in-memory harness.
#include <doctest/doctest.h>

#include "protocols/lines/framer.hpp"
#include "protocols/lines/joiner.hpp"
#include "protocols/lines/upper.hpp"
#include "runtime/harness.hpp"
#include "tests/support/test_system.hpp"

using namespace kam;
using namespace kam::runtime;
using namespace kam::protocols::lines;

TEST_SUITE("protocols.lines.components") {

  TEST_CASE("the framer sends one batch per read, and the rest at the end") {
    test::test_system ts;
    harness h{*ts, ts.sys->spawn(framer, size_t{16})};
    h.send_text(inbox, "ab");
    CHECK(h.silent(outbox));
    h.send_text(inbox, "c\nd\r\ne\nf");
    CHECK(h.next_as<line_batch>(outbox) == line_batch{"abc", "d", "e"});
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    CHECK(h.next_as<line_batch>(outbox) == line_batch{"f"});
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("the framer ends on an over-long line") {
    test::test_system ts;
    harness h{*ts, ts.sys->spawn(framer, size_t{3})};
    h.send_text(inbox, "ok\ntoo long\n");
    CHECK(h.next_as<line_batch>(outbox) == line_batch{"ok"});
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
  }

  TEST_CASE("the framer stops at once on shutdown_microprocess") {
    test::test_system ts;
    harness h{*ts, ts.sys->spawn(framer, size_t{16})};
    h.send_text(inbox, "partial");
    h.send(control, shutdown_microprocess{});
    CHECK(h.next_as<shutdown_microprocess>(signal));
    CHECK(h.silent(outbox));
  }

  TEST_CASE("upper changes ASCII letters only") {
    test::test_system ts;
    harness h{*ts, ts.sys->spawn(upper)};
    h.send(inbox, line_batch{"abc xyz", "MiXeD 123", "\xc3\xa9"});
    CHECK(h.next_as<line_batch>(outbox) ==
          line_batch{"ABC XYZ", "MIXED 123", "\xc3\xa9"});
    h.send(control, producer_finished{});
    CHECK(h.next_as<producer_finished>(signal));
  }

  TEST_CASE("the joiner writes each line with a newline, one buffer per batch") {
    test::test_system ts;
    harness h{*ts, ts.sys->spawn(joiner)};
    h.send(inbox, line_batch{"a", "", "bc"});
    auto out = h.next_as<bytes>(outbox);
    REQUIRE(out);
    CHECK(as_text(*out) == "a\n\nbc\n");
  }

  TEST_CASE("the block framer sends one block of \\n-terminated lines per read, the rest "
            "at the end, and counts an over-long line") {
    test::test_system ts;
    auto dropped = std::make_shared<sharded_counter>();
    harness h{*ts, ts.sys->spawn(block_framer, size_t{4}, dropped)};
    h.send_text(inbox, "ab");
    CHECK(h.silent(outbox));
    h.send_text(inbox, "c\nd\r\ne\nf");
    auto block = h.next_as<line_block>(outbox);
    REQUIRE(block);
    CHECK(as_text(block->text) == "abc\nd\ne\n");
    CHECK(block->lines == 3);
    h.send(control, socket_shutdown{shutdown_reason::peer_closed});
    block = h.next_as<line_block>(outbox);
    REQUIRE(block);
    CHECK(as_text(block->text) == "f\n");
    CHECK(block->lines == 1);
    CHECK(h.next_as<producer_finished>(signal));
    CHECK(h.wait_for_exit());
    CHECK(dropped->load() == 0);
    harness g{*ts, ts.sys->spawn(block_framer, size_t{4}, dropped)};
    g.send_text(inbox, "ok\ntoo long\nnever\n");
    block = g.next_as<line_block>(outbox);
    REQUIRE(block);
    CHECK(as_text(block->text) == "ok\n");
    CHECK(block->lines == 1);
    CHECK(g.next_as<producer_finished>(signal));
    CHECK(g.wait_for_exit());
    CHECK(dropped->load() == 1);
  }

  TEST_CASE("the coalescing joiner writes a round of blocks and batches as one buffer, in "
            "order, and counts its lines") {
    test::test_system ts;
    auto lines = std::make_shared<sharded_counter>();
    harness h{*ts, ts.sys->spawn(counting_coalescing_joiner, lines)};
    h.send(inbox, message_batch{{caf::make_message(line_block{{'a', '\n', 'b', '\n'}, 2}),
                                 caf::make_message(line_batch{"c"}),
                                 caf::make_message(line_block{{'d', '\n'}, 1})}});
    auto out = h.next_as<bytes>(outbox);
    REQUIRE(out);
    CHECK(as_text(*out) == "a\nb\nc\nd\n");
    CHECK(lines->load() == 4);
    h.send(inbox, line_block{{'e', '\n'}, 1});
    out = h.next_as<bytes>(outbox);
    REQUIRE(out);
    CHECK(as_text(*out) == "e\n");
    CHECK(lines->load() == 5);
  }

} // TEST_SUITE
