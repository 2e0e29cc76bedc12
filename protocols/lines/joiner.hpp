#pragma once

#include <memory>

#include <caf/behavior.hpp>

#include "protocols/lines/line_batch.hpp"
#include "runtime/component.hpp"
#include "runtime/stats.hpp"

namespace kam::protocols::lines {

/// The line-joiner (serializer): a line_batch on `inbox` -> one bytes
/// message on `outbox`, each line followed by "\n". Ends on `control` by
/// the component's default. Spawn with `sys.spawn(joiner)`.
caf::behavior joiner(runtime::component* self);

/// As joiner(), but coalescing: the batches that arrive in one round of its
/// thread's work go out together as one bytes message (on the first it asks
/// for a flush marker with component::send_self_later(), which comes after
/// the round's socket events and messages). For fan-out (chat), where a
/// connection is fed by many senders: one write per round instead of one
/// per sender's batch. Costs a post and a self-message per flush. A
/// `message_batch` of line batches (a backplane round) with nothing pending
/// is coalesced already and is written at once, in the same turn. Spawn with
/// `sys.spawn(coalescing_joiner)`.
caf::behavior coalescing_joiner(runtime::component* self);

/// A line_block on `inbox` (block_framer()'s) is appended as it is, in the
/// same rounds.
///
/// coalescing_joiner() that adds the number of lines it sends on to
/// `lines` (this thread's cell).
caf::behavior counting_coalescing_joiner(runtime::component* self,
                                         std::shared_ptr<runtime::sharded_counter> lines);

} // namespace kam::protocols::lines
