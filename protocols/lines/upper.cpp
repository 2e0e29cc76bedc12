#include "protocols/lines/upper.hpp"

#include <caf/all.hpp>

namespace kam::protocols::lines {

using namespace runtime;

caf::behavior upper(component* self) {
  return {
    [self](inbox_atom, line_batch& batch) {
      for (auto& line : batch)
        for (auto& c : line)
          if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
      self->send_on(outbox, std::move(batch));
    },
  };
}

} // namespace kam::protocols::lines
