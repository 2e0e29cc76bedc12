#pragma once

#include <cstddef>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace kam::protocols::lines {

/// The upper-lines handler, Kamaelia's composition example:
/// `pipeline(framer(max_line), upper, joiner)`. Every line a client sends
/// comes back upper-cased; a line over `max_line` bytes ends the connection
/// after the lines before it. Call where the chassis's factory runs (the
/// pipeline and its children live on the connection's thread).
caf::actor upper_lines(caf::actor_system& sys, size_t max_line = 8192);

} // namespace kam::protocols::lines
