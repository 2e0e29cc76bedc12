#include "protocols/lines/framer.hpp"

#include <memory>

#include <caf/all.hpp>

#include "protocols/lines/parser.hpp"

namespace kam::protocols::lines {

using namespace runtime;

namespace {

parse_result feed_into(parser& p, std::string_view data, line_batch& out) {
  return p.feed(data, out);
}

parse_result feed_into(parser& p, std::string_view data, line_block& out) {
  auto res = p.feed_block(data, out.text);
  out.lines += static_cast<uint32_t>(res.lines);
  return res;
}

bool empty(const line_batch& out) {
  return out.empty();
}

bool empty(const line_block& out) {
  return out.lines == 0;
}

void add_last(std::string last, line_batch& out) {
  out.push_back(std::move(last));
}

void add_last(const std::string& last, line_block& out) {
  out.text.insert(out.text.end(), last.begin(), last.end());
  out.text.push_back('\n');
  ++out.lines;
}

/// The framer, sending `Out` (a line_batch or a line_block) per read.
template <class Out>
caf::behavior framer_of(component* self, size_t max_line,
                        std::shared_ptr<sharded_counter> over_long) {
  auto p = std::make_shared<parser>(max_line);
  auto end_of_input = [self, p] {
    if (auto last = p->finish()) {
      Out out;
      add_last(std::move(*last), out);
      self->send_on(outbox, std::move(out));
    }
    self->finish(producer_finished{});
  };
  return {
    [self, p, over_long](inbox_atom, const bytes& data) {
      Out out;
      auto res = feed_into(*p, as_text(data), out);
      if (!empty(out))
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

} // namespace

caf::behavior framer(component* self, size_t max_line) {
  return framer_of<line_batch>(self, max_line, nullptr);
}

caf::behavior counting_framer(component* self, size_t max_line,
                              std::shared_ptr<sharded_counter> over_long) {
  return framer_of<line_batch>(self, max_line, std::move(over_long));
}

caf::behavior block_framer(component* self, size_t max_line,
                           std::shared_ptr<sharded_counter> over_long) {
  return framer_of<line_block>(self, max_line, std::move(over_long));
}

} // namespace kam::protocols::lines
