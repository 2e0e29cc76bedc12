#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/boxes.hpp"

namespace kam::chassis {

/// One end of a graphline link: a child's name (or "self", the graphline's
/// own boxes) and a box name.
struct endpoint {
  std::string child;
  runtime::box box;
};

/// `from` (an outbox, or one of self's inboxes) -> `to` (an inbox, or one of
/// self's outboxes), as in Kamaelia's linkage table.
struct graph_link {
  endpoint from;
  endpoint to;
};

/// A graphline child: its name in the link table and the spawned actor.
struct named_child {
  std::string name;
  caf::actor actor;
};

/// Kamaelia's Graphline: spawns a composite component that owns `children`
/// (already spawned, not yet linked) and wires them by `links`.
///
/// - child -> child: the source child's link, made at start.
/// - ("self", inbox) -> child: messages on the graphline's inbox go to the
///   child (passthrough in); ("self", x) -> ("self", y) forwards.
/// - child -> ("self", outbox): links requested on the graphline's outbox
///   (e.g. by the chassis) are made on the child, straight to the
///   destination: no extra hop per message.
/// - `control`: every child whose `control` is not the target of a link gets
///   what arrives on the graphline's `control` (plus explicit
///   ("self", control) links), so a disconnect reaches all of them.
/// - `signal` belongs to the graphline: when every child has ended it sends
///   `shutdown_microprocess` if it was told to (or a child linked to
///   ("self", signal) said so), else `producer_finished`, then ends. A child
///   linked to ("self", signal) thus cannot close the connection while its
///   siblings still write.
/// - Lifetime: children are CAF-linked to the graphline; one failing fails
///   it (and the connection), killing it kills them.
///
/// Throws std::invalid_argument for an unknown or duplicate name, a child
/// named "self", an invalid actor, or no children. Thread safe.
caf::actor graphline(caf::actor_system& sys, std::vector<named_child> children,
                     std::vector<graph_link> links);

} // namespace kam::chassis
