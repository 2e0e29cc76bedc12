#include "runtime/ipc.hpp"

#include <caf/actor_system_config.hpp>

#include "runtime/bytes.hpp"
#include "runtime/introspect.hpp"

namespace kam::runtime {

const char* to_string(shutdown_reason x) {
  switch (x) {
  case shutdown_reason::peer_closed:
    return "peer_closed";
  case shutdown_reason::reset:
    return "reset";
  case shutdown_reason::error:
    return "error";
  case shutdown_reason::timeout:
    return "timeout";
  case shutdown_reason::server_shutdown:
    return "server_shutdown";
  case shutdown_reason::closed:
    return "closed";
  case shutdown_reason::slow_consumer:
    return "slow_consumer";
  }
  return "unknown";
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<producer_finished>("kam::producer_finished");
  cfg.add_message_type<shutdown_microprocess>("kam::shutdown_microprocess");
  cfg.add_message_type<socket_shutdown>("kam::socket_shutdown");
  cfg.add_message_type<server_shutdown>("kam::server_shutdown");
  cfg.add_message_type<pause_producing>("kam::pause_producing");
  cfg.add_message_type<resume_producing>("kam::resume_producing");
  cfg.add_message_type<set_read_deadline>("kam::set_read_deadline");
  cfg.add_message_type<connection_info>("kam::connection_info");
  cfg.add_message_type<new_csa>("kam::new_csa");
  cfg.add_message_type<shutdown_csa>("kam::shutdown_csa");
  cfg.add_message_type<message_batch>("kam::message_batch");
  cfg.add_message_type<shutdown_reason>("kam::shutdown_reason");
  cfg.add_message_type<box_link>("kam::box_link");
  cfg.add_message_type<component_report>("kam::component_report");
  cfg.add_message_type<connection_entry>("kam::connection_entry");
  cfg.add_message_type<std::vector<connection_entry>>("kam::connection_entries");
}

} // namespace kam::runtime
