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

/// How the lines come out: feed() (a string per line) or feed_block() (one
/// block of "\n"-terminated lines, split back into lines here).
enum class mode { lines, block };

/// feed_block(), checked against its contract and returned as lines.
parse_result feed_block(parser& p, std::string_view piece, std::vector<std::string>& out) {
  std::vector<char> block{'x'}; // what was there before stays
  auto res = p.feed_block(piece, block);
  REQUIRE(!block.empty());
  CHECK(block[0] == 'x');
  std::string text(block.begin() + 1, block.end());
  CHECK((text.empty() || text.back() == '\n'));
  size_t n = 0;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1, ++n)
    out.push_back(text.substr(at, nl - at));
  CHECK(n == res.lines);
  return res;
}

/// Feeds `input` in pieces of the given sizes (the rest in one piece).
outcome run(const std::string& input, size_t max, const std::vector<size_t>& cuts,
            mode m = mode::lines) {
  parser p{max};
  outcome o;
  size_t pos = 0;
  auto feed = [&](std::string_view piece) {
    auto before = o.lines.size();
    auto res = m == mode::block ? feed_block(p, piece, o.lines) : p.feed(piece, o.lines);
    CHECK(res.lines == o.lines.size() - before);
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

  TEST_CASE("the case table, in one piece (lines and block)") {
    for (auto m : {mode::lines, mode::block})
      for (auto& c : cases()) {
        INFO(c.name << (m == mode::block ? ", block" : ""));
        check(c, run(c.input, c.max, {}, m));
      }
  }

  TEST_CASE("the case table, split at every point (lines and block)") {
    for (auto m : {mode::lines, mode::block})
      for (auto& c : cases())
        for (size_t i = 0; i <= c.input.size(); ++i) {
          INFO(c.name << ", split at " << i << (m == mode::block ? ", block" : ""));
          check(c, run(c.input, c.max, {i}, m));
        }
  }

  TEST_CASE("the case table, one byte at a time (lines and block)") {
    for (auto m : {mode::lines, mode::block})
      for (auto& c : cases()) {
        INFO(c.name << (m == mode::block ? ", block" : ""));
        check(c, run(c.input, c.max, std::vector<size_t>(c.input.size(), 1), m));
      }
  }

  TEST_CASE("a long run of lines, dripped one byte at a time") {
    std::string input;
    std::vector<std::string> expected;
    for (int i = 0; i < 500; ++i) {
      expected.push_back("line " + std::to_string(i));
      input += expected.back() + (i % 2 ? "\r\n" : "\n");
    }
    for (auto m : {mode::lines, mode::block}) {
      auto o = run(input, 16, std::vector<size_t>(input.size(), 1), m);
      CHECK_FALSE(o.failed);
      CHECK(o.lines == expected);
      // And in pieces of 7 bytes: lines start and end mid-piece.
      o = run(input, 16, std::vector<size_t>(input.size() / 7 + 1, 7), m);
      CHECK_FALSE(o.failed);
      CHECK(o.lines == expected);
    }
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

  TEST_CASE("feed_block: an over-long line keeps the lines before it and consumes up to "
            "its end; a \\r\\n split across feeds ends a line once") {
    parser p{4};
    std::vector<char> out;
    auto r = p.feed_block("ok\r\nabcdefgh\nzz\n", out);
    CHECK(r.status == parse_status::error);
    CHECK(r.consumed == 13);
    CHECK(r.lines == 1);
    CHECK(std::string(out.begin(), out.end()) == "ok\n");
    parser q{8};
    out.clear();
    CHECK(q.feed_block("ab\r", out).status == parse_status::need_more);
    CHECK(out.empty());
    CHECK(q.feed_block("\ncd\n", out).lines == 2);
    CHECK(std::string(out.begin(), out.end()) == "ab\ncd\n");
  }

  TEST_CASE("an open line is rejected as soon as it passes the limit") {
    parser p{4};
    std::vector<std::string> out;
    CHECK(p.feed("abcd", out).status == parse_status::need_more);
    CHECK(p.feed("\r", out).status == parse_status::need_more); // "\r\n" may follow
    CHECK(p.feed("x", out).status == parse_status::error);
  }

} // TEST_SUITE
