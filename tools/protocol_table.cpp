#include "tools/protocol_table.hpp"

#include <caf/actor_system.hpp>

#include "protocols/echo/handler.hpp"

namespace kam::tools {

const std::vector<protocol_entry>& protocols() {
  static const std::vector<protocol_entry> table{
    {"echo", "sends every byte back (Kamaelia's EchoProtocol)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return sys.spawn(protocols::echo::handler);
     }},
  };
  return table;
}

const protocol_entry* find_protocol(const std::string& name) {
  for (auto& p : protocols())
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace kam::tools
