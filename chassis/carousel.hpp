#pragma once

#include <functional>
#include <optional>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace kam::runtime {
class component;
} // namespace kam::runtime

namespace kam::chassis {

/// Carousel's inbox `next`: `(next, args...)` replaces the child with one
/// made by the factory from `args`.
using next_atom = caf::atom_constant<caf::atom("next")>;

/// Carousel's outbox `reqnext` (Kamaelia's `requestNext`): `producer_finished`
/// when a child ended by itself and no replacement was asked for.
using reqnext_atom = caf::atom_constant<caf::atom("reqnext")>;

/// Makes a carousel child's body from the `next` message's arguments (the
/// message without the box name). Runs as the new child's body, on the child.
using carousel_factory =
  std::function<caf::behavior(runtime::component* self, const caf::message& args)>;

/// Kamaelia's Carousel: one child at a time, replaced on request.
///
/// `(next, args...)`: the current child (if any) gets `producer_finished` on
/// its `control` and stops getting input; input that arrives meanwhile is
/// held (up to 4096 messages) and given, in order, to the new child, which
/// the factory makes from `args` once the old one has ended. `inbox` and
/// `control` reach the current child (control too, unlike Kamaelia's Seq);
/// links requested on the carousel's outboxes (not `signal`) are made on the
/// current child and on every new child before its body runs.
///
/// `producer_finished`, `socket_shutdown` or `shutdown_microprocess` on
/// `control` ends the carousel once its child has ended (`next` is then
/// ignored); it reports `producer_finished` (`shutdown_microprocess` if told
/// so) on `signal`. With `first`, the first child is made from it when the
/// carousel's outbox is first linked or its first input arrives (as seq's
/// first step: so that links requested right after spawn are in place).
/// Children are CAF-linked to the carousel. Thread safe.
caf::actor carousel(caf::actor_system& sys, carousel_factory factory,
                    std::optional<caf::message> first = std::nullopt);

} // namespace kam::chassis
