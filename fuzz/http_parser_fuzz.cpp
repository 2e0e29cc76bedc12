// libFuzzer target for protocols/http/parser: the input is fed in chunks at
// fuzzer-chosen points, as a reader would (appending, dropping each request
// parsed); the requests must not depend on the split (checked against a
// one-shot feed), nor the error unless one run still waits for more, and no
// view may point outside its buffer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/http/parser.hpp"

using namespace kam::protocols::http;

namespace {

struct outcome {
  std::vector<std::string> requests; // method, target, body, joined
  parse_error error = parse_error::none;
  bool pending = false; // ended inside an unfinished request
};

void check_inside(std::string_view v, std::string_view buf, std::string_view other) {
  if (v.empty())
    return;
  auto in = [&](std::string_view b) {
    return v.data() >= b.data() && v.data() + v.size() <= b.data() + b.size();
  };
  if (!in(buf) && !in(other))
    std::abort();
}

outcome run(std::string_view data, const uint8_t* splits, size_t nsplits) {
  parser_limits limits;
  limits.header_limit = 512;
  limits.body_limit = 256;
  parser p{limits};
  request r;
  outcome o;
  std::string buf;
  size_t pos = 0;
  size_t i = 0;
  while (pos < data.size() && o.error == parse_error::none) {
    size_t len = nsplits == 0 ? data.size() : 1 + splits[i++ % nsplits] % 64;
    len = std::min(len, data.size() - pos);
    buf.append(data.substr(pos, len));
    pos += len;
    for (;;) {
      auto res = p.feed(buf, r);
      if (res.consumed > buf.size())
        std::abort();
      if (res.status == parse_status::error) {
        o.error = res.error;
        break;
      }
      if (res.status == parse_status::request) {
        check_inside(r.method, buf, r.body);
        check_inside(r.target, buf, r.body);
        for (auto& f : r.fields) {
          check_inside(f.name, buf, {});
          check_inside(f.value, buf, {});
        }
        if (r.body.size() > limits.body_limit)
          std::abort();
        o.requests.push_back(std::string{r.method} + ' ' + std::string{r.target} + ' ' +
                             std::string{r.body});
      }
      buf.erase(0, res.consumed);
      if (res.status == parse_status::need_more)
        break;
    }
  }
  o.pending = o.error == parse_error::none && !buf.empty();
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  size_t nsplits = data[0] % 8;
  if (size < 1 + nsplits)
    return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1 + nsplits),
                        size - 1 - nsplits);
  auto whole = run(text, nullptr, 0);
  auto split = run(text, data + 1, nsplits);
  if (whole.requests != split.requests)
    std::abort();
  // Beast looks for the header's end before it parses a header it has seen
  // in pieces, so a split input may still wait (or hit the header limit)
  // where the whole one failed on a bad byte.
  // Likewise a chunk header: fed in pieces, the body limit can be met before
  // Beast has the whole (bad) chunk header to reject; both runs still reject
  // the request.
  auto deferred = [](const outcome& o) {
    return o.pending || o.error == parse_error::header_too_large ||
           o.error == parse_error::body_too_large;
  };
  if (whole.error != split.error && !deferred(whole) && !deferred(split))
    std::abort();
  return 0;
}
