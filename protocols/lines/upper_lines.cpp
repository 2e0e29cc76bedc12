#include "protocols/lines/upper_lines.hpp"

#include <caf/actor_system.hpp>

#include "chassis/pipeline.hpp"
#include "protocols/lines/framer.hpp"
#include "protocols/lines/joiner.hpp"
#include "protocols/lines/upper.hpp"

namespace kam::protocols::lines {

caf::actor upper_lines(caf::actor_system& sys, size_t max_line) {
  return chassis::pipeline(sys, sys.spawn(framer, max_line), sys.spawn(upper),
                           sys.spawn(joiner));
}

} // namespace kam::protocols::lines
