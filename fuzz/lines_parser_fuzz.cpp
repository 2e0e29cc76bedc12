// libFuzzer target for protocols/lines/parser: the input is split into
// chunks at fuzzer-chosen points, and the framed lines must not depend on
// the split (checked against a one-shot parse), never exceed the limit, and
// never contain a terminator; feed_block() must frame exactly what feed()
// does, chunk for chunk (the same lines, consumed counts and errors).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/lines/parser.hpp"

using kam::protocols::lines::parse_status;
using kam::protocols::lines::parser;

namespace {

struct outcome {
  std::vector<std::string> lines;
  std::vector<size_t> consumed;
  bool failed = false;
};

/// feed_block() as lines: the block must be whole "\n"-terminated lines,
/// as many as it says.
kam::protocols::lines::parse_result feed_block(parser& p, std::string_view piece,
                                               std::vector<std::string>& out) {
  std::vector<char> block;
  auto r = p.feed_block(piece, block);
  if (!block.empty() && block.back() != '\n')
    std::abort();
  size_t n = 0;
  std::string_view text(block.data(), block.size());
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string_view::npos; at = nl + 1) {
    out.emplace_back(text.substr(at, nl - at));
    ++n;
  }
  if (n != r.lines)
    std::abort();
  return r;
}

outcome run(std::string_view data, size_t max, const uint8_t* splits, size_t nsplits,
            bool block = false) {
  parser p{max};
  outcome o;
  size_t pos = 0;
  size_t i = 0;
  while (pos < data.size() && !o.failed) {
    size_t len = nsplits == 0 ? data.size() : 1 + splits[i++ % nsplits] % 64;
    len = std::min(len, data.size() - pos);
    auto r = block ? feed_block(p, data.substr(pos, len), o.lines)
                   : p.feed(data.substr(pos, len), o.lines);
    if (r.consumed > len)
      std::abort();
    o.consumed.push_back(r.consumed);
    if (r.status == parse_status::error)
      o.failed = true;
    pos += len;
  }
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  size_t max = 1 + data[0] % 128;
  size_t nsplits = data[1] % 8;
  if (size < 2 + nsplits)
    return 0;
  const uint8_t* splits = data + 2;
  std::string_view text(reinterpret_cast<const char*>(data + 2 + nsplits),
                        size - 2 - nsplits);
  auto whole = run(text, max, nullptr, 0);
  auto split = run(text, max, splits, nsplits);
  if (whole.failed != split.failed)
    std::abort();
  if (!whole.failed && whole.lines != split.lines)
    std::abort();
  auto block = run(text, max, splits, nsplits, true);
  if (block.failed != split.failed || block.lines != split.lines ||
      block.consumed != split.consumed)
    std::abort();
  for (auto& l : split.lines)
    if (l.size() > max || l.find('\n') != std::string::npos)
      std::abort();
  return 0;
}
