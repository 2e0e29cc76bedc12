#pragma once

#include <vector>

#include <caf/fwd.hpp>

#include "chassis/graphline.hpp"

namespace kam::chassis::detail {

/// Spawns the composite behind graphline() and pipeline(). With
/// `own_signal`, ("self", signal) is the composite's own report when every
/// child ended (graphline); without, links to it pass out (pipeline).
/// Validates first; throws std::invalid_argument. Thread safe.
caf::actor spawn_graph(caf::actor_system& sys, std::vector<named_child> children,
                       std::vector<graph_link> links, bool own_signal);

} // namespace kam::chassis::detail
