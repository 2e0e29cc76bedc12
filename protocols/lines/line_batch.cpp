#include "protocols/lines/line_batch.hpp"

#include <caf/actor_system_config.hpp>

namespace kam::protocols::lines {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<line_block>("kam::line_block");
}

} // namespace kam::protocols::lines
