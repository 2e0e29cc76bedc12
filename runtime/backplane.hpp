#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "runtime/boxes.hpp"

namespace kam::runtime {

/// `(bp_sub_atom, subscriber, skip_origin)`: to a backplane, add a subscriber.
using bp_sub_atom = caf::atom_constant<caf::atom("kam_bpsub")>;
/// `(bp_pub_atom, origin, payload)`: to a backplane, fan `payload` out.
using bp_pub_atom = caf::atom_constant<caf::atom("kam_bppub")>;
/// `(bp_msg_atom, payload)`: from a backplane to one subscriber.
using bp_msg_atom = caf::atom_constant<caf::atom("kam_bpmsg")>;
/// `(bp_count_atom)` -> `size_t`: a backplane's live subscribers (tests,
/// introspection); asked of the registered hub, it counts every thread's
/// (as their hubs last reported).
using bp_count_atom = caf::atom_constant<caf::atom("kam_bpcnt")>;
/// `(bp_fwd_atom, origin, payload)`: a thread's hub to the root, once per
/// publication on that thread.
using bp_fwd_atom = caf::atom_constant<caf::atom("kam_bpfwd")>;
/// `(bp_down_atom, origin, payload)`: the root to a thread's hub (deliver
/// there only).
using bp_down_atom = caf::atom_constant<caf::atom("kam_bpdown")>;
/// `(bp_relay_atom, hub)`: a thread's hub attaches to the root;
/// `(bp_relay_atom, n)`: it reports its live subscribers.
using bp_relay_atom = caf::atom_constant<caf::atom("kam_bprly")>;
/// `(bp_node_atom, node)`: to a registered backplane, federate it through
/// `node` (runtime/node.hpp's federate()); the root then sends the node
/// `(bp_node_atom, name_atom, root)` to be told what peers publish.
using bp_node_atom = caf::atom_constant<caf::atom("kam_bpnode")>;
/// `(bp_out_atom, name_atom, payload)`: a federated root to its node, once per
/// publication made on this node.
using bp_out_atom = caf::atom_constant<caf::atom("kam_bpout")>;
/// `(bp_remote_atom, payload)`: a node to its federated root: published on a
/// peer node; delivered on this node only, never sent on again.
using bp_remote_atom = caf::atom_constant<caf::atom("kam_bprem")>;

/// The origin of what a peer node published: no local publisher has it, so
/// no subscriber skips it.
constexpr caf::actor_id bp_remote_origin = ~caf::actor_id{0};

/// How a backplane bounds what it holds for other threads.
struct backplane_options {
  /// Publications the root may have relayed to one I/O thread's hub that
  /// the hub has not handed out yet. Past it, that thread's subscribers miss
  /// what is published elsewhere (at most once, counted by
  /// backplane_relay_dropped()) until it catches up: a thread that stalls
  /// cannot grow the process without bound. Its own clients' publications
  /// still reach them. At least 1.
  size_t relay_limit = 65536;
};

/// Kamaelia's Backplane("name"): spawns a named publish/subscribe hub and
/// registers it on `sys` (in CAF's actor registry, keyed by the name's atom).
///
/// Whatever arrives on the `inbox` of a publish_to(sys, name) component is
/// delivered, as one message, on the `outbox` of every subscribe_to(sys,
/// name) component alive when the hub handles it; messages of one publisher
/// reach each subscriber in the order they were published (every leg is one
/// actor to one actor; CAF keeps per-sender order). The payload is shared by
/// every subscriber (a copy-on-write message), not copied per subscriber.
/// Subscribers are monitored and dropped when they end.
///
/// Fan-out stays on the thread: publishers and subscribers made on an I/O
/// thread (an actor_thread, e.g. a connection's handler) attach to that
/// thread's own hub, which delivers to its subscribers there and relays once
/// through the registered hub to the other threads' hubs (docs/backplane.md).
///
/// The hub ends on `control` (`producer_finished`, `shutdown_microprocess`)
/// or an exit message, and then leaves the registry; publishers and
/// subscribers still attached to it then fail with `sec::runtime_error`.
/// Its owner must end it before the actor system is destroyed.
///
/// Errors (`sec::invalid_argument`, the context a one-line text): a name
/// that is not 1..10 characters of `[A-Za-z0-9_ ]` (a CAF atom), one
/// already registered on `sys`, or a relay_limit of 0. Thread safe.
caf::expected<caf::actor> backplane(caf::actor_system& sys, const std::string& name,
                                    const backplane_options& opts = {});

/// Publications the registered backplane `bp` did not relay to a thread hub
/// that lagged relay_limit behind (0 for null or another actor). Any thread.
uint64_t backplane_relay_dropped(const caf::actor& bp);

/// Kamaelia's PublishTo("name"): spawns a component that sends whatever
/// arrives on its `inbox` to the backplane `name`, tagged with its own actor
/// id as origin. Ends on `control` by the component's default (passing
/// `producer_finished` on `signal`).
///
/// Error (`sec::runtime_error`): no backplane `name` on `sys` (never made,
/// or already ended). Thread safe.
caf::expected<caf::actor> publish_to(caf::actor_system& sys, const std::string& name);

/// Kamaelia's SubscribeTo("name"): spawns a component that sends on its
/// `outbox` everything published on backplane `name` from the moment this
/// call returns, except messages from the publisher whose actor id is
/// `skip_origin` (0: none): a connection's own lines, for chat. The
/// subscription is sent before this call returns, so a message published
/// afterwards (in happens-before order) reaches it. Ends on `control` by the
/// component's default. Same error as publish_to(). Thread safe.
caf::expected<caf::actor> subscribe_to(caf::actor_system& sys, const std::string& name,
                                       caf::actor_id skip_origin = 0);

} // namespace kam::runtime
