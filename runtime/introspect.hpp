#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "runtime/boxes.hpp"

/// Kamaelia's Introspector, the messages: a component describes its boxes
/// and links when asked, on its own thread (nothing reads another thread's
/// link table); the chassis lists its connections. See chassis/introspector.hpp.
namespace kam::runtime {

/// `(introspect_atom)` to any component -> `component_report` (answered by
/// component's default handler, so every component answers; an actor that
/// is no component answers with an error).
using introspect_atom = caf::atom_constant<caf::atom("kam_intro")>;

/// One box-to-box edge: from this component's box `from` to `to` of `dest`.
struct box_link {
  box from;
  caf::actor dest;
  box to;
};

/// What a component says about itself.
struct component_report {
  caf::actor_id id = 0;
  /// The actor's name(), e.g. "kam.csa", "kam.composite", "kam.component".
  std::string name;
  /// Boxes it is known to have: the standard ones, every box its links and
  /// routes name (boxes are not declared in this runtime: a box exists when
  /// something sends to it or links from it).
  std::vector<box> inboxes;
  std::vector<box> outboxes;
  /// Its link table: outbox -> (component, inbox).
  std::vector<box_link> links;
  /// Passthrough routes: its inbox -> (child, child's inbox), or -> its own
  /// outbox (dest empty).
  std::vector<box_link> passthrough;
  /// Components it owns (a composite's children).
  std::vector<caf::actor> children;
};

/// `(connections_atom)` to a chassis shard -> `std::vector<connection_entry>`
/// (its live connections); to the chassis coordinator -> `std::vector<caf::actor>`
/// (its shards still up).
using connections_atom = caf::atom_constant<caf::atom("kam_conns")>;

/// One live connection as a chassis shard knows it.
struct connection_entry {
  uint64_t id = 0; ///< connection_info::id
  std::string peer_address;
  uint16_t peer_port = 0;
  caf::actor csa;
  caf::actor handler; ///< empty once the handler ended (the CSA lingers)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_entry& x) {
  return f(caf::meta::type_name("connection_entry"), x.id, x.peer_address, x.peer_port,
           x.csa, x.handler);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, box_link& x) {
  return f(caf::meta::type_name("box_link"), x.from, x.dest, x.to);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, component_report& x) {
  return f(caf::meta::type_name("component_report"), x.id, x.name, x.inboxes, x.outboxes,
           x.links, x.passthrough, x.children);
}

} // namespace kam::runtime
