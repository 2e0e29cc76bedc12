#include "protocols/lines/framer.hpp"

#include <memory>

#include <caf/all.hpp>

#include "protocols/lines/parser.hpp"

namespace kam::protocols::lines {

using namespace runtime;

caf::behavior framer(component* self, size_t max_line) {
  return counting_framer(self, max_line, nullptr);
}

caf::behavior counting_framer(component* self, size_t max_line,
                              std::shared_ptr<sharded_counter> over_long) {
  auto p = std::make_shared<parser>(max_line);
  auto end_of_input = [self, p] {
    if (auto last = p->finish())
      self->send_on(outbox, line_batch{std::move(*last)});
    self->finish(producer_finished{});
  };
  return {
    [self, p, over_long](inbox_atom, const bytes& data) {
      line_batch out;
      auto res = p->feed(as_text(data), out);
      if (!out.empty())
        self->send_on(outbox, std::move(out));
      if (res.status == parse_status::error) {
        if (over_long)
          over_long->add(this_thread_shard());
        self->finish(producer_finished{});
      }
    },
    [end_of_input](control_atom, producer_finished) { end_of_input(); },
    [end_of_input](control_atom, socket_shutdown) { end_of_input(); },
    [self](control_atom, shutdown_microprocess msg) { self->finish(msg); },
  };
}

} // namespace kam::protocols::lines
