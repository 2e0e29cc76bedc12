#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

namespace kam::protocols::lines {

/// The message between the line components: the complete lines from one
/// read, in order, without terminators. One message per read, not per
/// line, so a busy connection costs one hop per batch.
using line_batch = std::vector<std::string>;

/// The same lines as one contiguous block: what block_framer() sends and the
/// coalescing joiner appends with one copy. No allocation per line, and the
/// line count travels with it (a receiver need not scan the text).
struct line_block {
  /// Whole lines, each followed by "\n" (a "\r\n" terminator is sent as "\n").
  std::vector<char> text;
  /// How many lines `text` holds.
  uint32_t lines = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, line_block& x) {
  return f(caf::meta::type_name("line_block"), x.text, x.lines);
}

/// Registers the line components' message types (line_block) with `cfg`, so
/// they serialize by name: needed where a line_block crosses nodes (chat
/// over a federated backplane). Call before creating the actor system.
void add_message_types(caf::actor_system_config& cfg);

} // namespace kam::protocols::lines
