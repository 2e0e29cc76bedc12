// libFuzzer target for protocols/lines/parser: the input is split into
// chunks at fuzzer-chosen points, and the framed lines must not depend on
// the split (checked against a one-shot parse), never exceed the limit, and
// never contain a terminator.
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
  bool failed = false;
};

outcome run(std::string_view data, size_t max, const uint8_t* splits, size_t nsplits) {
  parser p{max};
  outcome o;
  size_t pos = 0;
  size_t i = 0;
  while (pos < data.size() && !o.failed) {
    size_t len = nsplits == 0 ? data.size() : 1 + splits[i++ % nsplits] % 64;
    len = std::min(len, data.size() - pos);
    auto r = p.feed(data.substr(pos, len), o.lines);
    if (r.consumed > len)
      std::abort();
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
  for (auto& l : split.lines)
    if (l.size() > max || l.find('\n') != std::string::npos)
      std::abort();
  return 0;
}
