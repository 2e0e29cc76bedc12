#pragma once

#include <cstddef>
#include <memory>

#include <caf/behavior.hpp>

#include "protocols/lines/line_batch.hpp"
#include "runtime/component.hpp"
#include "runtime/stats.hpp"

namespace kam::protocols::lines {

/// The framer component: bytes on `inbox` -> a line_batch on `outbox` per
/// read that completed at least one line (lines longer than `max_line`
/// bytes are an error).
///
/// `producer_finished` or `socket_shutdown` on `control`: sends the
/// unterminated last line (if any), then ends with `producer_finished` on
/// `signal`; `shutdown_microprocess`: ends at once, passing it on. On an
/// over-long line it sends the lines before it, then ends with
/// `producer_finished` (downstream finishes; behind the chassis the
/// connection is flushed and closed). Spawn with `sys.spawn(framer, max)`.
caf::behavior framer(runtime::component* self, size_t max_line);

/// framer() that adds 1 to `over_long` (this thread's cell) for each line it
/// rejects as longer than `max_line` (a line dropped, never sent on).
caf::behavior counting_framer(runtime::component* self, size_t max_line,
                              std::shared_ptr<runtime::sharded_counter> over_long);

/// counting_framer() that sends a line_block (one contiguous buffer of the
/// read's complete lines, each followed by "\n", and their count) instead
/// of a line_batch: no allocation per line, and a receiver that wants bytes
/// (a joiner) copies the block at once. `over_long` may be null. For chat's
/// fan-out.
caf::behavior block_framer(runtime::component* self, size_t max_line,
                           std::shared_ptr<runtime::sharded_counter> over_long);

} // namespace kam::protocols::lines
