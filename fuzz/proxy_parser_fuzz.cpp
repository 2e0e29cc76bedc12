// libFuzzer target for runtime/io/proxy/parser: whatever the bytes, the
// parser never reads past them, a header is at most 107 bytes (v1) or 16 +
// the limit (v2), the verdict on the whole input equals the verdict reached
// by feeding growing prefixes (incremental == one shot), and a header found
// parses again on its own to the same addresses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/io/proxy/parser.hpp"

using kam::runtime::io::proxy::parse_status;
using kam::runtime::io::proxy::parser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  constexpr size_t limit = 512;
  parser whole{limit};
  auto r = whole.feed(in);
  if (r.status == parse_status::done) {
    if (r.consumed == 0 || r.consumed > in.size())
      std::abort();
    auto v = whole.result().version;
    if (v == 1 && r.consumed > parser::v1_max)
      std::abort();
    if (v == 2 && r.consumed > parser::v2_fixed + limit)
      std::abort();
    parser again{limit};
    auto r2 = again.feed(in.substr(0, r.consumed));
    if (r2.status != parse_status::done || r2.consumed != r.consumed ||
        again.result().src_address != whole.result().src_address ||
        again.result().src_port != whole.result().src_port ||
        again.result().local != whole.result().local)
      std::abort();
  }
  // Incremental: the first prefix with a verdict decides, and it is the
  // whole input's verdict.
  parser inc{limit};
  for (size_t n = 0; n <= in.size(); ++n) {
    auto p = inc.feed(in.substr(0, n));
    if (p.status == parse_status::need_more)
      continue;
    if (p.status != r.status || p.error != r.error || p.consumed != r.consumed)
      std::abort();
    return 0;
  }
  if (r.status != parse_status::need_more)
    std::abort();
  return 0;
}
