#include "tools/protocol_table.hpp"

#include <caf/actor_system.hpp>

#include "chassis/pipeline.hpp"
#include "protocols/chat/handler.hpp"
#include "protocols/echo/handler.hpp"
#include "protocols/lines/framer.hpp"
#include "protocols/lines/joiner.hpp"
#include "protocols/lines/upper.hpp"

namespace kam::tools {

const std::vector<protocol_entry>& protocols() {
  static const std::vector<protocol_entry> table{
    {"echo", "sends every byte back (Kamaelia's EchoProtocol)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return sys.spawn(protocols::echo::handler);
     }},
    {"upper-lines",
     "sends every line back in upper case: pipeline(framer, upper, joiner)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       using namespace protocols::lines;
       return chassis::pipeline(sys, sys.spawn(framer, size_t{8192}), sys.spawn(upper),
                                sys.spawn(joiner));
     }},
    {"echo-pipeline", "echo through pipeline(echo, echo, echo): what composition costs",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       using protocols::echo::handler;
       return chassis::pipeline(sys, sys.spawn(handler), sys.spawn(handler),
                                sys.spawn(handler));
     }},
    {"chat",
     "each line to every other client: graphline(framer -> publish_to, subscribe_to -> "
     "joiner) on the backplane CHAT (kam-serve makes it; --max-line)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return protocols::chat::handler(sys, protocols::chat::chat_options{});
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
