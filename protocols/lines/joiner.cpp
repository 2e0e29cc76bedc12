#include "protocols/lines/joiner.hpp"

#include <algorithm>
#include <memory>
#include <utility>

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

namespace {

using flush_atom = caf::atom_constant<caf::atom("kam_flush")>;

size_t size_of(const line_batch& batch) {
  size_t n = 0;
  for (auto& line : batch)
    n += line.size() + 1;
  return n;
}

size_t size_of(const line_block& block) {
  return block.text.size();
}

/// Grows `out` for `n` bytes in all. Geometric: a round may append a batch
/// from every publisher, and an exact reserve each time would copy the whole
/// buffer each time.
void make_room(bytes& out, size_t n) {
  if (n > out.capacity())
    out.reserve(std::max(n, 2 * out.capacity()));
}

/// Appends; returns the number of lines.
size_t append(bytes& out, const line_batch& batch) {
  make_room(out, out.size() + size_of(batch));
  for (auto& line : batch) {
    out.insert(out.end(), line.begin(), line.end());
    out.push_back('\n');
  }
  return batch.size();
}

size_t append(bytes& out, const line_block& block) {
  make_room(out, out.size() + block.text.size());
  out.insert(out.end(), block.text.begin(), block.text.end());
  return block.lines;
}

} // namespace

caf::behavior coalescing_joiner(component* self) {
  return counting_coalescing_joiner(self, nullptr);
}

caf::behavior counting_coalescing_joiner(component* self,
                                         std::shared_ptr<sharded_counter> lines) {
  auto pending = std::make_shared<bytes>();
  // Flushed once this round of the thread's work is done: batches from every
  // publisher of the round leave as one write.
  auto add = [pending, lines](const auto& batch) {
    auto n = append(*pending, batch);
    if (lines)
      lines->add(this_thread_shard(), n);
  };
  auto take = [self, pending, add](const auto& batch) {
    if (pending->empty())
      self->send_self_later(caf::make_message(flush_atom::value));
    add(batch);
  };
  // The backplane's rounds first: CAF tries the cases in order, and they are
  // most of what arrives.
  return {
    [self, pending, add](inbox_atom, const message_batch& b) {
      // A backplane round: every publication's lines at once, coalesced
      // already, so with nothing pending it is written now (no flush round
      // trip through the event loop: one pass less of latency); anything that
      // is not lines goes the component's way, in its place. One reserve for
      // the round, not a regrowth (and copy) every few batches.
      bool now = pending->empty();
      size_t n = pending->size();
      for (auto& x : b.xs) {
        if (x.match_elements<line_block>())
          n += size_of(x.get_as<line_block>(0));
        else if (x.match_elements<line_batch>())
          n += size_of(x.get_as<line_batch>(0));
      }
      make_room(*pending, n);
      for (auto& x : b.xs) {
        if (x.match_elements<line_block>())
          add(x.get_as<line_block>(0));
        else if (x.match_elements<line_batch>())
          add(x.get_as<line_batch>(0));
        else
          self->handle_batch(inbox, message_batch{{x}});
      }
      // Not now: a flush is on its way already (pending was not empty).
      if (now && !pending->empty())
        self->send_on(outbox, std::exchange(*pending, bytes{}));
    },
    [take](inbox_atom, const line_block& block) { take(block); },
    [take](inbox_atom, const line_batch& batch) { take(batch); },
    [self, pending](flush_atom) {
      if (!pending->empty())
        self->send_on(outbox, std::exchange(*pending, bytes{}));
    },
  };
}

} // namespace kam::protocols::lines
