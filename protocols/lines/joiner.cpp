#include "protocols/lines/joiner.hpp"

#include <caf/all.hpp>

namespace kam::protocols::lines {

using namespace runtime;

caf::behavior joiner(component* self) {
  return {
    [self](inbox_atom, const line_batch& batch) {
      size_t n = 0;
      for (auto& line : batch)
        n += line.size() + 1;
      bytes out;
      out.reserve(n);
      for (auto& line : batch) {
        out.insert(out.end(), line.begin(), line.end());
        out.push_back('\n');
      }
      self->send_on(outbox, std::move(out));
    },
  };
}

} // namespace kam::protocols::lines
