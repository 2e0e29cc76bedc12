#pragma once

#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace kam::chassis {

/// Kamaelia's Pipeline: spawns a composite component that owns `children`
/// (already spawned, not yet linked) and chains them.
///
/// Each child's `outbox` -> the next child's `inbox`, `signal` -> the next
/// child's `control`. The pipeline's `inbox` and `control` pass through to
/// the first child; the last child's `outbox` and `signal` pass out: a link
/// requested on the pipeline's `outbox`/`signal` (by the chassis, say) is
/// made on the last child itself, straight to the destination, so output
/// costs no extra hop. A link requested on `serversig` is made on every
/// child: any stage may stop the server. (Links on other outboxes are kept
/// but nothing feeds them.)
///
/// The pipeline ends when every child has ended. Children are CAF-linked to
/// it: a child that fails makes the pipeline fail (behind the chassis, the
/// connection closes); killing the pipeline kills every child.
///
/// Like any component, a child must not send before its links can be in
/// place: what a child sends from its behavior function's body, before it
/// handled its first message, may be discarded.
/// Throws std::invalid_argument for no children or an invalid actor.
/// Thread safe.
caf::actor pipeline(caf::actor_system& sys, std::vector<caf::actor> children);

/// pipeline(sys, {first, rest...}).
template <class... Ts>
caf::actor pipeline(caf::actor_system& sys, caf::actor first, Ts... rest) {
  return pipeline(sys, std::vector<caf::actor>{std::move(first), std::move(rest)...});
}

} // namespace kam::chassis
