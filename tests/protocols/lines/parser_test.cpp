// The line framer, alone: a case table, every split point, a one-byte drip.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/lines/parser.hpp"

using namespace kam::protocols::lines;

namespace {

struct outcome {
  std::vector<std::string> lines;
  std::string rest; // what finish() returns ("" if nothing)
  bool failed = false;
};

/// Feeds `input` in pieces of the given sizes (the rest in one piece).
outcome run(const std::string& input, size_t max, const std::vector<size_t>& cuts) {
  parser p{max};
  outcome o;
  size_t pos = 0;
  auto feed = [&](std::string_view piece) {
    auto res = p.feed(piece, o.lines);
    if (res.status == parse_status::error) {
      CHECK(res.error == parse_error::line_too_long);
      o.failed = true;
    } else {
      CHECK(res.consumed == piece.size());
    }
  };
  for (auto n : cuts) {
    if (o.failed || pos >= input.size())
      break;
    feed(std::string_view(input).substr(pos, n));
    pos += n;
  }
  if (!o.failed && pos < input.size())
    feed(std::string_view(input).substr(pos));
  if (!o.failed)
    if (auto last = p.finish())
      o.rest = *last;
  return o;
}

struct case_row {
  const char* name;
  std::string input;
  size_t max;
  std::vector<std::string> lines;
  std::string rest;
  bool failed;
};

const std::vector<case_row>& cases() {
  static const std::vector<case_row> table{
    {"empty input", "", 8, {}, "", false},
    {"one line", "abc\n", 8, {"abc"}, "", false},
    {"crlf", "abc\r\n", 8, {"abc"}, "", false},
    {"empty lines", "\n\r\n\n", 8, {"", "", ""}, "", false},
    {"several lines", "a\nbb\r\nccc\n", 8, {"a", "bb", "ccc"}, "", false},
    {"unterminated rest", "a\nbc", 8, {"a"}, "bc", false},
    {"lone cr inside a line", "a\rb\n", 8, {"a\rb"}, "", false},
    {"cr at the end stays in the rest", "ab\r", 8, {}, "ab\r", false},
    {"exactly the limit", "abcd\n", 4, {"abcd"}, "", false},
    {"exactly the limit with crlf", "abcd\r\n", 4, {"abcd"}, "", false},
    {"one over the limit", "abcde\n", 4, {}, "", true},
    {"over the limit, open", "abcdef", 4, {}, "", true},
    {"cr then more over the limit", "abcd\rx\n", 4, {}, "", true},
    {"lines before the long one are kept", "ok\ntoolong\n", 4, {"ok"}, "", true},
    {"zero limit allows empty lines", "\n\r\n", 0, {"", ""}, "", false},
    {"zero limit rejects a byte", "x\n", 0, {}, "", true},
    {"binary bytes", std::string("a\0b\n", 4), 8, {std::string("a\0b", 3)}, "", false},
  };
  return table;
}

void check(const case_row& c, const outcome& o) {
  CHECK(o.failed == c.failed);
  CHECK(o.lines == c.lines);
  CHECK(o.rest == c.rest);
}

} // namespace

TEST_SUITE("protocols.lines.parser") {

  TEST_CASE("the case table, in one piece") {
    for (auto& c : cases()) {
      INFO(c.name);
      check(c, run(c.input, c.max, {}));
    }
  }

  TEST_CASE("the case table, split at every point") {
    for (auto& c : cases())
      for (size_t i = 0; i <= c.input.size(); ++i) {
        INFO(c.name << ", split at " << i);
        check(c, run(c.input, c.max, {i}));
      }
  }

  TEST_CASE("the case table, one byte at a time") {
    for (auto& c : cases()) {
      INFO(c.name);
      check(c, run(c.input, c.max, std::vector<size_t>(c.input.size(), 1)));
    }
  }

  TEST_CASE("a long run of lines, dripped one byte at a time") {
    std::string input;
    std::vector<std::string> expected;
    for (int i = 0; i < 500; ++i) {
      expected.push_back("line " + std::to_string(i));
      input += expected.back() + (i % 2 ? "\r\n" : "\n");
    }
    auto o = run(input, 16, std::vector<size_t>(input.size(), 1));
    CHECK_FALSE(o.failed);
    CHECK(o.lines == expected);
  }

  TEST_CASE("status: need more, then lines") {
    parser p{8};
    std::vector<std::string> out;
    auto r1 = p.feed("ab", out);
    CHECK(r1.status == parse_status::need_more);
    CHECK(r1.consumed == 2);
    CHECK(p.buffered() == 2);
    auto r2 = p.feed("c\nd", out);
    CHECK(r2.status == parse_status::lines);
    CHECK(r2.consumed == 3);
    CHECK(out == std::vector<std::string>{"abc"});
    CHECK(p.buffered() == 1);
  }

  TEST_CASE("an over-long line is an error until reset") {
    parser p{4};
    std::vector<std::string> out;
    auto r = p.feed("ok\nabcdefgh\nzz\n", out);
    CHECK(r.status == parse_status::error);
    CHECK(r.error == parse_error::line_too_long);
    CHECK(r.consumed == 12); // up to the end of the offending line
    CHECK(out == std::vector<std::string>{"ok"});
    CHECK(p.feed("fine\n", out).status == parse_status::error);
    CHECK(p.error() == parse_error::line_too_long);
    CHECK(std::string(to_string(p.error())) == "line_too_long");
    p.reset();
    out.clear();
    CHECK(p.feed("fine\n", out).status == parse_status::lines);
    CHECK(out == std::vector<std::string>{"fine"});
  }

  TEST_CASE("an open line is rejected as soon as it passes the limit") {
    parser p{4};
    std::vector<std::string> out;
    CHECK(p.feed("abcd", out).status == parse_status::need_more);
    CHECK(p.feed("\r", out).status == parse_status::need_more); // "\r\n" may follow
    CHECK(p.feed("x", out).status == parse_status::error);
  }

} // TEST_SUITE
